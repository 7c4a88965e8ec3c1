// The weak table: every live rt::Weak's node, in one intrusive list under a
// runtime lock (like the root set, but never a root).
//
// clear_dead_weaks runs after mark termination, with the world running and
// the phase at kSweep but before any sweeping starts (sweep_begin comes
// after it): every node whose target's mark bit is clear is cleared. From
// mark termination on, weak_lock treats an unmarked target as gone, so no
// caller can see a target between its death and its clearing; and since
// clearing precedes both finalizer queueing and sweeping, a cleared Weak
// never sees a resurrected or reused slot. The pass walks the table, not
// the heap, and runs outside any pause.
#pragma once

#include <cstdint>

namespace rt::collector {

// Returns the number of nodes cleared.
uint64_t clear_dead_weaks(uint32_t e);

}  // namespace rt::collector
