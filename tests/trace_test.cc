// The execution tracer (rt/trace.h). Scheduler level (SchedTrace, also
// under TSan): goroutine runs for the goroutines that ran, cut at syscall
// scopes; no two spans of one kind overlap on one P; full buffers drop and
// count; start() while recording fails. With the collector (Trace): a
// recording around forced cycles holds one sweep termination and at least one mark
// termination per completed cycle, whose durations sum to the cycle's
// MemStats pause, heap samples, and the Chrome JSON parses (python3's
// json module, in a child process) with the keys viewers need.
//
// Outside namespace rt: test code must stay preemptible.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "goroutine_fixture.h"
#include "rt/rt.h"

namespace {

using rt::trace::Event;
using rt::trace::Kind;

[[gnu::noinline]] void make_garbage(int n) {
  for (int i = 0; i < n; i++) rt::keep_alive(rt::make_array<uint64_t>(64));
}

// Goroutines that yield (and allocate GC'd objects when `allocate`);
// returns their ids.
std::set<uint64_t> run_workers(int n, bool allocate = true) {
  std::set<uint64_t> ids;
  rt::Mutex mu;
  rt::WaitGroup wg;
  for (int i = 0; i < n; i++) {
    wg.add(1);
    rt::go([&] {
      uint64_t id = static_cast<uint64_t>(rt::goid());
      {
        std::lock_guard<rt::Mutex> l(mu);
        ids.insert(id);
      }
      for (int k = 0; k < 20; k++) {
        if (allocate) make_garbage(50);
        rt::gosched();
      }
      wg.done();
    });
  }
  wg.wait();
  return ids;
}

std::vector<Event> of_kind(const std::vector<Event>& ev, Kind k) {
  std::vector<Event> out;
  for (const Event& e : ev)
    if (e.kind == k) out.push_back(e);
  return out;
}

// Every goroutine in `ids` ran (on a P, under its own id), and no two
// spans of one kind overlap on one P.
void check_runs_and_overlaps(const std::vector<Event>& ev, const std::set<uint64_t>& ids) {
  std::set<uint64_t> ran;
  for (const Event& e : of_kind(ev, Kind::kGoRun)) {
    EXPECT_GE(e.p, 0);
    EXPECT_EQ(e.g, e.arg);
    ran.insert(e.g);
  }
  for (uint64_t id : ids) EXPECT_TRUE(ran.count(id)) << "G" << id << " has no run";
  std::map<std::pair<int32_t, int>, uint64_t> busy_until;
  for (const Event& e : ev) {
    if (e.p < 0 || e.kind == Kind::kHeapSample) continue;
    auto key = std::make_pair(e.p, static_cast<int>(e.kind));
    auto it = busy_until.find(key);
    if (it != busy_until.end()) {
      EXPECT_GE(e.ts_ns, it->second) << "overlap on P" << e.p << " " << rt::trace::kind_name(e.kind);
    }
    busy_until[key] = e.ts_ns + e.dur_ns;
  }
}

TEST(Trace, CyclesPausesAndGoroutines) {
  gotest::run_go(0, [] {
    ASSERT_TRUE(rt::trace::start());
    std::set<uint64_t> ids = run_workers(8);
    for (int i = 0; i < 3; i++) {
      make_garbage(200);
      rt::gc();
    }
    ids.merge(run_workers(4));
    rt::trace::stop();
    std::vector<Event> ev = rt::trace::events();
    rt::MemStats ms = rt::read_mem_stats();
    ASSERT_FALSE(ev.empty());
    EXPECT_EQ(rt::trace::dropped(), 0u);
    for (size_t i = 1; i < ev.size(); i++) ASSERT_LE(ev[i - 1].ts_ns, ev[i].ts_ns);

    // Every cycle recorded whole: its pauses, summed, are MemStats'.
    std::vector<Event> cycles = of_kind(ev, Kind::kGcCycle);
    ASSERT_GE(cycles.size(), 3u);
    for (const Event& c : cycles) {
      SCOPED_TRACE("cycle " + std::to_string(c.arg));
      ASSERT_GE(c.arg, 1u);
      ASSERT_LE(c.arg, ms.num_gc);
      int sweep = 0, markterm = 0;
      uint64_t sum = 0;
      for (const Event& e : ev) {
        if ((e.kind == Kind::kStwSweepTermination || e.kind == Kind::kStwMarkTermination) &&
            e.arg == c.arg) {
          (e.kind == Kind::kStwSweepTermination ? sweep : markterm)++;
          sum += e.dur_ns;
          EXPECT_EQ(e.p, -1);
          // Inside the cycle's span.
          EXPECT_GE(e.ts_ns, c.ts_ns);
          EXPECT_LE(e.ts_ns + e.dur_ns, c.ts_ns + c.dur_ns);
        }
      }
      EXPECT_EQ(sweep, 1);
      EXPECT_GE(markterm, 1);  // a mark termination may restart the world and retry
      if (ms.num_gc - c.arg < 256) {
        uint64_t want = ms.pause_ns[(c.arg - 1) % 256];
        // The same readings: equal but for rounding.
        EXPECT_NEAR(static_cast<double>(sum), static_cast<double>(want), 1000.0);
      }
    }
    // Heap samples: two per cycle, with a goal.
    std::vector<Event> heap = of_kind(ev, Kind::kHeapSample);
    EXPECT_GE(heap.size(), 2 * cycles.size());
    for (const Event& h : heap) EXPECT_GT(h.arg2, 0u);

    check_runs_and_overlaps(ev, ids);
  });
}

// Scheduler only (no collector: these run under TSan too).

TEST(SchedTrace, GoroutineRuns) {
  gotest::run_go(0, [] {
    ASSERT_TRUE(rt::trace::start());
    std::set<uint64_t> ids = run_workers(8, false);
    // A syscall scope ends a run and the return starts another.
    rt::blocking([] { usleep(1000); });
    rt::trace::stop();
    std::vector<Event> ev = rt::trace::events();
    EXPECT_EQ(rt::trace::dropped(), 0u);
    for (size_t i = 1; i < ev.size(); i++) ASSERT_LE(ev[i - 1].ts_ns, ev[i].ts_ns);
    check_runs_and_overlaps(ev, ids);
    uint64_t me = static_cast<uint64_t>(rt::goid());
    int mine = 0;
    for (const Event& e : of_kind(ev, Kind::kGoRun)) mine += e.g == me;
    EXPECT_GE(mine, 1) << "the caller's runs around its syscall scope";
  });
}

TEST(SchedTrace, StartTwiceFails) {
  gotest::run_go(0, [] {
    ASSERT_TRUE(rt::trace::start());
    EXPECT_TRUE(rt::trace::enabled());
    EXPECT_FALSE(rt::trace::start());
    rt::trace::stop();
    EXPECT_FALSE(rt::trace::enabled());
    rt::trace::stop();  // a second stop does nothing
    ASSERT_TRUE(rt::trace::start());
    rt::trace::stop();
  });
}

TEST(SchedTrace, FullBuffersDropAndCount) {
  gotest::run_go(0, [] {
    ASSERT_TRUE(rt::trace::start(4));
    run_workers(8, false);
    rt::trace::stop();
    std::vector<Event> ev = rt::trace::events();
    EXPECT_GT(rt::trace::dropped(), 0u);
    EXPECT_LE(ev.size(), 4u * (1024 + 1));
    std::map<int32_t, int> per_p;
    for (const Event& e : ev) per_p[e.p]++;
    for (auto [p, n] : per_p) EXPECT_LE(n, 4) << "P" << p;
    // A new recording starts empty, with nothing dropped.
    ASSERT_TRUE(rt::trace::start());
    rt::trace::stop();
    EXPECT_EQ(rt::trace::dropped(), 0u);
  });
}

TEST(Trace, ChromeJsonParses) {
  std::vector<Event> ev;
  gotest::run_go(0, [&] {
    ASSERT_TRUE(rt::trace::start());
    run_workers(4);
    rt::gc();
    rt::trace::stop();
    ev = rt::trace::events();
  });
  ASSERT_FALSE(ev.empty());
  char path[] = "/tmp/rt-trace-test-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  std::FILE* f = fdopen(fd, "w");
  ASSERT_NE(f, nullptr);
  rt::trace::write_chrome_json(ev, f);
  std::fclose(f);
  // The checker prints OK, or what is wrong.
  const char* check = R"PY(
import json, sys
d = json.load(open(sys.argv[1]))
assert d["displayTimeUnit"] == "ns"
evs = d["traceEvents"]
phases = {e["ph"] for e in evs}
assert {"X", "M", "C"} <= phases, phases
names = {e["name"] for e in evs}
for n in ("STW sweep termination", "STW mark termination", "GC cycle", "GC mark", "heap"):
    assert n in names, n
assert any(n.startswith("G") and n[1:].isdigit() for n in names)
assert any(e["ph"] == "M" and e["tid"] == -1 and e["args"].get("name") == "runtime" for e in evs)
for e in evs:
    assert e["pid"] == 1 and isinstance(e["tid"], int)
    if e["ph"] == "X":
        assert isinstance(e["ts"], float) and isinstance(e["dur"], float) and e["dur"] >= 0
    if e["ph"] == "C":
        assert e["args"]["live"] >= 0 and e["args"]["goal"] > 0
print("OK")
)PY";
  std::string cmd = "python3 -c '" + std::string(check) + "' " + path + " 2>&1";
  std::FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  int rc = pclose(p);
  unlink(path);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out, "OK\n");
}

}  // namespace
