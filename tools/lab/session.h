// One lab session: a workload run under chosen GC settings with the
// measurements every subcommand reports. run_session() applies GOGC, the
// memory limit and GOMAXPROCS, starts the execution tracer (rt/trace.h)
// unless asked not to, samples the heap in use and its goal every
// millisecond from a plain thread, runs the workload, and condenses
// everything into a Summary. Call it on a goroutine (inside rt::run).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rt/trace.h"
#include "tools/lab/workloads.h"

namespace lab {

struct SessionConfig {
  WorkloadParams workload;
  bool set_gogc = false;
  int gogc = 100;             // negative: off
  int64_t memlimit = -1;      // bytes; negative: none
  int procs = 0;              // 0: leave GOMAXPROCS as it is
  bool trace = true;          // record the execution trace (single pauses by kind)
  int64_t trace_events_per_p = 1 << 16;
};

// A sample of the heap: seconds since the session started, heap object
// bytes (live and not yet swept, MemStats heap_alloc), the heap goal
// (0 when there is none: GOGC off without a limit), completed cycles.
struct HeapSample {
  double t_s = 0;
  uint64_t heap = 0;
  uint64_t goal = 0;
  uint64_t cycles = 0;
};

enum class PauseKind { kSweepTermination, kMarkTermination, kCycleSum };
const char* pause_kind_name(PauseKind k);

struct Pause {
  double t_s = 0;     // start, seconds since the session started
  uint64_t dur_ns = 0;
  PauseKind kind = PauseKind::kCycleSum;
};

// A GC cycle's span, seconds since the session started.
struct CycleSpan {
  double start_s = 0, end_s = 0;
};

struct Summary {
  std::string workload;
  std::string gogc;      // "100", "off"
  int64_t memlimit = -1; // bytes; negative: none
  int procs = 0;
  double seconds = 0;
  uint64_t ops = 0;
  uint64_t check = 0;
  uint64_t cycles = 0;           // MemStats num_gc delta over the run
  double gc_cpu_percent = 0;     // /cpu/classes/gc/total over /cpu/classes/total, over the run
  uint64_t peak_heap = 0;        // largest heap sample (final reading included)
  uint64_t final_heap = 0;
  uint64_t peak_goal = 0;        // largest finite goal sampled
  uint64_t rss_peak = 0;         // VmHWM
  std::string pause_source;      // "trace" (single pauses) or "cycle-sums" (MemStats ring)
  uint64_t pause_count = 0;
  uint64_t pause_p50_ns = 0, pause_p99_ns = 0, pause_p999_ns = 0, pause_max_ns = 0, pause_total_ns = 0;
  uint64_t worst_stall_ns = 0;
  uint64_t memstats_pause_total_ns = 0;  // MemStats pause_total_ns delta
  uint64_t traced_cycles = 0;            // GC cycle spans in the trace
  uint64_t trace_dropped = 0;
};

struct SessionResult {
  Summary summary;
  std::vector<HeapSample> samples;
  std::vector<Pause> pauses;
  std::vector<CycleSpan> cycles;
  std::vector<rt::trace::Event> events;  // the trace (empty without one)
  int gomaxprocs = 1;
  uint64_t t0_ns = 0, t1_ns = 0;  // the measured span, on the trace's clock (CLOCK_MONOTONIC)
};

SessionResult run_session(const SessionConfig& cfg);

// Summaries as a flat JSON object, a CSV header/row, and table lines.
std::string summary_json(const Summary& s);
std::string summary_csv_header();
std::string summary_csv_row(const Summary& s);
std::string summary_table_header();
std::string summary_table_row(const Summary& s);
// The number after "key": in a flat JSON object; false when absent.
bool json_number(const std::string& json, const std::string& key, double* out);
bool json_string(const std::string& json, const std::string& key, std::string* out);
// Rebuilds a Summary from summary_json's output.
bool summary_from_json(const std::string& json, Summary* s);

}  // namespace lab
