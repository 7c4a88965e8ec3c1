// Mark assists (Go's gcAssistAlloc, go1.19 mgcmark.go): while marking, a
// goroutine pays for its allocation with scan work, so that marking ends
// before the heap reaches its goal.
//
// Each goroutine has an account (G::gc_assist_bytes): allocation debits
// it; when it goes negative the goroutine owes debt x work-per-byte units
// of scan work (the pacer's assist ratio), at least 64 KiB at a time (the
// surplus is credit for later allocation). It pays, in order:
//   1. by stealing from the background credit: scan work the mark workers
//      did beyond what parked assists needed;
//   2. by draining the grey lists itself (timed as assist CPU);
//   3. if debt remains (no grey work it can reach), by parking on the
//      assist queue until background work pays it off (workers pay queued
//      debts first, oldest first) or marking ends, when every parked
//      assist is released.
// Nothing is owed while the GC CPU limiter is on (cpulimit.h): allocation
// proceeds and the heap overshoots instead. A new cycle starts every
// account at zero (an epoch number, not a walk over the goroutines).
#pragma once

#include <cstdint>

namespace rt::collector::assist {

// Sweep termination (world stopped): new epoch, no background credit.
void start_cycle();
// The calling goroutine allocated `bytes` while marking: pays its debt.
// Not on plain threads, not inside runtime locks.
void alloc(uint64_t bytes);
// Background mark work done (bytes scanned): pays parked assists, the
// rest becomes credit.
void flush_background(uint64_t work);
// Marking is over (after the world restarted): releases parked assists.
void end_cycle();

struct Stats {
  uint64_t assists = 0;      // times a goroutine went into debt and paid
  uint64_t parks = 0;        // times one parked on the queue
  uint64_t stolen_work = 0;  // scan work taken from the background credit
  uint64_t paid_by_background = 0;  // parked assists paid off by workers
};
Stats stats();

}  // namespace rt::collector::assist
