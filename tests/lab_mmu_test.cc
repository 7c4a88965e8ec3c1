// The MMU computation (tools/lab/mmu.h) on hand-made event lists whose
// curves are worked out by hand: one pause in a 10 ms trace, a mark worker
// holding one P of four, two pauses close together, assists and workers on
// the same P counted once, windows longer than the trace, and the default
// window list.
#include <gtest/gtest.h>

#include <algorithm>
#include <climits>
#include <vector>

#include "rt/trace.h"
#include "tools/lab/mmu.h"

namespace {

using rt::trace::Event;
using rt::trace::Kind;

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kBase = 1'000 * kMs;  // an arbitrary clock origin

Event span(Kind k, int32_t p, uint64_t from_ms, uint64_t dur_ns) {
  return Event{kBase + from_ms * kMs, dur_ns, k, p, 0, 0, 0};
}

// A goroutine run over the whole [0, len_ms]: what sets the trace's span.
Event whole(uint64_t len_ms) { return span(Kind::kGoRun, 0, 0, len_ms * kMs); }

double mmu_at(const std::vector<Event>& ev, int procs, uint64_t window) {
  auto c = lab::mmu_curve(ev, procs, {window});
  EXPECT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].window_ns, window);
  return c.empty() ? -1 : c[0].mmu;
}

TEST(LabMmu, OnePauseInTenMilliseconds) {
  std::vector<Event> ev{whole(10), span(Kind::kStwSweepTermination, -1, 4, kMs)};
  EXPECT_DOUBLE_EQ(mmu_at(ev, 4, kMs), 0.0);
  EXPECT_DOUBLE_EQ(mmu_at(ev, 4, kMs / 2), 0.0);
  EXPECT_DOUBLE_EQ(mmu_at(ev, 4, 2 * kMs), 0.5);
  EXPECT_DOUBLE_EQ(mmu_at(ev, 4, 4 * kMs), 0.75);
  EXPECT_DOUBLE_EQ(mmu_at(ev, 4, 10 * kMs), 0.9);
  // GOMAXPROCS does not matter for a pause.
  EXPECT_DOUBLE_EQ(mmu_at(ev, 1, 2 * kMs), 0.5);
}

TEST(LabMmu, PauseAtTheTraceEdge) {
  // The window cannot reach past the trace: at the start, a 2 ms window
  // holds the whole 1 ms pause.
  std::vector<Event> ev{whole(10), span(Kind::kStwMarkTermination, -1, 0, kMs)};
  EXPECT_DOUBLE_EQ(mmu_at(ev, 2, 2 * kMs), 0.5);
  EXPECT_DOUBLE_EQ(mmu_at(ev, 2, 5 * kMs), 0.8);
}

TEST(LabMmu, MarkWorkerOnOneOfFourPs) {
  std::vector<Event> ev{whole(10), span(Kind::kMarkWorkerDedicated, 2, 2, 6 * kMs)};
  EXPECT_DOUBLE_EQ(mmu_at(ev, 4, kMs), 0.75);
  EXPECT_DOUBLE_EQ(mmu_at(ev, 4, 6 * kMs), 0.75);
  // 8 ms: at least 6 ms of it at 3/4.
  EXPECT_DOUBLE_EQ(mmu_at(ev, 4, 8 * kMs), (6 * 0.75 + 2) / 8);
  EXPECT_DOUBLE_EQ(mmu_at(ev, 4, 10 * kMs), (6 * 0.75 + 4) / 10);
  // Fractional workers and assists take their P the same way.
  ev[1].kind = Kind::kMarkWorkerFractional;
  EXPECT_DOUBLE_EQ(mmu_at(ev, 4, kMs), 0.75);
  ev[1].kind = Kind::kAssist;
  EXPECT_DOUBLE_EQ(mmu_at(ev, 4, kMs), 0.75);
}

TEST(LabMmu, IdleWorkersCountOnlyWhenAsked) {
  std::vector<Event> ev{whole(10), span(Kind::kMarkWorkerIdle, 1, 2, 6 * kMs)};
  EXPECT_DOUBLE_EQ(mmu_at(ev, 4, kMs), 1.0);
  lab::MmuOptions opt;
  opt.count_idle_workers = true;
  auto c = lab::mmu_curve(ev, 4, {kMs}, opt);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_DOUBLE_EQ(c[0].mmu, 0.75);
}

TEST(LabMmu, SpansOnOneP) {
  // An assist and a worker on the same P count once; on two Ps, twice.
  std::vector<Event> ev{whole(10), span(Kind::kMarkWorkerDedicated, 1, 2, 4 * kMs),
                        span(Kind::kAssist, 1, 3, kMs)};
  EXPECT_DOUBLE_EQ(mmu_at(ev, 4, kMs), 0.75);
  ev[2].p = 3;
  EXPECT_DOUBLE_EQ(mmu_at(ev, 4, kMs), 0.5);
  // More busy Ps than GOMAXPROCS: none left, not less.
  EXPECT_DOUBLE_EQ(mmu_at(ev, 1, kMs), 0.0);
}

TEST(LabMmu, TwoPausesCloseTogether) {
  // Pauses of 1 ms at [2, 3] and [4, 5] ms in a 20 ms trace.
  std::vector<Event> ev{whole(20), span(Kind::kStwSweepTermination, -1, 2, kMs),
                        span(Kind::kStwMarkTermination, -1, 4, kMs)};
  EXPECT_DOUBLE_EQ(mmu_at(ev, 4, kMs), 0.0);
  EXPECT_DOUBLE_EQ(mmu_at(ev, 4, 2 * kMs), 0.5);   // one pause and a gap
  EXPECT_DOUBLE_EQ(mmu_at(ev, 4, 3 * kMs), 1.0 / 3);  // both pauses: [2, 5]
  EXPECT_DOUBLE_EQ(mmu_at(ev, 4, 4 * kMs), 0.5);
  EXPECT_DOUBLE_EQ(mmu_at(ev, 4, 10 * kMs), 0.8);
  EXPECT_DOUBLE_EQ(mmu_at(ev, 4, 20 * kMs), 0.9);
  // Overlapping pauses count once.
  ev.push_back(span(Kind::kStwMarkTermination, -1, 2, kMs / 2));
  EXPECT_DOUBLE_EQ(mmu_at(ev, 4, 20 * kMs), 0.9);
}

TEST(LabMmu, PauseDuringMarkWork) {
  // A worker on 1 of 2 Ps over [0, 10], a pause over [4, 5].
  std::vector<Event> ev{whole(10), span(Kind::kMarkWorkerDedicated, 0, 0, 10 * kMs),
                        span(Kind::kStwMarkTermination, -1, 4, kMs)};
  EXPECT_DOUBLE_EQ(mmu_at(ev, 2, kMs), 0.0);
  EXPECT_DOUBLE_EQ(mmu_at(ev, 2, 2 * kMs), 0.25);
  EXPECT_DOUBLE_EQ(mmu_at(ev, 2, 10 * kMs), 0.45);
}

TEST(LabMmu, WindowsLongerThanTheTrace) {
  std::vector<Event> ev{whole(10), span(Kind::kStwSweepTermination, -1, 4, kMs)};
  auto c = lab::mmu_curve(ev, 4, {20 * kMs, 10'000 * kMs});
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].window_ns, 20 * kMs);
  EXPECT_DOUBLE_EQ(c[0].mmu, 0.9);  // the whole trace
  EXPECT_DOUBLE_EQ(c[1].mmu, 0.9);
  // An explicit span longer than the events: the rest is mutator time.
  lab::MmuOptions opt;
  opt.t0_ns = kBase;
  opt.t1_ns = kBase + 20 * kMs;
  c = lab::mmu_curve(ev, 4, {20 * kMs}, opt);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_DOUBLE_EQ(c[0].mmu, 0.95);
}

TEST(LabMmu, NoGcAndNoEvents) {
  EXPECT_DOUBLE_EQ(mmu_at({whole(10)}, 4, kMs), 1.0);
  EXPECT_DOUBLE_EQ(mmu_at({whole(10)}, 4, 0), 0.0);  // Go's convention for an empty window
  EXPECT_TRUE(lab::mmu_curve({}, 4, {kMs}).empty());
}

// Against brute force on a grid: with every step on a 100 us grid and
// windows of whole grid steps, the lowest window starts on the grid too,
// so trying every grid start gives the exact MMU.
TEST(LabMmu, MatchesBruteForceOnAGrid) {
  constexpr uint64_t kGrid = 100'000;
  constexpr int kProcs = 4;
  constexpr uint64_t kLen = 2000;  // grid steps: 200 ms
  std::vector<Event> ev{Event{kBase, kLen * kGrid, Kind::kGoRun, 0, 0, 0, 0}};
  uint64_t seed = 12345;
  auto next = [&seed](uint64_t n) {
    seed = seed * 6364136223846793005u + 1442695040888963407u;
    return (seed >> 33) % n;
  };
  for (int i = 0; i < 15; i++)
    ev.push_back(Event{kBase + next(kLen) * kGrid, (1 + next(20)) * kGrid, Kind::kStwMarkTermination, -1, 0, 0, 0});
  for (int i = 0; i < 60; i++) {
    uint64_t a = next(kLen);
    ev.push_back(Event{kBase + a * kGrid, std::min<uint64_t>(1 + next(100), kLen - a) * kGrid,
                       Kind::kAssist, static_cast<int32_t>(next(kProcs)), 0, 0, 0});
  }
  // Mutator Ps in each grid step.
  std::vector<int> mut(kLen);
  for (uint64_t s = 0; s < kLen; s++) {
    uint64_t t = kBase + s * kGrid;  // the step is [t, t + kGrid)
    bool paused = false;
    std::vector<bool> busy(kProcs);
    for (const Event& e : ev) {
      if (!(e.ts_ns <= t && t < e.ts_ns + e.dur_ns)) continue;
      if (e.kind == Kind::kStwMarkTermination) paused = true;
      if (e.kind == Kind::kAssist) busy[e.p] = true;
    }
    int b = 0;
    for (bool x : busy) b += x;
    mut[s] = paused ? 0 : kProcs - b;
  }
  std::vector<uint64_t> windows{1, 2, 3, 5, 10, 37, 100, 500, 1999, 2000};
  std::vector<uint64_t> windows_ns;
  for (uint64_t w : windows) windows_ns.push_back(w * kGrid);
  auto c = lab::mmu_curve(ev, kProcs, windows_ns);
  ASSERT_EQ(c.size(), windows.size());
  for (size_t k = 0; k < windows.size(); k++) {
    uint64_t w = windows[k];
    int best = INT32_MAX;
    for (uint64_t a = 0; a + w <= kLen; a++) {
      int sum = 0;
      for (uint64_t s = a; s < a + w; s++) sum += mut[s];
      best = std::min(best, sum);
    }
    EXPECT_NEAR(c[k].mmu, static_cast<double>(best) / static_cast<double>(w * kProcs), 1e-12)
        << "window " << w;
  }
}

TEST(LabMmu, DefaultWindows) {
  std::vector<uint64_t> w = lab::default_windows();
  ASSERT_FALSE(w.empty());
  EXPECT_EQ(w.front(), 100'000u);
  EXPECT_EQ(w.back(), 10'000'000'000u);
  for (size_t i = 1; i < w.size(); i++) EXPECT_LT(w[i - 1], w[i]);
}

}  // namespace
