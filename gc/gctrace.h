// RT_DEBUG=gctrace=1: one line per cycle on stderr, in the layout of Go's
// gctrace so that tools reading Go's lines read these:
//
//   gc 7 @0.214s 3%: 0.021+1.2+0.015 ms clock, 0.042+0.11/0.90/0+0.030 ms cpu,
//      4->5->2 MB, 8 MB goal, 0 MB stacks, 0 MB globals, 2 P (forced)
//
// (one line). Fields: cycle number; seconds since start at the cycle's
// start; GC CPU fraction so far in percent; wall clock of sweep
// termination (pause), concurrent mark, mark termination (pause); CPU of
// sweep termination, then assist / background / idle mark, then mark
// termination; heap at the start, at mark termination and marked live;
// the next goal; stacks; globals; GOMAXPROCS; "(forced)" for rt::gc().
// Times under 10 ms print with two significant digits (at most three
// decimals), longer ones as whole milliseconds, as Go prints them.
//
// The line is built in a fixed buffer on the caller's stack and written
// with one write(2): no allocation, no lock, callable after any cycle.
#pragma once

#include <cstddef>
#include <cstdint>

namespace rt::collector {

struct TraceLine {
  uint64_t num_gc = 0;
  int64_t since_start_ns = 0;
  int util_percent = 0;
  int64_t clock_ns[3] = {};  // sweep termination, concurrent mark, mark termination
  int64_t cpu_ns[5] = {};    // sweep term, assist, background, idle, mark term
  uint64_t heap0 = 0, heap1 = 0, heap2 = 0, goal = 0, stacks = 0, globals = 0;  // bytes
  int32_t procs = 0;
  bool forced = false;
};

inline constexpr size_t kTraceLineMax = 512;

// Formats `t` with its newline into buf (kTraceLineMax bytes); returns the
// length.
size_t format_trace_line(const TraceLine& t, char* buf);

// Formats and writes the line to stderr.
void write_trace_line(const TraceLine& t);

}  // namespace rt::collector
