// Stop-the-world and per-goroutine suspension, the collector's two levers.
//
// stop_the_world() takes every P out of circulation: idle Ps and Ps in
// syscalls at once, running Ps when their M next enters the scheduler. Each
// running goroutine is asked to yield by its flag first (it stops at its
// next safe point, usually within microseconds), then, if the world is not
// stopped after 20 us, by signal as well. The stopper polls rather than
// sleeps while it waits, and the stopped Ms poll for their P back: on a VM
// every futex wake-up of a sleeping thread and every signal costs tens of
// microseconds, the whole budget of a pause. It returns once no goroutine
// but the caller runs. start_the_world() hands the Ps back and wakes Ms for
// those with work. Only one stop at a time. A goroutine that stops the
// world is scannable by the collector while it waits (scannable_wait.h).
//
// suspend_g() stops one goroutine at a safe point so its stack can be
// scanned, without stopping anyone else: a parked or runnable G is claimed
// with the kGScan bit; a running one is asked to stop (preempt_stop) and
// claimed once it has parked itself as kGPreempted. resume_g() undoes it.
#pragma once

#include <cstdint>

#include "sched/gmp.h"

namespace rt::sched {

// Stops the world. Returns the nanoseconds from the request until every P
// was stopped. Callable from a goroutine or from a thread that is not an M.
int64_t stop_the_world(const char* reason);
void start_the_world();
// The semaphore that serializes stops (and ragged safe points, safepoint.h).
void world_sema_acquire();
void world_sema_release();

struct StwStats {
  uint64_t count = 0;
  int64_t last_stop_ns = 0;  // request -> all Ps stopped, last stop
  int64_t max_stop_ns = 0;
  int64_t total_stop_ns = 0;
  int64_t last_pause_ns = 0;  // request -> world started again, last stop
  int64_t max_pause_ns = 0;
};
StwStats stw_stats();

struct Suspended {
  G* g = nullptr;
  bool dead = false;        // nothing to scan
  bool stopped = false;     // we stopped it running: resume_g readies it
  uint32_t status = 0;      // status before the claim (without kGScan)
};
// Suspends g (not the caller's own G). Callable from any goroutine or thread.
Suspended suspend_g(G* g);
void resume_g(const Suspended& s);

// Stack range to scan for a suspended (or parked) G: [lo, hi).
void g_stack_scan_range(const Suspended& s, uintptr_t* lo, uintptr_t* hi);

}  // namespace rt::sched
