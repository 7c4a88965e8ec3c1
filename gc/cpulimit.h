// The GC CPU limiter (Go's gcCPULimiter, go1.19 mgclimit.go): a leaky
// bucket that keeps the collector from taking much more than half of the
// CPU when the heap cannot fit its goal (a live heap above the memory
// limit makes cycles run back to back, and assists would take the rest).
//
// The bucket fills with GC CPU time (assists, background marking, pauses x
// GOMAXPROCS, from gcaccount.h's totals) and drains with mutator time (the
// rest of GOMAXPROCS x wall time): each update adds gc - mutator over the
// window since the last one, so it fills only while the GC takes more than
// 50% of the window. Capacity is 1 s x GOMAXPROCS. While the bucket is
// full the limiter is on: allocation stops assisting (the heap overshoots
// its goal instead), the collecting goroutine stops helping the mark
// workers, and the bucket drains again. Updated by sysmon (at most every
// 10 ms) and by allocating goroutines while marking.
#pragma once

#include <cstdint>

namespace rt::collector::cpulimit {

// Is the limiter on (assists off)? One relaxed load.
bool limiting();
// Brings the bucket up to `now` (nanotime); no-op within 10 ms of the last
// update or while another thread updates.
void update(int64_t now);

struct Stats {
  int64_t fill_ns = 0;
  int64_t capacity_ns = 0;
  int64_t overflow_ns = 0;     // GC time that arrived while the bucket was full
  uint64_t times_enabled = 0;  // transitions to on
  bool enabled = false;
};
Stats stats();

}  // namespace rt::collector::cpulimit
