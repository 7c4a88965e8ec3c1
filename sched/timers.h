// Timers: a min-heap of deadlines per P, run by the schedulers' Ms (Go's
// per-P timer design, simplified to a lock per heap).
//
// A timer is added to the calling M's P (P 0 for threads without one) and
// stays in that heap until it fires or is stopped. Ms run the expired timers
// of their own P on every scheduling round, and of other Ps while looking
// for work; an idle M sleeps with a deadline at the earliest timer of all Ps
// (the "timer watcher", proc.cc), and adding an earlier timer wakes it.
//
// A timer's function runs on g0 (the scheduler stack) of some M, with no
// lock held. It must be short and must not park: typically it readies a
// goroutine or sends on a buffered channel.
#pragma once

#include <atomic>
#include <cstdint>

#include "sched/gmp.h"

namespace rt::sched {

struct Timer {
  int64_t when = 0;    // nanotime() deadline
  int64_t period = 0;  // > 0: re-armed at when + period after firing
  void (*f)(void* arg, int64_t now) = nullptr;
  void* arg = nullptr;
  // Heap membership: pp and index are guarded by pp->timers_lock.
  std::atomic<P*> pp{nullptr};
  int32_t index = -1;  // position in pp's heap, -1 when not in one
  // Number of in-progress runs of f (stop_timer can wait for it to drop).
  std::atomic<uint32_t> running{0};
  // A detached timer is never stopped and owns itself: run_timers does not
  // touch it after calling f, so f may free it (time.After's timers).
  bool detached = false;
};

// Arms t (which must not be pending) to fire at t->when.
void add_timer(Timer* t);
// Disarms t. Returns true if it was pending (so it will not fire). With
// wait_running, also waits until no run of f is in progress, so the caller
// may free t's memory and arg afterwards.
bool stop_timer(Timer* t, bool wait_running);
// Re-arms t for `when` (whether pending, fired or stopped). Returns whether
// it was pending.
bool reset_timer(Timer* t, int64_t when);

// Runs p's expired timers; returns how many ran.
uint32_t run_timers(P* p, int64_t now);
// Earliest pending deadline over all Ps, 0 if none.
int64_t earliest_timer();

// Parks the calling goroutine for d nanoseconds (plain nanosleep on a
// thread that is not running a goroutine).
void sleep_ns(int64_t d);

// Moves t from heap `from` to heap `to`; both heaps' locks held.
void move_timer_locked(P* from, P* to, Timer* t);

// In proc.cc: an earlier deadline appeared; make sure an M watches it.
void wake_timer_waiter(int64_t when);

}  // namespace rt::sched
