// Minimum mutator utilization (MMU) from an rt::trace recording, as Go's
// internal/trace computes it: for a window size w, the lowest fraction of
// the CPU (GOMAXPROCS Ps) left to the program over any window of length w
// inside the trace.
//
// Utilization at time t: 0 while a collector pause (STW span) is open;
// otherwise 1 - busy / gomaxprocs, where busy counts the Ps running
// collector work at t (a P with a dedicated or fractional mark worker span
// or an assist span open; a P with several open counts once; such a span
// with no P counts as one P of its own). Idle-time mark workers are not
// counted by default, as in Go: they only run on Ps the program left idle.
// The trace spans from its first event's start to its last span's end.
#pragma once

#include <cstdint>
#include <vector>

#include "rt/trace.h"

namespace lab {

struct MmuPoint {
  uint64_t window_ns;
  double mmu;
};

struct MmuOptions {
  bool count_idle_workers = false;  // Go leaves them out
  // The trace's time span; both 0: from the events.
  uint64_t t0_ns = 0, t1_ns = 0;
};

// The MMU for each window size, exact (the utilization is a step function,
// so the mean over a sliding window is piecewise linear in its start and
// is lowest where a window edge meets a step). A window longer than the
// trace is taken as the whole trace; a window of 0 gives 0 (Go's
// convention). Empty when there are no events (and no span given).
std::vector<MmuPoint> mmu_curve(const std::vector<rt::trace::Event>& ev, int gomaxprocs,
                                const std::vector<uint64_t>& windows_ns);
std::vector<MmuPoint> mmu_curve(const std::vector<rt::trace::Event>& ev, int gomaxprocs,
                                const std::vector<uint64_t>& windows_ns, const MmuOptions& opt);

// 100 us ... 10 s, 1-2-5 per decade.
std::vector<uint64_t> default_windows();

}  // namespace lab
