// The collector's observable numbers: MemStats' GC fields after forced
// cycles (counts, the pause rings, last_gc, GC CPU fraction, stacks, sys),
// RT_DEBUG=gctrace=1 lines parsed with Go's field layout in a child process
// (and the parser checked against lines Go itself printed), the gctrace
// number formatting, and rt::metrics agreeing with MemStats / GcStats.
//
// Outside namespace rt: test code must stay preemptible.
#include <gtest/gtest.h>
#include <regex.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "gc/collector.h"
#include "gc/gctrace.h"
#include "goroutine_fixture.h"
#include "rt/rt.h"
#include "sched/stack.h"
#include "sched_test_util.h"

namespace {

uint64_t unix_now_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

// Garbage for a cycle to free, made in a frame that is gone before it runs.
[[gnu::noinline]] void make_garbage(int n) {
  for (int i = 0; i < n; i++) rt::keep_alive(rt::make_array<uint64_t>(64));
}

uint64_t hist_sum(const uint64_t* h, int n) {
  uint64_t s = 0;
  for (int i = 0; i < n; i++) s += h[i];
  return s;
}

// --- MemStats -------------------------------------------------------------

TEST(GcStats, MemStatsAfterForcedCycles) {
  gotest::run_go(0, [] {
    constexpr int kCycles = 5;
    rt::MemStats before = rt::read_mem_stats();
    uint64_t t0 = unix_now_ns();
    for (int i = 0; i < kCycles; i++) {
      make_garbage(1000);
      rt::gc();
    }
    rt::MemStats m = rt::read_mem_stats();
    rt::GcStats g = rt::gc_stats();
    uint64_t now = unix_now_ns();

    EXPECT_GE(m.num_gc - before.num_gc, static_cast<uint32_t>(kCycles));
    EXPECT_EQ(m.num_forced_gc - before.num_forced_gc, static_cast<uint32_t>(kCycles));
    EXPECT_LE(m.num_forced_gc, m.num_gc);
    EXPECT_GE(g.cycles, m.num_gc);  // a background cycle may end in between
    // The rings: the last kCycles entries are set, their ends increase,
    // and the most recent one is last_gc.
    uint64_t ring_sum = 0;
    for (int i = 0; i < kCycles; i++) {
      size_t k = (m.num_gc + 255 - i) % 256;
      EXPECT_GT(m.pause_ns[k], 0u) << "cycle " << m.num_gc - i;
      EXPECT_GT(m.pause_end[k], 0u);
      if (i > 0) {
        EXPECT_LT(m.pause_end[k], m.pause_end[(k + 1) % 256]);
      }
      ring_sum += m.pause_ns[k];
    }
    EXPECT_EQ(m.pause_end[(m.num_gc + 255) % 256], m.last_gc);
    EXPECT_GE(m.pause_total_ns - before.pause_total_ns, ring_sum);
    EXPECT_GE(m.last_gc, t0 - 1'000'000'000u);
    EXPECT_LE(m.last_gc, now);
    EXPECT_LT(now - m.last_gc, 5'000'000'000u);
    EXPECT_GT(m.gc_cpu_fraction, 0.0);
    EXPECT_LT(m.gc_cpu_fraction, 1.0);
    EXPECT_GT(m.next_gc, 0u);
    // Stacks: at least this goroutine's; sys covers heap and stacks.
    EXPECT_GE(m.stack_inuse, rt::sched::stack_size());
    EXPECT_GE(m.stack_sys, m.stack_inuse);
    EXPECT_GE(m.sys, m.heap_sys + m.stack_sys);
  });
}

TEST(GcStats, StackInuseCountsParkedGoroutines) {
  gotest::run_go(0, [] {
    constexpr int kGoroutines = 10;
    auto release = rt::make_chan<int>();
    rt::WaitGroup started;
    started.add(kGoroutines);
    for (int i = 0; i < kGoroutines; i++) {
      rt::go([release, &started]() mutable {
        started.done();
        release.recv();
      });
    }
    started.wait();
    rt::MemStats m = rt::read_mem_stats();
    EXPECT_GE(m.stack_inuse, (kGoroutines + 1) * rt::sched::stack_size());
    EXPECT_GE(m.stack_sys, m.stack_inuse);
    release.close();
  });
}

// --- gctrace ----------------------------------------------------------------

// Go's gctrace layout (mgc.go, gcMarkTermination) as a POSIX extended
// regex: a time is whole ms or decimals, heap figures whole MB. Groups: 1
// cycle, 2 seconds, 3 percent, 4-6 clock, 7-11 cpu, 12-14 heap, 15 goal,
// 16 stacks, 17 globals, 18 P, 19 " (forced)".
#define MS "([0-9]+|[0-9]+\\.[0-9]+)"
const char* const kTraceRe =
    "^gc ([0-9]+) @([0-9]+\\.[0-9]{3})s ([0-9]+)%: "
    MS "\\+" MS "\\+" MS " ms clock, "
    MS "\\+" MS "/" MS "/" MS "\\+" MS " ms cpu, "
    "([0-9]+)->([0-9]+)->([0-9]+) MB, ([0-9]+) MB goal, ([0-9]+) MB stacks, ([0-9]+) MB globals, "
    "([0-9]+) P( \\(forced\\))?$";
#undef MS

// A compiled kTraceRe; match() fills the groups of one line.
struct TraceRe {
  regex_t re;
  regmatch_t m[20];
  TraceRe() { EXPECT_EQ(regcomp(&re, kTraceRe, REG_EXTENDED), 0); }
  ~TraceRe() { regfree(&re); }
  bool match(const std::string& line) { return regexec(&re, line.c_str(), 20, m, 0) == 0; }
  bool matched(int i) const { return m[i].rm_so >= 0; }
  std::string group(const std::string& line, int i) const {
    return matched(i) ? line.substr(m[i].rm_so, m[i].rm_eo - m[i].rm_so) : "";
  }
};

TEST(GcStats, TraceRegexReadsGoLines) {
  // Printed by go1.19 with GODEBUG=gctrace=1.
  const char* go_lines[] = {
      "gc 2 @0.027s 18%: 7.9+0.28+0.003 ms clock, 15+0/0.17/0+0.007 ms cpu, 8->8->8 MB, "
      "16 MB goal, 0 MB stacks, 0 MB globals, 2 P (forced)",
      "gc 5 @0.094s 10%: 0.023+7.4+0.005 ms clock, 0.046+0/6.7/0+0.010 ms cpu, 16->16->16 MB, "
      "16 MB goal, 0 MB stacks, 0 MB globals, 2 P",
  };
  TraceRe re;
  for (const char* l : go_lines) EXPECT_TRUE(re.match(l)) << l;
  EXPECT_FALSE(re.match("gc 1 @0.1s 0%: 1+1+1 ms clock"));
}

TEST(GcStats, TraceFormatsNumbersAsGo) {
  rt::collector::TraceLine t;
  t.num_gc = 12;
  t.since_start_ns = 27'400'000;  // 0.027 s
  t.util_percent = 18;
  t.clock_ns[0] = 7'912'000;      // 7.9 ms
  t.clock_ns[1] = 280'500;        // 0.28
  t.clock_ns[2] = 3'100;          // 0.003
  t.cpu_ns[0] = 15'824'000;       // whole ms from 10 ms: 15
  t.cpu_ns[1] = 0;
  t.cpu_ns[2] = 170'000;
  t.cpu_ns[3] = 999;              // under a microsecond: 0
  t.cpu_ns[4] = 7'000;
  t.heap0 = uint64_t{8} << 20;
  t.heap1 = (uint64_t{9} << 20) - 1;
  t.heap2 = uint64_t{3} << 20;
  t.goal = uint64_t{16} << 20;
  t.procs = 2;
  t.forced = true;
  char buf[rt::collector::kTraceLineMax];
  size_t n = rt::collector::format_trace_line(t, buf);
  EXPECT_EQ(std::string(buf, n),
            "gc 12 @0.027s 18%: 7.9+0.28+0.003 ms clock, 15+0/0.17/0+0.007 ms cpu, 8->8->3 MB, "
            "16 MB goal, 0 MB stacks, 0 MB globals, 2 P (forced)\n");
  t.forced = false;
  t.since_start_ns = 61'234'567'890;
  t.clock_ns[1] = 123'456'789;
  n = rt::collector::format_trace_line(t, buf);
  EXPECT_EQ(std::string(buf, n),
            "gc 12 @61.234s 18%: 7.9+123+0.003 ms clock, 15+0/0.17/0+0.007 ms cpu, 8->8->3 MB, "
            "16 MB goal, 0 MB stacks, 0 MB globals, 2 P\n");
}

// Reads everything written to fd since offset 0.
std::string read_all(int fd) {
  std::string s;
  char buf[4096];
  ssize_t n;
  off_t off = 0;
  while ((n = pread(fd, buf, sizeof(buf), off)) > 0) {
    s.append(buf, static_cast<size_t>(n));
    off += n;
  }
  return s;
}

// A child with RT_DEBUG=gctrace=1 runs forced and allocation-triggered
// cycles with its stderr captured, then checks every line: Go's layout,
// cycle numbers 1, 2, 3..., GOMAXPROCS, and "(forced)" on rt::gc()'s.
[[noreturn]] void gctrace_child() {
  schedtest::child_deadline(60);
  int cap = memfd_create("gctrace", 0);
  int saved = dup(2);
  if (cap < 0 || saved < 0 || dup2(cap, 2) < 0) _exit(3);
  setenv("RT_DEBUG", "gctrace=1", 1);
  setenv("RT_MAXPROCS", "2", 1);
  int rc = rt::run(0, nullptr, [] {
    for (int i = 0; i < 3; i++) {
      make_garbage(2000);
      rt::gc();
    }
    // About 24 MiB of garbage: past the 4 MiB trigger, so the background
    // runner collects too.
    for (int i = 0; i < 3000; i++) rt::keep_alive(rt::make_array<char>(8192));
    rt::gc();
    return 0;
  });
  dup2(saved, 2);
  std::string out = read_all(cap);
  TraceRe re;
  uint64_t expect = 1, forced = 0;
  size_t pos = 0;
  while (pos < out.size()) {
    size_t nl = out.find('\n', pos);
    if (nl == std::string::npos) nl = out.size();
    std::string line = out.substr(pos, nl - pos);
    pos = nl + 1;
    if (!re.match(line)) {
      fprintf(stderr, "unparsed line: [%s]\n", line.c_str());
      _exit(1);
    }
    if (std::stoull(re.group(line, 1)) != expect || re.group(line, 18) != "2") {
      fprintf(stderr, "wrong number or P (want gc %llu, 2 P): [%s]\n",
              static_cast<unsigned long long>(expect), line.c_str());
      _exit(1);
    }
    expect++;
    if (re.matched(19)) forced++;
  }
  fprintf(stderr, "rc=%d lines=%llu forced=%llu\n", rc, static_cast<unsigned long long>(expect - 1),
          static_cast<unsigned long long>(forced));
  _exit(rc == 0 && forced == 4 && expect - 1 >= 4 ? 0 : 1);
}

TEST(GcStatsDeathTest, GctraceLinesParse) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(gctrace_child(), testing::ExitedWithCode(0), "rc=0 lines=[0-9]+ forced=4");
}

// --- metrics -----------------------------------------------------------------

const char* const kRequired[] = {
    "/gc/heap/goal:bytes",
    "/gc/cycles/total:gc-cycles",
    "/gc/cycles/forced:gc-cycles",
    "/gc/cycles/automatic:gc-cycles",
    "/gc/heap/allocs:bytes",
    "/gc/heap/allocs:objects",
    "/gc/heap/frees:bytes",
    "/gc/heap/frees:objects",
    "/gc/heap/objects:objects",
    "/gc/heap/live:bytes",
    "/gc/pauses:seconds",
    "/sched/pauses/total/gc:seconds",
    "/sched/goroutines:goroutines",
    "/sched/gomaxprocs:threads",
    "/memory/classes/heap/objects:bytes",
    "/memory/classes/heap/free:bytes",
    "/memory/classes/heap/released:bytes",
    "/memory/classes/heap/stacks:bytes",
    "/memory/classes/total:bytes",
    "/cpu/classes/gc/mark/assist:cpu-seconds",
    "/cpu/classes/gc/mark/dedicated:cpu-seconds",
    "/cpu/classes/gc/pause:cpu-seconds",
    "/cpu/classes/gc/total:cpu-seconds",
    "/cpu/classes/total:cpu-seconds",
    "/gc/gogc:percent",
    "/gc/gomemlimit:bytes",
};

TEST(GcMetrics, AllListsEveryMetricOnceAndEachReads) {
  std::vector<rt::metrics::Description> d = rt::metrics::all();
  for (size_t i = 1; i < d.size(); i++) EXPECT_LT(d[i - 1].name, d[i].name);
  for (const char* name : kRequired) {
    bool found = false;
    for (const auto& e : d) found |= e.name == name;
    EXPECT_TRUE(found) << name;
  }
  for (const auto& e : d) {
    EXPECT_FALSE(e.description.empty()) << e.name;
    rt::metrics::Sample s{e.name.c_str(), {}};
    rt::metrics::read(&s, 1);
    EXPECT_EQ(s.value.kind(), e.kind) << e.name;
    EXPECT_NE(e.kind, rt::metrics::Kind::kBad) << e.name;
  }
}

TEST(GcMetrics, UnknownNameIsBad) {
  rt::metrics::Sample s[] = {{"/gc/no/such:metric", {}}, {"/gc/cycles/total:gc-cycles", {}},
                             {"", {}}, {nullptr, {}}, {"/gc/cycles/total", {}}};
  rt::metrics::read(s, 5);
  EXPECT_EQ(s[0].value.kind(), rt::metrics::Kind::kBad);
  EXPECT_EQ(s[1].value.kind(), rt::metrics::Kind::kUint64);
  EXPECT_EQ(s[2].value.kind(), rt::metrics::Kind::kBad);
  EXPECT_EQ(s[3].value.kind(), rt::metrics::Kind::kBad);
  EXPECT_EQ(s[4].value.kind(), rt::metrics::Kind::kBad);
}

TEST(GcMetrics, AgreeWithMemStatsAndGcStats) {
  gotest::run_go(0, [] {
    rt::GcStats g0 = rt::gc_stats();
    make_garbage(1000);
    rt::gc();
    std::vector<rt::metrics::Sample> s;
    for (const char* name : kRequired) s.push_back({name, {}});
    s.push_back({"/memory/classes/heap/unused:bytes", {}});
    s.push_back({"/memory/classes/metadata/other:bytes", {}});
    s.push_back({"/cpu/classes/gc/mark/idle:cpu-seconds", {}});
    rt::MemStats m = rt::read_mem_stats();
    rt::GcStats g = rt::gc_stats();
    rt::metrics::read(s.data(), s.size());
    rt::MemStats m2 = rt::read_mem_stats();
    auto u = [&](const char* name) -> uint64_t {
      for (auto& x : s)
        if (std::strcmp(x.name, name) == 0) {
          EXPECT_EQ(x.value.kind(), rt::metrics::Kind::kUint64) << name;
          return x.value.uint64();
        }
      ADD_FAILURE() << name;
      return 0;
    };
    auto f = [&](const char* name) -> double {
      for (auto& x : s)
        if (std::strcmp(x.name, name) == 0) {
          EXPECT_EQ(x.value.kind(), rt::metrics::Kind::kFloat64) << name;
          return x.value.float64();
        }
      ADD_FAILURE() << name;
      return 0;
    };
    auto h = [&](const char* name) -> const rt::metrics::Histogram& {
      for (auto& x : s)
        if (std::strcmp(x.name, name) == 0) {
          EXPECT_EQ(x.value.kind(), rt::metrics::Kind::kFloat64Histogram) << name;
          return x.value.histogram();
        }
      static rt::metrics::Histogram none;
      ADD_FAILURE() << name;
      return none;
    };
    // Cycle counts cannot move unless a background cycle ends in between;
    // then both MemStats reads straddle it.
    if (m.num_gc == m2.num_gc) {
      EXPECT_EQ(u("/gc/cycles/total:gc-cycles"), m.num_gc);
      EXPECT_EQ(u("/gc/cycles/total:gc-cycles"), g.cycles);
      EXPECT_EQ(u("/gc/cycles/forced:gc-cycles"), m.num_forced_gc);
      EXPECT_EQ(u("/gc/cycles/automatic:gc-cycles"), m.num_gc - m.num_forced_gc);
      EXPECT_EQ(u("/gc/heap/goal:bytes"), m.next_gc);
      EXPECT_EQ(u("/gc/heap/live:bytes"), g.marked_bytes);
      const rt::metrics::Histogram& p = h("/gc/pauses:seconds");
      ASSERT_EQ(p.buckets.size(), p.counts.size() + 1);
      uint64_t n = 0;
      for (uint64_t c : p.counts) n += c;
      EXPECT_EQ(n, hist_sum(g.pause_hist, rt::GcStats::kPauseBuckets));
      // This cycle's pauses (two, more on a mark termination retry) are in.
      EXPECT_GE(n - hist_sum(g0.pause_hist, rt::GcStats::kPauseBuckets), 1u);
      for (size_t i = 1; i < p.buckets.size(); i++) EXPECT_LT(p.buckets[i - 1], p.buckets[i]);
      EXPECT_TRUE(std::isinf(p.buckets.back()));
      const rt::metrics::Histogram& q = h("/sched/pauses/total/gc:seconds");
      EXPECT_EQ(q.counts, p.counts);
      EXPECT_EQ(q.buckets, p.buckets);
    }
    // Cumulative counters lie between the two MemStats reads.
    EXPECT_GE(u("/gc/heap/allocs:objects"), m.mallocs);
    EXPECT_LE(u("/gc/heap/allocs:objects"), m2.mallocs);
    EXPECT_GE(u("/gc/heap/allocs:bytes"), m.total_alloc);
    EXPECT_LE(u("/gc/heap/allocs:bytes"), m2.total_alloc);
    EXPECT_GE(u("/gc/heap/frees:objects"), m.frees);
    EXPECT_LE(u("/gc/heap/frees:objects"), m2.frees);
    // Memory classes come from one MemStats read: they add up.
    uint64_t total = u("/memory/classes/total:bytes");
    EXPECT_EQ(total, u("/memory/classes/heap/objects:bytes") + u("/memory/classes/heap/unused:bytes") +
                         u("/memory/classes/heap/free:bytes") +
                         u("/memory/classes/heap/released:bytes") +
                         u("/memory/classes/heap/stacks:bytes") +
                         u("/memory/classes/metadata/other:bytes"));
    EXPECT_GE(u("/memory/classes/heap/stacks:bytes"), rt::sched::stack_size());
    EXPECT_GE(u("/sched/goroutines:goroutines"), 1u);
    EXPECT_EQ(u("/sched/gomaxprocs:threads"), static_cast<uint64_t>(rt::gomaxprocs()));
    EXPECT_GT(u("/gc/gogc:percent"), 0u);
    EXPECT_GT(u("/gc/gomemlimit:bytes"), 0u);
    // CPU classes: the GC total is its parts, and less than all CPU.
    double assist = f("/cpu/classes/gc/mark/assist:cpu-seconds");
    double dedicated = f("/cpu/classes/gc/mark/dedicated:cpu-seconds");
    double idle = f("/cpu/classes/gc/mark/idle:cpu-seconds");
    double pause = f("/cpu/classes/gc/pause:cpu-seconds");
    double gc_total = f("/cpu/classes/gc/total:cpu-seconds");
    EXPECT_GE(assist, 0.0);
    EXPECT_GT(dedicated, 0.0);
    EXPECT_GE(idle, 0.0);
    EXPECT_GT(pause, 0.0);
    EXPECT_NEAR(gc_total, assist + dedicated + idle + pause, 1e-9);
    EXPECT_LT(gc_total, f("/cpu/classes/total:cpu-seconds"));
  });
}

}  // namespace
