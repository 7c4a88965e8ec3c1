// Idle-time marking (Go's idle-mode background mark workers).
//
// While the collector marks, a P whose M finds nothing to run lends itself
// to marking instead of going idle: find_runnable asks the scheduler's
// idle hook, which takes a parked idle mark worker (a system goroutine,
// one per P at most) and returns it runnable. The worker drains grey
// objects in small budgets and parks again (back into the pool) as soon
// as marking ends, the work runs out, or anything else becomes runnable
// on its P or the global queue: idle marking never delays a goroutine by
// more than one budget. Its CPU time counts as idle mark time.
#pragma once

#include <cstdint>

namespace rt::collector {

// Starts the pool's workers (n of them) and installs the scheduler hook.
void start_idle_mark_workers(int32_t n);

}  // namespace rt::collector
