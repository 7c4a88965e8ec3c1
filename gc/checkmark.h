// RT_DEBUG=gccheckmark=1: after each concurrent mark, with the world still
// stopped at mark termination, mark everything again from scratch into a
// private set and check that the concurrent mark missed nothing: every
// Root's target, and every object reached through a heap reference from a
// marked object, must be marked (the tri-colour invariant at the end of
// marking: no black object points at a white one). Stack words (every
// goroutine's stack, task and local storage, the caller's own stack) seed
// the walk only with objects that are marked: stacks are conservative, and
// a frame pushed after a goroutine's concurrent scan may hold stale words
// pointing at garbage, which are no evidence of a miss. An object left
// white would be freed while reachable: that is a fatal error naming the
// object, its slot size and its type's element size.
//
// A debugging mode: it allocates its set and work stack inside the pause
// and takes time proportional to the live heap.
#pragma once

#include <cstdint>

namespace rt::collector {

void verify_marks(uint32_t e);

}  // namespace rt::collector
