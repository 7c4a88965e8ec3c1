// rt::metrics: a sorted table of named metrics, each computed from one of
// a few sources (heap MemStats, collector statistics, GC CPU totals, the
// scheduler, the configuration). A read() fetches each source at most once,
// on first use, so metrics of one source in one read() agree with each
// other. See rt/metrics.h.
#include "rt/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "gc/gcaccount.h"
#include "gc/pacer.h"
#include "rt/gc.h"
#include "rt/memstats.h"
#include "rt/sched.h"
#include "runtime/env.h"
#include "sched/gmp.h"

namespace rt::metrics {

void Value::set_uint64(uint64_t v) {
  kind_ = Kind::kUint64;
  u64_ = v;
}

void Value::set_float64(double v) {
  kind_ = Kind::kFloat64;
  f64_ = v;
}

Histogram& Value::set_histogram() {
  kind_ = Kind::kFloat64Histogram;
  hist_.counts.clear();
  hist_.buckets.clear();
  return hist_;
}

namespace {

// The sources, each fetched once per read().
struct Sources {
  bool have_mem = false, have_gc = false, have_cpu = false;
  MemStats mem;
  GcStats gc;
  rt::collector::GcCpuTotals cpu;

  const MemStats& m() {
    if (!have_mem) {
      mem = read_mem_stats();
      have_mem = true;
    }
    return mem;
  }
  const GcStats& g() {
    if (!have_gc) {
      gc = gc_stats();
      have_gc = true;
    }
    return gc;
  }
  const rt::collector::GcCpuTotals& c() {
    if (!have_cpu) {
      cpu = rt::collector::gc_cpu_totals();
      have_cpu = true;
    }
    return cpu;
  }
};

double seconds(int64_t ns) { return static_cast<double>(ns) / 1e9; }

uint64_t sub0(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

// GcStats::pause_hist as seconds: bucket k holds [2^k, 2^(k+1)) ns, the
// first also shorter pauses (from 0), the last also longer ones (to +inf).
void pause_histogram(Sources& s, Value* v) {
  const GcStats& g = s.g();
  Histogram& h = v->set_histogram();
  h.counts.assign(g.pause_hist, g.pause_hist + GcStats::kPauseBuckets);
  h.buckets.resize(GcStats::kPauseBuckets + 1);
  h.buckets[0] = 0;
  for (int k = 1; k < GcStats::kPauseBuckets; k++) h.buckets[k] = std::ldexp(1.0, k) / 1e9;
  h.buckets[GcStats::kPauseBuckets] = std::numeric_limits<double>::infinity();
}

struct Entry {
  const char* name;
  const char* description;
  Kind kind;
  bool cumulative;
  void (*fill)(Sources& s, Value* v);
};

#define U64(expr) [](Sources& s, Value* v) { (void)s; v->set_uint64(expr); }
#define F64(expr) [](Sources& s, Value* v) { (void)s; v->set_float64(expr); }

// Sorted by name (read() searches it).
const Entry kEntries[] = {
    {"/cpu/classes/gc/mark/assist:cpu-seconds",
     "CPU time goroutines spent assisting the collector's marking to pay for their allocation.",
     Kind::kFloat64, true, F64(seconds(s.c().assist))},
    {"/cpu/classes/gc/mark/dedicated:cpu-seconds",
     "CPU time spent marking by the mark workers and the collecting goroutine.", Kind::kFloat64,
     true, F64(seconds(s.c().background))},
    {"/cpu/classes/gc/mark/idle:cpu-seconds",
     "CPU time spent marking on otherwise idle processors.", Kind::kFloat64, true,
     F64(seconds(s.c().idle))},
    {"/cpu/classes/gc/pause:cpu-seconds",
     "Stop-the-world pause time of the collector times GOMAXPROCS.", Kind::kFloat64, true,
     F64(seconds(s.c().pause))},
    {"/cpu/classes/gc/total:cpu-seconds",
     "CPU time spent by the collector: mark assist, dedicated, idle and pause.", Kind::kFloat64,
     true, F64(seconds(s.c().assist + s.c().background + s.c().idle + s.c().pause))},
    {"/cpu/classes/total:cpu-seconds",
     "Available CPU time: GOMAXPROCS integrated over wall time since the process started.",
     Kind::kFloat64, true, F64(seconds(s.c().available))},
    {"/gc/cycles/automatic:gc-cycles", "Completed GC cycles started by the runtime.",
     Kind::kUint64, true, U64(uint64_t{s.m().num_gc} - s.m().num_forced_gc)},
    {"/gc/cycles/forced:gc-cycles", "Completed GC cycles started by rt::gc().", Kind::kUint64,
     true, U64(s.m().num_forced_gc)},
    {"/gc/cycles/total:gc-cycles", "All completed GC cycles.", Kind::kUint64, true,
     U64(s.m().num_gc)},
    {"/gc/gogc:percent",
     "Heap growth percentage: RT_GOGC or rt::set_gc_percent (100 by default; off reads as "
     "2^64-1, Go's -1).",
     Kind::kUint64, false,
     U64(rt::collector::pacer::gc_percent() < 0
             ? UINT64_MAX
             : static_cast<uint64_t>(rt::collector::pacer::gc_percent()))},
    {"/gc/gomemlimit:bytes",
     "Memory limit: RT_MEMLIMIT or rt::set_memory_limit (2^63-1 when none is set, as Go's "
     "default).",
     Kind::kUint64, false, U64(static_cast<uint64_t>(rt::collector::pacer::memory_limit()))},
    {"/gc/heap/allocs:bytes", "Cumulative bytes allocated on the heap.", Kind::kUint64, true,
     U64(s.m().total_alloc)},
    {"/gc/heap/allocs:objects", "Cumulative heap objects allocated.", Kind::kUint64, true,
     U64(s.m().mallocs)},
    {"/gc/heap/frees:bytes", "Cumulative heap bytes freed.", Kind::kUint64, true,
     U64(sub0(s.m().total_alloc, s.m().heap_alloc))},
    {"/gc/heap/frees:objects", "Cumulative heap objects freed.", Kind::kUint64, true,
     U64(s.m().frees)},
    {"/gc/heap/goal:bytes", "Heap size target for the end of the next GC cycle.", Kind::kUint64,
     false, U64(rt::collector::heap_goal())},
    {"/gc/heap/live:bytes", "Heap bytes the last GC cycle marked reachable.", Kind::kUint64,
     false, U64(s.g().marked_bytes)},
    {"/gc/heap/objects:objects", "Heap objects allocated and not yet freed.", Kind::kUint64,
     false, U64(s.m().heap_objects)},
    {"/gc/pauses:seconds", "Distribution of single stop-the-world pauses of the collector.",
     Kind::kFloat64Histogram, true, pause_histogram},
    {"/memory/classes/heap/free:bytes",
     "Free heap memory still backed by the OS (not released).", Kind::kUint64, false,
     U64(sub0(s.m().heap_idle, s.m().heap_released))},
    {"/memory/classes/heap/objects:bytes", "Heap memory occupied by allocated objects.",
     Kind::kUint64, false, U64(s.m().heap_alloc)},
    {"/memory/classes/heap/released:bytes", "Free heap memory released to the OS.",
     Kind::kUint64, false, U64(s.m().heap_released)},
    {"/memory/classes/heap/stacks:bytes",
     "Memory reserved for goroutine stacks, in use or pooled (MemStats.stack_sys).",
     Kind::kUint64, false, U64(s.m().stack_sys)},
    {"/memory/classes/heap/unused:bytes",
     "Memory in in-use heap spans not occupied by objects (fragmentation).", Kind::kUint64, false,
     U64(sub0(s.m().heap_inuse, s.m().heap_alloc))},
    {"/memory/classes/metadata/other:bytes", "Memory for runtime metadata that is counted.",
     Kind::kUint64, false,
     U64(sub0(s.m().sys, s.m().heap_sys + s.m().stack_sys))},
    {"/memory/classes/total:bytes", "All memory mapped by the runtime (MemStats.sys).",
     Kind::kUint64, false, U64(s.m().sys)},
    {"/sched/gomaxprocs:threads", "GOMAXPROCS: the number of Ps.", Kind::kUint64, false,
     U64(static_cast<uint64_t>(rt::sched::gomaxprocs_n.load(std::memory_order_relaxed)))},
    {"/sched/goroutines:goroutines", "Live user goroutines.", Kind::kUint64, false,
     U64(static_cast<uint64_t>(rt::num_goroutine()))},
    {"/sched/pauses/total/gc:seconds",
     "Distribution of the collector's stop-the-world pauses (the same as /gc/pauses:seconds).",
     Kind::kFloat64Histogram, true, pause_histogram},
};

#undef U64
#undef F64

const Entry* find(const char* name) {
  if (name == nullptr) return nullptr;
  auto less = [](const Entry& e, const char* n) { return std::strcmp(e.name, n) < 0; };
  const Entry* end = kEntries + sizeof(kEntries) / sizeof(kEntries[0]);
  const Entry* e = std::lower_bound(kEntries, end, name, less);
  return e != end && std::strcmp(e->name, name) == 0 ? e : nullptr;
}

}  // namespace

std::vector<Description> all() {
  std::vector<Description> out;
  for (const Entry& e : kEntries) out.push_back({e.name, e.description, e.kind, e.cumulative});
  return out;
}

void read(Sample* samples, size_t n) {
  Sources src;
  for (size_t i = 0; i < n; i++) {
    const Entry* e = find(samples[i].name);
    if (e == nullptr) {
      samples[i].value.set_bad();
      continue;
    }
    e->fill(src, &samples[i].value);
  }
}

}  // namespace rt::metrics
