// Ragged safe points: run a function on every P at its next safe point,
// without stopping the world (Go's forEachP).
//
// The requester numbers the request and, under Sched::lock, runs the
// function itself on the Ps on the idle list (no M can take one while the
// lock is held) and on its own P; every running P is asked to yield (its goroutine's
// preempt flag; after 20 us, the signal too) and runs the function on its
// M's scheduler stack, in find_runnable, before it picks the next
// goroutine; a P that goes idle first runs it in pidleput. Ps in syscall
// scopes are skipped (their M may take them back at any moment, and no
// goroutine uses them meanwhile): a caller that must reach them too
// follows with a stop-the-world, as the collector's mark termination does.
// Requests are serialized with stop-the-world (the world semaphore). While
// the requester waits it is scannable by the collector (scannable_wait.h).
#pragma once

#include <cstdint>

#include "sched/gmp.h"

namespace rt::sched {

// Runs fn(p) once on every P that is not in a syscall scope, each at a safe
// point of its own. Returns true if every such P ran it within timeout_ns,
// false if the wait gave up (some P still in a loop with no safe point).
// Called from a goroutine.
bool for_each_p_at_safe_point(void (*fn)(P* p), int64_t timeout_ns);

// The scheduler's side: runs the pending request on p if it has not yet
// (p's owner in find_runnable; pidleput under Sched::lock).
void run_safe_point(P* p);
inline std::atomic<uint32_t> g_safe_point_gen{0};
inline void maybe_run_safe_point(P* p) {
  if (__builtin_expect(p->safe_point_done.load(std::memory_order_relaxed) !=
                           g_safe_point_gen.load(std::memory_order_acquire),
                       0))
    run_safe_point(p);
}

}  // namespace rt::sched
