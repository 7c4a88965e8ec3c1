// The collector: one full stop-the-world mark-sweep cycle per rt::gc(), and
// allocation-triggered cycles.
//
// A cycle (collect): take the collector semaphore (cycles queue; it also
// covers the sweep after the world restarts) -> rotate sync.Pool caches
// (rt::detail::pool_cleanup) -> close the plain-thread gate
// -> stop the world -> mark from the root set, every goroutine's stack and
// the caller's own stack, drain the mark stack -> find the dead (mark bits
// cleared for the next cycle) -> start the world, open the gate -> run the
// dead objects' destructors and free them -> record the pause (stop request
// to world restarted) and set the next trigger.
//
// This is the RT_DEBUG=gcstoptheworld=1 collector, and the reference the
// concurrent collector will be checked against.
//
// Trigger (a stand-in for the pacer): make() counts the bytes it allocates
// (per thread, flushed every 64 KiB); when the bytes since the last cycle
// reach max(4 MiB, live × GOGC/100), the allocating goroutine runs a cycle
// before it allocates. Plain threads never trigger (they may hold an
// unrooted result of make); RT_GOGC=off turns triggering off.
#pragma once

#include <cstddef>
#include <cstdint>

namespace rt::collector {

void collect();
void account_allocation(size_t bytes);
// The trigger in bytes (for tests); 0 = off.
uint64_t trigger_bytes();

}  // namespace rt::collector
