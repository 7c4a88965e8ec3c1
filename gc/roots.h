// The root set: every live rt::Root, in one intrusive doubly linked list
// under a runtime lock. Registration and removal are O(1); the collector
// walks the list with the lock held while the program runs. A Root is
// registered null before its first (barriered) store, and removal shades
// the target while marking, so a Root that comes or goes during the walk
// loses nothing.
#pragma once

#include <cstddef>

namespace rt::collector {

// Calls f(ptr) for every Root's current target (null ones skipped).
void for_each_root(void (*f)(void* ptr, void* arg), void* arg);
size_t root_count();

}  // namespace rt::collector
