// The collector's observable numbers: per-cycle timings, CPU time spent on
// marking, and the GC fields of MemStats (Go's mstats), kept apart from the
// collector's mechanism so that the cycle only hands over a record.
//
// CPU time. Mark work is timed with nanotime deltas around each drain
// (MarkCpuSpan): assists (allocating goroutines paying for their
// allocation) and background marking (the mark workers and the collecting
// goroutine's own draining). A stop-the-world pause costs its wall time
// times GOMAXPROCS, as in Go: no P runs anything else. GC CPU fraction is
// the GC total over the CPU time available since the process started,
// GOMAXPROCS x wall time, integrated at each reading (a change of
// GOMAXPROCS is attributed from the previous reading on).
//
// A cycle's record (CycleRecord) is filled by run_cycle with plain stores
// and handed to cycle_done() after the world has restarted; cycle_done
// updates the figures under a lock and, with RT_DEBUG=gctrace=1, writes
// the cycle's trace line (gctrace.h). Nothing here runs inside a pause.
#pragma once

#include <atomic>
#include <cstdint>

#include "rt/memstats.h"
#include "sched/trace.h"

namespace rt::collector {

enum class MarkCpu : int { kAssist = 0, kBackground = 1, kIdle = 2 };

// Cumulative mark CPU nanoseconds by kind (read by the cycle and metrics).
extern std::atomic<int64_t> g_mark_cpu_ns[3];

// The execution tracer's span for mark CPU of `kind` (background work is a
// dedicated worker's unless the caller says otherwise).
constexpr rt::trace::Kind trace_kind_of(MarkCpu kind) {
  return kind == MarkCpu::kAssist ? rt::trace::Kind::kAssist
         : kind == MarkCpu::kIdle ? rt::trace::Kind::kMarkWorkerIdle
                                  : rt::trace::Kind::kMarkWorkerDedicated;
}

// Adds the scope's nanotime to `kind` (nothing when `on` is false, e.g.
// marking done inside a pause, which the pause already accounts for), and
// records the scope as a trace span of `trace_kind` (sched/trace.h).
class MarkCpuSpan {
 public:
  explicit MarkCpuSpan(MarkCpu kind, bool on = true) : MarkCpuSpan(kind, on, trace_kind_of(kind)) {}
  MarkCpuSpan(MarkCpu kind, bool on, rt::trace::Kind trace_kind);
  ~MarkCpuSpan();
  MarkCpuSpan(const MarkCpuSpan&) = delete;
  MarkCpuSpan& operator=(const MarkCpuSpan&) = delete;

 private:
  MarkCpu kind_;
  int64_t start_;
  int64_t yielded0_ = 0;
  rt::trace::detail::Span trace_;
};

// What one cycle reports. Times are nanotime() readings.
struct CycleRecord {
  bool forced = false;         // started by rt::gc()
  int64_t t_sweep_term = 0;    // sweep termination's stop request
  int64_t t_mark = 0;          // world restarted: concurrent mark begins
  int64_t t_mark_term = 0;     // the final mark termination's stop request
  int64_t t_end = 0;           // world restarted after mark termination
  int64_t pause_ns = 0;        // the cycle's pauses, summed
  int32_t procs = 0;           // GOMAXPROCS during the cycle
  int64_t assist_ns = 0;       // mark CPU during this cycle, by kind
  int64_t background_ns = 0;
  int64_t idle_ns = 0;
  // Heap figures for the trace (bytes): live heap at the start and at mark
  // termination, and what marking found reachable.
  uint64_t heap0 = 0, heap1 = 0, heap2 = 0;
  uint64_t goal = 0;           // the heap goal in force during this cycle (pacer.h)
  uint64_t stacks = 0;         // goroutine stack bytes in use
};

// Records a finished cycle (world running, no locks held); prints the
// gctrace line when RT_DEBUG asks for it.
void cycle_done(const CycleRecord& r);

// Fills MemStats' GC fields (num_gc ... gc_cpu_fraction). Cheap.
void fill_gc_memstats(MemStats* m);

// Cumulative CPU figures, nanoseconds (Go's /cpu/classes/...).
struct GcCpuTotals {
  int64_t assist = 0;
  int64_t background = 0;
  int64_t idle = 0;       // idle-time marking (idlemark.h)
  int64_t pause = 0;      // pause wall time x GOMAXPROCS
  int64_t available = 0;  // GOMAXPROCS x wall time since start
};
GcCpuTotals gc_cpu_totals();

// The heap goal now, bytes (Go's next_gc; pacer.h): UINT64_MAX with
// RT_GOGC=off and no memory limit.
uint64_t heap_goal();

// nanotime() at process start (the "@s" of the trace).
int64_t process_start_ns();

}  // namespace rt::collector
