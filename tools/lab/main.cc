// rt-lab: GC pacing experiments on librt (docs/LAB.md). Subcommands:
//   run     one workload under chosen GOGC / memory limit / GOMAXPROCS: summary
//   sweep   a GOGC x memory-limit grid, each cell a separate `rt-lab run`
//   pauses  the stop-the-world pause histogram, by pause kind
//   mmu     the minimum mutator utilization curve of a run
//   trace   a run's execution trace as Chrome Trace Event JSON
// Each session subcommand parses its flags, runs the workload once inside
// rt::run, then prints (table or --json) and writes data files and plots
// into --dir once the runtime has returned.
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

#include "rt/sched.h"
#include "rt/trace.h"
#include "tools/lab/cli.h"
#include "tools/lab/histogram.h"
#include "tools/lab/mmu.h"

namespace {

using lab::SessionFlags;
using lab::SessionResult;

const char kUsage[] =
    "usage: rt-lab <command> [flags]   (rt-lab <command> --help for its flags)\n"
    "commands:\n"
    "  run     run a workload, print cycles, GC CPU, peak heap/goal, RSS, pause percentiles, worst stall\n"
    "  sweep   a grid of GOGC x memory limit, one process per cell: table, CSV, trade-off plot\n"
    "  pauses  STW pause histogram by kind (sweep / mark termination), percentiles, plot\n"
    "  mmu     minimum mutator utilization by window size, table and plot\n"
    "  trace   write the run's execution trace as Chrome Trace Event JSON (Perfetto)\n";

// Runs the session inside the runtime; false if the runtime failed.
bool run_session_in_runtime(int argc, char** argv, const SessionFlags& f, std::optional<SessionResult>* out) {
  int rc = rt::run(argc, argv, [&] { *out = lab::run_session(f.config); });
  return rc == 0 && out->has_value();
}

std::string join_csv_heap(const SessionResult& r) {
  std::string s = "t_s,heap_bytes,goal_bytes,cycles\n";
  char b[128];
  for (const lab::HeapSample& h : r.samples) {
    snprintf(b, sizeof b, "%.6f,%llu,%llu,%llu\n", h.t_s, (unsigned long long)h.heap, (unsigned long long)h.goal,
             (unsigned long long)h.cycles);
    s += b;
  }
  return s;
}

std::string cycles_csv(const SessionResult& r) {
  std::string s = "start_s,end_s\n";
  char b[96];
  for (const lab::CycleSpan& c : r.cycles) {
    snprintf(b, sizeof b, "%.6f,%.6f\n", c.start_s, c.end_s);
    s += b;
  }
  return s;
}

std::string pauses_csv(const SessionResult& r) {
  std::string s = "t_s,kind,dur_ns\n";
  char b[128];
  for (const lab::Pause& p : r.pauses) {
    snprintf(b, sizeof b, "%.6f,%s,%llu\n", p.t_s, lab::pause_kind_name(p.kind), (unsigned long long)p.dur_ns);
    s += b;
  }
  return s;
}

// Heap series, cycles, pauses and the summary: what the run plot reads.
bool write_run_data(const SessionFlags& f, const SessionResult& r) {
  if (!lab::make_dir(f.dir)) {
    fprintf(stderr, "rt-lab: cannot create %s\n", f.dir.c_str());
    return false;
  }
  return lab::write_file(f.dir + "/heap.csv", join_csv_heap(r)) &&
         lab::write_file(f.dir + "/cycles.csv", cycles_csv(r)) &&
         lab::write_file(f.dir + "/pauses.csv", pauses_csv(r)) &&
         lab::write_file(f.dir + "/summary.json", lab::summary_json(r.summary) + "\n");
}

int run_main(int argc, char** argv) {
  SessionFlags f;
  rt_bench::Flags flags("rt-lab run");
  flags.set_usage("rt-lab run [flags]",
                  "Runs one workload and prints a summary; writes heap.csv, cycles.csv, pauses.csv, summary.json\n"
                  "and heap.png (heap in use vs goal over time, cycles shaded) into --dir.");
  lab::add_session_flags(flags, f, true);
  flags.parse(argc, argv, 2);
  lab::finish_session_flags(flags, f);
  std::optional<SessionResult> r;
  if (!run_session_in_runtime(argc, argv, f, &r)) return 1;
  if (f.json) {
    printf("%s\n", lab::summary_json(r->summary).c_str());
  } else {
    printf("%s\n%s\n", lab::summary_table_header().c_str(), lab::summary_table_row(r->summary).c_str());
    printf("pauses: %llu from %s; worst mutator stall %.1f us; %llu ops in %.2f s\n",
           (unsigned long long)r->summary.pause_count, r->summary.pause_source.c_str(),
           r->summary.worst_stall_ns / 1e3, (unsigned long long)r->summary.ops, r->summary.seconds);
  }
  if (!f.no_plot && write_run_data(f, *r)) lab::run_plot("run", f.dir);
  return 0;
}

std::string bar(uint64_t n, uint64_t max, int width) {
  int len = max == 0 ? 0 : static_cast<int>((n * static_cast<uint64_t>(width) + max - 1) / max);
  return std::string(static_cast<size_t>(len), '#');
}

std::string dur(double ns) {
  char b[32];
  if (ns >= 1e9) snprintf(b, sizeof b, "%.2fs", ns / 1e9);
  else if (ns >= 1e6) snprintf(b, sizeof b, "%.2fms", ns / 1e6);
  else if (ns >= 1e3) snprintf(b, sizeof b, "%.1fus", ns / 1e3);
  else snprintf(b, sizeof b, "%.0fns", ns);
  return b;
}

int pauses_main(int argc, char** argv) {
  SessionFlags f;
  rt_bench::Flags flags("rt-lab pauses");
  flags.set_usage("rt-lab pauses [flags]",
                  "Runs one workload with the tracer on and prints the stop-the-world pause histogram\n"
                  "(4 log buckets per power of two) for each pause kind, with percentiles; writes pauses.csv\n"
                  "and pauses.png into --dir.");
  lab::add_session_flags(flags, f, true);
  flags.parse(argc, argv, 2);
  lab::finish_session_flags(flags, f);
  std::optional<SessionResult> r;
  if (!run_session_in_runtime(argc, argv, f, &r)) return 1;
  std::vector<lab::PauseKind> kinds = {lab::PauseKind::kSweepTermination, lab::PauseKind::kMarkTermination,
                                       lab::PauseKind::kCycleSum};
  std::string json = "{\"summary\": " + lab::summary_json(r->summary) + ", \"kinds\": [";
  bool first = true;
  for (lab::PauseKind k : kinds) {
    lab::Histogram h;
    for (const lab::Pause& p : r->pauses)
      if (p.kind == k) h.add(p.dur_ns);
    if (h.count() == 0) continue;
    char b[512];
    snprintf(b, sizeof b,
             "%s{\"kind\": \"%s\", \"count\": %llu, \"p50_ns\": %llu, \"p99_ns\": %llu, \"p999_ns\": %llu, "
             "\"max_ns\": %llu, \"total_ns\": %llu, \"buckets\": [",
             first ? "" : ", ", lab::pause_kind_name(k), (unsigned long long)h.count(),
             (unsigned long long)h.percentile(50), (unsigned long long)h.percentile(99),
             (unsigned long long)h.percentile(99.9), (unsigned long long)h.max(), (unsigned long long)h.sum());
    json += b;
    first = false;
    auto buckets = h.buckets();
    uint64_t most = 0;
    for (const auto& bk : buckets) most = std::max(most, bk.count);
    if (!f.json)
      printf("%s pauses: %llu, p50 %s, p99 %s, p99.9 %s, max %s (source: %s)\n", lab::pause_kind_name(k),
             (unsigned long long)h.count(), dur(h.percentile(50)).c_str(), dur(h.percentile(99)).c_str(),
             dur(h.percentile(99.9)).c_str(), dur(h.max()).c_str(), r->summary.pause_source.c_str());
    for (size_t i = 0; i < buckets.size(); i++) {
      const auto& bk = buckets[i];
      snprintf(b, sizeof b, "%s{\"lo_ns\": %llu, \"hi_ns\": %llu, \"count\": %llu}", i ? ", " : "",
               (unsigned long long)bk.lo, (unsigned long long)bk.hi, (unsigned long long)bk.count);
      json += b;
      if (!f.json)
        printf("  %9s .. %-9s %6llu %s\n", dur(static_cast<double>(bk.lo)).c_str(),
               dur(static_cast<double>(bk.hi)).c_str(), (unsigned long long)bk.count, bar(bk.count, most, 50).c_str());
    }
    json += "]}";
  }
  json += "]}";
  if (f.json) printf("%s\n", json.c_str());
  else if (first) printf("no pauses recorded (no GC cycle ran: try a larger --count or a lower --gogc)\n");
  if (!f.no_plot && write_run_data(f, *r)) lab::run_plot("pauses", f.dir);
  return 0;
}

int mmu_main(int argc, char** argv) {
  SessionFlags f;
  rt_bench::Flags flags("rt-lab mmu");
  flags.set_usage("rt-lab mmu [flags]",
                  "Runs one workload with the tracer on and prints the minimum mutator utilization for\n"
                  "windows from 100us to 10s (the smallest share of the CPU left to the program in any window\n"
                  "of that length); writes mmu.csv and mmu.png into --dir.");
  lab::add_session_flags(flags, f, false);
  flags.parse(argc, argv, 2);
  lab::finish_session_flags(flags, f);
  std::optional<SessionResult> r;
  if (!run_session_in_runtime(argc, argv, f, &r)) return 1;
  lab::MmuOptions opt;
  opt.t0_ns = r->t0_ns;  // the whole measured run, quiet stretches included
  opt.t1_ns = r->t1_ns;
  std::vector<lab::MmuPoint> curve = lab::mmu_curve(r->events, r->gomaxprocs, lab::default_windows(), opt);
  std::string csv = "window_ns,mmu\n", json = "{\"summary\": " + lab::summary_json(r->summary) + ", \"mmu\": [";
  if (!f.json) printf("%12s  %s\n", "window", "MMU");
  for (size_t i = 0; i < curve.size(); i++) {
    char b[128];
    snprintf(b, sizeof b, "%llu,%.6f\n", (unsigned long long)curve[i].window_ns, curve[i].mmu);
    csv += b;
    snprintf(b, sizeof b, "%s{\"window_ns\": %llu, \"mmu\": %.6f}", i ? ", " : "",
             (unsigned long long)curve[i].window_ns, curve[i].mmu);
    json += b;
    if (!f.json)
      printf("%12s  %5.1f%% %s\n", dur(static_cast<double>(curve[i].window_ns)).c_str(), 100 * curve[i].mmu,
             bar(static_cast<uint64_t>(curve[i].mmu * 1000), 1000, 40).c_str());
  }
  json += "], \"trace_events\": " + std::to_string(r->events.size()) + ", \"gomaxprocs\": " +
          std::to_string(r->gomaxprocs) + "}";
  if (f.json) printf("%s\n", json.c_str());
  else printf("from %zu trace events over %.2f s at GOMAXPROCS=%d\n", r->events.size(), r->summary.seconds, r->gomaxprocs);
  if (!f.no_plot && write_run_data(f, *r) && lab::write_file(f.dir + "/mmu.csv", csv)) lab::run_plot("mmu", f.dir);
  return 0;
}

int trace_main(int argc, char** argv) {
  SessionFlags f;
  std::string out = "trace.json";
  rt_bench::Flags flags("rt-lab trace");
  flags.set_usage("rt-lab trace [flags]",
                  "Runs one workload with the tracer on and writes its execution trace (GC cycles, STW\n"
                  "pauses, mark workers, assists, goroutine runs, heap counters) as Chrome Trace Event JSON:\n"
                  "open it in https://ui.perfetto.dev or chrome://tracing.");
  lab::add_session_flags(flags, f, false);
  flags.add_string("out", &out, "trace file");
  flags.parse(argc, argv, 2);
  lab::finish_session_flags(flags, f);
  if (out.empty()) flags.fail("invalid value \"\" for flag -out: want a file name");
  std::optional<SessionResult> r;
  if (!run_session_in_runtime(argc, argv, f, &r)) return 1;
  FILE* file = fopen(out.c_str(), "w");
  if (!file) {
    fprintf(stderr, "rt-lab trace: cannot write %s\n", out.c_str());
    return 1;
  }
  rt::trace::write_chrome_json(r->events, file);
  if (fclose(file) != 0) {
    fprintf(stderr, "rt-lab trace: cannot write %s\n", out.c_str());
    return 1;
  }
  if (f.json)
    printf("{\"summary\": %s, \"out\": \"%s\", \"events\": %zu, \"dropped\": %llu}\n",
           lab::summary_json(r->summary).c_str(), out.c_str(), r->events.size(),
           (unsigned long long)r->summary.trace_dropped);
  else
    printf("wrote %s: %zu events (%llu dropped), %llu GC cycles, %llu pauses over %.2f s\n", out.c_str(),
           r->events.size(), (unsigned long long)r->summary.trace_dropped, (unsigned long long)r->summary.cycles,
           (unsigned long long)r->summary.pause_count, r->summary.seconds);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    fputs(kUsage, stderr);
    return 2;
  }
  std::string cmd = argv[1];
  if (cmd == "-h" || cmd == "-help" || cmd == "--help" || cmd == "help") {
    fputs(kUsage, stdout);
    return 0;
  }
  if (cmd == "run") return run_main(argc, argv);
  if (cmd == "sweep") return lab::sweep_main(argc, argv);
  if (cmd == "pauses") return pauses_main(argc, argv);
  if (cmd == "mmu") return mmu_main(argc, argv);
  if (cmd == "trace") return trace_main(argc, argv);
  fprintf(stderr, "rt-lab: unknown command \"%s\" (want run, sweep, pauses, mmu or trace)\n", cmd.c_str());
  return 2;
}
