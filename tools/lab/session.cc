// A lab session and its summary (see session.h). Pauses come from the
// trace's STW spans when tracing (one entry per stop-the-world, with its
// kind); without a trace, from MemStats' pause ring, which holds each
// cycle's pauses summed (so "pauses" are then per cycle).
#include "tools/lab/session.h"

#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "rt/gc.h"
#include "rt/memstats.h"
#include "rt/metrics.h"
#include "rt/sched.h"
#include "tools/lab/histogram.h"

namespace lab {
namespace {

// The monotonic clock the runtime stamps trace events with.
uint64_t mono_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

uint64_t rss_peak_bytes() {
  FILE* f = fopen("/proc/self/status", "r");
  if (!f) return 0;
  char line[256];
  uint64_t kb = 0;
  while (fgets(line, sizeof line, f))
    if (strncmp(line, "VmHWM:", 6) == 0) kb = strtoull(line + 6, nullptr, 10);
  fclose(f);
  return kb * 1024;
}

struct Reading {
  uint64_t heap = 0, goal = 0, cycles = 0;
  double gc_cpu = 0, total_cpu = 0;
};

Reading read_now() {
  rt::metrics::Sample s[] = {{"/memory/classes/heap/objects:bytes", {}},
                             {"/gc/heap/goal:bytes", {}},
                             {"/gc/cycles/total:gc-cycles", {}},
                             {"/cpu/classes/gc/total:cpu-seconds", {}},
                             {"/cpu/classes/total:cpu-seconds", {}}};
  rt::metrics::read(s, 5);
  Reading r;
  r.heap = s[0].value.uint64();
  r.goal = s[1].value.uint64();
  if (r.goal >= (uint64_t{1} << 62)) r.goal = 0;  // GOGC off, no limit: no goal
  r.cycles = s[2].value.uint64();
  r.gc_cpu = s[3].value.float64();
  r.total_cpu = s[4].value.float64();
  return r;
}

}  // namespace

const char* pause_kind_name(PauseKind k) {
  switch (k) {
    case PauseKind::kSweepTermination: return "sweep termination";
    case PauseKind::kMarkTermination: return "mark termination";
    case PauseKind::kCycleSum: return "cycle (summed)";
  }
  return "?";
}

SessionResult run_session(const SessionConfig& cfg) {
  SessionResult res;
  if (cfg.procs > 0) rt::gomaxprocs(cfg.procs);
  if (cfg.set_gogc) rt::set_gc_percent(cfg.gogc);
  if (cfg.memlimit >= 0) rt::set_memory_limit(cfg.memlimit);
  res.gomaxprocs = rt::gomaxprocs();
  Summary& s = res.summary;
  s.workload = cfg.workload.name;
  rt::metrics::Sample g{"/gc/gogc:percent", {}};
  rt::metrics::read(&g, 1);
  s.gogc = g.value.uint64() > (uint64_t{1} << 31) ? "off" : std::to_string(g.value.uint64());
  int64_t limit = rt::set_memory_limit(-1);
  s.memlimit = limit == INT64_MAX ? -1 : limit;
  s.procs = res.gomaxprocs;

  bool tracing = false;
  rt::MemStats m0;
  Reading r0;
  uint64_t t0 = 0;
  std::atomic<bool> stop{false};
  std::thread sampler;
  // Called by the workload once its starting live heap is built.
  auto measure = [&] {
    // Start from a collected heap, so the first cycle measured is the run's own.
    rt::gc();
    tracing = cfg.trace && rt::trace::start(static_cast<size_t>(cfg.trace_events_per_p));
    m0 = rt::read_mem_stats();
    r0 = read_now();
    t0 = mono_ns();
    sampler = std::thread([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        Reading r = read_now();
        res.samples.push_back({static_cast<double>(mono_ns() - t0) / 1e9, r.heap, r.goal, r.cycles - r0.cycles});
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    });
  };
  WorkloadResult w = run_workload(cfg.workload, measure);
  stop.store(true);
  sampler.join();

  uint64_t t1 = mono_ns();
  Reading r1 = read_now();
  rt::MemStats m1 = rt::read_mem_stats();
  if (tracing) {
    rt::trace::stop();
    res.events = rt::trace::events();
    s.trace_dropped = rt::trace::dropped();
  }
  res.t0_ns = t0;
  res.t1_ns = t1;
  res.samples.push_back({static_cast<double>(t1 - t0) / 1e9, r1.heap, r1.goal, r1.cycles - r0.cycles});

  s.seconds = static_cast<double>(t1 - t0) / 1e9;
  s.ops = w.ops;
  s.check = w.check;
  s.worst_stall_ns = w.worst_stall_ns;
  s.cycles = m1.num_gc - m0.num_gc;
  double total = r1.total_cpu - r0.total_cpu;
  s.gc_cpu_percent = total > 0 ? 100.0 * (r1.gc_cpu - r0.gc_cpu) / total : 0;
  for (const HeapSample& h : res.samples) {
    s.peak_heap = std::max(s.peak_heap, h.heap);
    s.peak_goal = std::max(s.peak_goal, h.goal);
  }
  s.final_heap = r1.heap;
  s.rss_peak = rss_peak_bytes();
  s.memstats_pause_total_ns = m1.pause_total_ns - m0.pause_total_ns;

  auto rel = [t0](uint64_t ts) { return (static_cast<double>(ts) - static_cast<double>(t0)) / 1e9; };
  if (tracing) {
    s.pause_source = "trace";
    // The cycles MemStats counted (kGcCycle's arg is the cycle's number),
    // and the pauses inside them: a cycle still running at the end is left
    // out of both, as MemStats leaves it out.
    for (const rt::trace::Event& e : res.events) {
      if (e.kind == rt::trace::Kind::kGcCycle && e.arg > m0.num_gc && e.arg <= m1.num_gc) {
        res.cycles.push_back({rel(e.ts_ns), rel(e.ts_ns + e.dur_ns)});
        s.traced_cycles++;
      }
    }
    for (const rt::trace::Event& e : res.events) {
      bool sweep_term = e.kind == rt::trace::Kind::kStwSweepTermination;
      if (!sweep_term && e.kind != rt::trace::Kind::kStwMarkTermination) continue;
      double start = rel(e.ts_ns), end = rel(e.ts_ns + e.dur_ns);
      // The last cycle starting at or before the pause (cycles are sorted).
      auto after = std::upper_bound(res.cycles.begin(), res.cycles.end(), start + 1e-9,
                                    [](double t, const CycleSpan& c) { return t < c.start_s; });
      bool in_cycle = after != res.cycles.begin() && end <= std::prev(after)->end_s + 1e-9;
      if (in_cycle)
        res.pauses.push_back({start, e.dur_ns, sweep_term ? PauseKind::kSweepTermination : PauseKind::kMarkTermination});
    }
  } else {
    s.pause_source = "cycle-sums";
    // The ring holds the last 256 cycles: cycle c + 1 at [c % 256].
    uint32_t first = std::max(m0.num_gc, m1.num_gc >= 256 ? m1.num_gc - 256 : 0u);
    for (uint32_t c = first; c < m1.num_gc; c++) res.pauses.push_back({0, m1.pause_ns[c % 256], PauseKind::kCycleSum});
    // Cycle ends from the samples: where the completed count steps.
    for (size_t i = 1; i < res.samples.size(); i++)
      if (res.samples[i].cycles != res.samples[i - 1].cycles)
        res.cycles.push_back({res.samples[i].t_s, res.samples[i].t_s});
  }
  Histogram h;
  for (const Pause& p : res.pauses) h.add(p.dur_ns);
  s.pause_count = h.count();
  s.pause_p50_ns = h.percentile(50);
  s.pause_p99_ns = h.percentile(99);
  s.pause_p999_ns = h.percentile(99.9);
  s.pause_max_ns = h.max();
  s.pause_total_ns = h.sum();
  return res;
}

namespace {

// Appends `"key": ` (with a separating comma after the first member).
void add_key(std::string& j, const char* key) {
  if (j.size() > 1) j.append(", ");
  j.append(1, '"').append(key).append("\": ");
}
void add_str(std::string& j, const char* key, const std::string& v) {
  add_key(j, key);
  j.append(1, '"').append(v).append(1, '"');
}
void add_num(std::string& j, const char* key, double v, const char* fmt = "%.0f") {
  char buf[64];
  snprintf(buf, sizeof buf, fmt, v);
  add_key(j, key);
  j.append(buf);
}

std::string us(uint64_t ns) {
  char b[32];
  if (ns >= 10000000) snprintf(b, sizeof b, "%.0fms", ns / 1e6);
  else if (ns >= 1000000) snprintf(b, sizeof b, "%.1fms", ns / 1e6);
  else snprintf(b, sizeof b, "%.0fus", ns / 1e3);
  return b;
}

}  // namespace

std::string summary_json(const Summary& s) {
  std::string j = "{";
  add_str(j, "workload", s.workload);
  add_str(j, "gogc", s.gogc);
  add_num(j, "memlimit_bytes", static_cast<double>(s.memlimit));
  add_num(j, "procs", s.procs);
  add_num(j, "seconds", s.seconds, "%.4f");
  add_num(j, "ops", static_cast<double>(s.ops));
  add_num(j, "check", static_cast<double>(s.check));
  add_num(j, "cycles", static_cast<double>(s.cycles));
  add_num(j, "gc_cpu_percent", s.gc_cpu_percent, "%.3f");
  add_num(j, "peak_heap_bytes", static_cast<double>(s.peak_heap));
  add_num(j, "final_heap_bytes", static_cast<double>(s.final_heap));
  add_num(j, "peak_goal_bytes", static_cast<double>(s.peak_goal));
  add_num(j, "rss_peak_bytes", static_cast<double>(s.rss_peak));
  add_str(j, "pause_source", s.pause_source);
  add_num(j, "pause_count", static_cast<double>(s.pause_count));
  add_num(j, "pause_p50_ns", static_cast<double>(s.pause_p50_ns));
  add_num(j, "pause_p99_ns", static_cast<double>(s.pause_p99_ns));
  add_num(j, "pause_p999_ns", static_cast<double>(s.pause_p999_ns));
  add_num(j, "pause_max_ns", static_cast<double>(s.pause_max_ns));
  add_num(j, "pause_total_ns", static_cast<double>(s.pause_total_ns));
  add_num(j, "worst_stall_ns", static_cast<double>(s.worst_stall_ns));
  add_num(j, "memstats_pause_total_ns", static_cast<double>(s.memstats_pause_total_ns));
  add_num(j, "traced_cycles", static_cast<double>(s.traced_cycles));
  add_num(j, "trace_dropped", static_cast<double>(s.trace_dropped));
  return j + "}";
}

std::string summary_csv_header() {
  return "workload,gogc,memlimit_bytes,procs,seconds,cycles,gc_cpu_percent,peak_heap_bytes,final_heap_bytes,"
         "peak_goal_bytes,rss_peak_bytes,pause_source,pause_count,pause_p50_ns,pause_p99_ns,pause_p999_ns,"
         "pause_max_ns,worst_stall_ns";
}

std::string summary_csv_row(const Summary& s) {
  char b[512];
  snprintf(b, sizeof b, "%s,%s,%lld,%d,%.4f,%llu,%.3f,%llu,%llu,%llu,%llu,%s,%llu,%llu,%llu,%llu,%llu,%llu",
           s.workload.c_str(), s.gogc.c_str(), static_cast<long long>(s.memlimit), s.procs, s.seconds,
           (unsigned long long)s.cycles, s.gc_cpu_percent, (unsigned long long)s.peak_heap,
           (unsigned long long)s.final_heap, (unsigned long long)s.peak_goal, (unsigned long long)s.rss_peak,
           s.pause_source.c_str(), (unsigned long long)s.pause_count, (unsigned long long)s.pause_p50_ns,
           (unsigned long long)s.pause_p99_ns, (unsigned long long)s.pause_p999_ns,
           (unsigned long long)s.pause_max_ns, (unsigned long long)s.worst_stall_ns);
  return b;
}

std::string summary_table_header() {
  char b[256];
  snprintf(b, sizeof b, "%-8s %5s %9s %6s %6s %10s %10s %10s %7s %7s %7s %7s %7s", "workload", "gogc", "memlimit",
           "cycles", "gc-cpu", "peak-heap", "peak-goal", "rss-peak", "p50", "p99", "p99.9", "max", "stall");
  return b;
}

std::string summary_table_row(const Summary& s) {
  char b[256];
  std::string lim = s.memlimit < 0 ? "none" : format_size(static_cast<double>(s.memlimit));
  std::string goal = s.peak_goal == 0 ? "-" : format_size(static_cast<double>(s.peak_goal));
  snprintf(b, sizeof b, "%-8s %5s %9s %6llu %5.1f%% %10s %10s %10s %7s %7s %7s %7s %7s", s.workload.c_str(),
           s.gogc.c_str(), lim.c_str(), (unsigned long long)s.cycles, s.gc_cpu_percent,
           format_size(static_cast<double>(s.peak_heap)).c_str(), goal.c_str(),
           format_size(static_cast<double>(s.rss_peak)).c_str(), us(s.pause_p50_ns).c_str(),
           us(s.pause_p99_ns).c_str(), us(s.pause_p999_ns).c_str(), us(s.pause_max_ns).c_str(),
           us(s.worst_stall_ns).c_str());
  return b;
}

bool json_number(const std::string& json, const std::string& key, double* out) {
  size_t at = json.find("\"" + key + "\":");
  if (at == std::string::npos) return false;
  const char* p = json.c_str() + at + key.size() + 3;
  char* end = nullptr;
  double v = strtod(p, &end);
  if (end == p) return false;
  *out = v;
  return true;
}

bool json_string(const std::string& json, const std::string& key, std::string* out) {
  size_t at = json.find("\"" + key + "\": \"");
  if (at == std::string::npos) return false;
  size_t b = at + key.size() + 5;
  size_t e = json.find('"', b);
  if (e == std::string::npos) return false;
  *out = json.substr(b, e - b);
  return true;
}

bool summary_from_json(const std::string& json, Summary* s) {
  double v = 0;
  bool ok = json_string(json, "workload", &s->workload) && json_string(json, "gogc", &s->gogc) &&
            json_string(json, "pause_source", &s->pause_source);
  auto num = [&](const char* key, auto* field) {
    if (!json_number(json, key, &v)) {
      ok = false;
      return;
    }
    *field = static_cast<std::remove_pointer_t<decltype(field)>>(v);
  };
  num("memlimit_bytes", &s->memlimit);
  num("procs", &s->procs);
  num("seconds", &s->seconds);
  num("ops", &s->ops);
  num("cycles", &s->cycles);
  num("gc_cpu_percent", &s->gc_cpu_percent);
  num("peak_heap_bytes", &s->peak_heap);
  num("final_heap_bytes", &s->final_heap);
  num("peak_goal_bytes", &s->peak_goal);
  num("rss_peak_bytes", &s->rss_peak);
  num("pause_count", &s->pause_count);
  num("pause_p50_ns", &s->pause_p50_ns);
  num("pause_p99_ns", &s->pause_p99_ns);
  num("pause_p999_ns", &s->pause_p999_ns);
  num("pause_max_ns", &s->pause_max_ns);
  num("pause_total_ns", &s->pause_total_ns);
  num("worst_stall_ns", &s->worst_stall_ns);
  return ok;
}

}  // namespace lab
