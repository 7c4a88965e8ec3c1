// Sweeping: freeing the managed objects that marking left white.
//
// Two halves. find_dead runs with the world stopped, right after marking:
// it walks every in-use span of the heap (the page->span table) and, word
// by word, takes managed & ~marked as dead, adds up the live slot bytes and
// clears the mark bits for the next cycle. free_dead runs after the world
// restarted, still inside the collection (the next cycle waits for it):
// for each dead object it runs the type's destructor on every element,
// clears the managed bit and returns the slot through the allocator's
// explicit-free path (local or remote free bits, folded in at the span's
// next reclaim; a large object's span goes back to the page heap). Dead
// objects are unreachable, so no mutator touches them in between.
//
// The pause therefore grows with the number of spans (the walk), not with
// the dead objects' destructors. The concurrent collector will replace the
// walk with the sweepgen protocol (alloc/sweep.h): advance the heap's
// sweepgen by 2 and let the background sweeper and allocating threads
// sweep spans lazily, mark bits becoming alloc bits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace rt::alloc {
struct MSpan;
}

namespace rt::collector {

struct DeadObject {
  uintptr_t slot;
  alloc::MSpan* span;
  size_t idx;
};

struct SweepResult {
  uint64_t live_bytes = 0;
  uint64_t live_objects = 0;
};

SweepResult find_dead(std::vector<DeadObject>* dead);
// Returns the number of destructor calls (elements destroyed).
uint64_t free_dead(const std::vector<DeadObject>& dead);

}  // namespace rt::collector
