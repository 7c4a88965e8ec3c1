// The root set: every live rt::Root, in one intrusive doubly linked list
// under a runtime lock. Registration and removal are O(1); the collector
// walks the list with the lock held (with the world stopped and the plain
// thread gate closed, so only registrations race with it, and a Root is
// registered null before its first barriered store).
#pragma once

#include <cstddef>

namespace rt::collector {

// Calls f(ptr) for every Root's current target (null ones skipped).
void for_each_root(void (*f)(void* ptr, void* arg), void* arg);
size_t root_count();

}  // namespace rt::collector
