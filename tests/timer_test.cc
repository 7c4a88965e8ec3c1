// Timer channels (<rt/time.h>): after() fires once, no earlier than asked;
// timers fire in deadline order; Timer stop/reset with Go 1.23 semantics
// (a stopped or reset timer never delivers a stale value, and until the
// program receives from c, stop() on a running timer returns true, even
// when the timer fired an instant earlier); Ticker ticks on its period
// grid, drops ticks for a slow reader, stops and resets; timers from plain
// threads; timers as select timeouts. Goroutine tests run under the default
// GOMAXPROCS, 1 and 2.
//
// Time bounds are lower bounds (a timer never fires early) plus generous
// liveness bounds (seconds): the machine may be loaded.
//
// The test code lives outside namespace rt (see goroutine_fixture.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "rt/chan.h"
#include "rt/panic.h"
#include "rt/sched.h"
#include "rt/sync.h"
#include "rt/time.h"
#include "tests/chan_test_util.h"

namespace {

using namespace gotest;
using namespace std::chrono_literals;

class TimerTest : public ProcsTest {};
GOTEST_PROCS_SUITE(TimerTest);

constexpr auto kLiveness = 10s;  // "it happens at all" on a loaded machine

using TryRecv = rt::Chan<rt::Time>::TryRecv;

TryRecv poll(rt::Chan<rt::Time>& c) {
  rt::Time t;
  return c.try_recv(t);
}

// ---------------------------------------------------------------------------
// after

TEST_P(TimerTest, AfterFiresOnceNoEarlierThanAsked) {
  run_go(procs(), [] {
    for (auto d : {1ms, 20ms, 50ms}) {
      rt::Time t0 = rt::Clock::now();
      auto c = rt::after(d);
      EXPECT_EQ(c.cap(), 1u);
      rt::Time fired = c.recv();
      auto waited = rt::Clock::now() - t0;
      EXPECT_GE(fired - t0, d) << "the timer fired early";
      EXPECT_GE(waited, d);
      EXPECT_LT(waited, kLiveness);
      // Exactly one value.
      rt::sleep(2 * d);
      EXPECT_EQ(poll(c), TryRecv::kEmpty);
    }
    // Zero and negative durations fire at once.
    rt::Time t0 = rt::Clock::now();
    rt::after(0ns).recv();
    rt::after(-1s).recv();
    EXPECT_LT(rt::Clock::now() - t0, kLiveness);
  });
}

// N timers with durations 20 ms apart, started in shuffled order: each
// fires no earlier than its deadline, and the times they fired at are in
// deadline order. One goroutine per timer forwards (index, fire time) into
// a results channel. The order is read from the fire times (taken by the
// timer itself) rather than from the arrival order on the results
// channel, which also depends on when the forwarding goroutines get to run.
TEST_P(TimerTest, TimersFireInDeadlineOrder) {
  run_go(procs(), [] {
    constexpr int kN = 12;
    constexpr auto kSpacing = 20ms;
    std::vector<int> order(kN);
    for (int i = 0; i < kN; i++) order[i] = i;
    std::shuffle(order.begin(), order.end(), std::mt19937(7));
    auto results = rt::make_chan<std::pair<int, rt::Time>>(kN);
    std::vector<rt::Time> deadline(kN);
    rt::WaitGroup wg;
    {
      // All timers on this goroutine's processor.
      rt::NoPreemptScope no_preempt;
      for (int i : order) {
        auto d = (i + 1) * kSpacing;
        deadline[i] = rt::Clock::now() + d;
        wg.go([i, c = rt::after(d), results]() mutable { results.send({i, c.recv()}); });
      }
    }
    std::vector<std::pair<rt::Time, int>> fired;
    for (int k = 0; k < kN; k++) {
      auto [i, t] = results.recv();
      EXPECT_GE(t, deadline[i]) << "timer " << i << " fired early";
      fired.push_back({t, i});
    }
    wg.wait();
    std::sort(fired.begin(), fired.end());
    for (int k = 0; k < kN; k++) EXPECT_EQ(fired[k].second, k) << "position " << k;
  });
}

// Many short timers from many goroutines (so on several processors' heaps)
// all fire, none early.
TEST_P(TimerTest, ManyTimersAllFire) {
  run_go(procs(), [] {
    constexpr int kG = 10, kPer = 100;
    std::atomic<int> fired{0}, early{0};
    rt::WaitGroup wg;
    for (int g = 0; g < kG; g++) {
      wg.go([&, g] {
        std::mt19937 rng(g);
        std::vector<std::pair<rt::Chan<rt::Time>, rt::Time>> timers;
        for (int i = 0; i < kPer; i++) {
          auto d = std::chrono::microseconds(rng() % 30000);
          rt::Time due = rt::Clock::now() + d;
          timers.emplace_back(rt::after(d), due);
        }
        for (auto& [c, due] : timers) {
          if (c.recv() < due) early++;
          fired++;
        }
      });
    }
    wg.wait();
    EXPECT_EQ(fired.load(), kG * kPer);
    EXPECT_EQ(early.load(), 0);
  });
}

TEST_P(TimerTest, AfterAsSelectTimeout) {
  run_go(procs(), [] {
    auto never = rt::make_chan<int>();
    rt::Time t0 = rt::Clock::now();
    bool timed_out = false;
    int fired = rt::select(rt::recv_case(never), rt::recv_case(rt::after(30ms), [&] { timed_out = true; }));
    EXPECT_EQ(fired, 1);
    EXPECT_TRUE(timed_out);
    EXPECT_GE(rt::Clock::now() - t0, 30ms);
    // The work wins when it is ready before the timeout.
    auto work = rt::make_chan<int>(1);
    work.send(1);
    EXPECT_EQ(rt::select(rt::recv_case(work), rt::recv_case(rt::after(10s))), 0);
  });
}

// ---------------------------------------------------------------------------
// Timer: stop and reset

TEST_P(TimerTest, StopBeforeFiring) {
  run_go(procs(), [] {
    rt::Timer t(30ms);
    EXPECT_TRUE(t.stop());
    EXPECT_FALSE(t.stop()) << "already stopped";
    rt::sleep(80ms);
    EXPECT_EQ(poll(t.c), TryRecv::kEmpty) << "a stopped timer fired";
  });
}

TEST_P(TimerTest, StopAfterReceiving) {
  run_go(procs(), [] {
    rt::Timer t(5ms);
    t.c.recv();
    EXPECT_FALSE(t.stop());
    EXPECT_EQ(poll(t.c), TryRecv::kEmpty);
  });
}

// Go 1.23: the timer fired but nobody received the value yet. Stop
// discards it and reports the timer as stopped.
TEST_P(TimerTest, StopAfterFiringUnreceived) {
  run_go(procs(), [] {
    rt::Timer t(1ms);
    ASSERT_TRUE(wait_until([&] { return t.c.len() == 1; }));
    EXPECT_TRUE(t.stop());
    EXPECT_EQ(poll(t.c), TryRecv::kEmpty) << "a stale value survived stop()";
    EXPECT_FALSE(t.stop());
  });
}

// However close stop() comes to the firing, a timer whose channel the
// program never received from reports true, and leaves nothing to receive.
TEST_P(TimerTest, StopRacingWithFiring) {
  run_go(procs(), [] {
    std::mt19937 rng(11);
    for (int i = 0; i < 300; i++) {
      rt::Timer t(std::chrono::microseconds(rng() % 300));
      if (rng() % 2) {
        rt::sleep(std::chrono::microseconds(rng() % 300));
      } else {
        rt::gosched();
      }
      ASSERT_TRUE(t.stop()) << "iteration " << i;
      ASSERT_EQ(poll(t.c), TryRecv::kEmpty) << "iteration " << i;
      rt::sleep(std::chrono::microseconds(rng() % 50));
      ASSERT_EQ(poll(t.c), TryRecv::kEmpty) << "iteration " << i;
    }
  });
}

TEST_P(TimerTest, ResetPendingTimer) {
  run_go(procs(), [] {
    rt::Timer t(10s);
    rt::Time t0 = rt::Clock::now();
    EXPECT_TRUE(t.reset(30ms));
    rt::Time fired = t.c.recv();
    EXPECT_GE(fired - t0, 30ms);
    EXPECT_LT(rt::Clock::now() - t0, kLiveness);
  });
}

// Go 1.23: reset discards an unreceived value; what arrives afterwards is
// the new firing, not the stale one.
TEST_P(TimerTest, ResetAfterFiringUnreceived) {
  run_go(procs(), [] {
    rt::Timer t(1ms);
    ASSERT_TRUE(wait_until([&] { return t.c.len() == 1; }));
    rt::Time t1 = rt::Clock::now();
    EXPECT_TRUE(t.reset(30ms));
    rt::Time fired = t.c.recv();
    EXPECT_GE(fired - t1, 30ms) << "received the stale value";
  });
}

TEST_P(TimerTest, ResetAfterReceivingOrStopping) {
  run_go(procs(), [] {
    rt::Timer t(1ms);
    t.c.recv();
    rt::Time t1 = rt::Clock::now();
    EXPECT_FALSE(t.reset(20ms));
    EXPECT_GE(t.c.recv() - t1, 20ms);

    EXPECT_FALSE(t.reset(10s)) << "fired and received: not pending";
    EXPECT_TRUE(t.stop());
    rt::Time t2 = rt::Clock::now();
    EXPECT_FALSE(t.reset(20ms)) << "a stopped timer is not pending";
    EXPECT_GE(t.c.recv() - t2, 20ms);
    // Reset many times in a row: only the last deadline fires, once.
    for (int i = 0; i < 100; i++) t.reset(std::chrono::milliseconds(1 + i % 5));
    t.c.recv();
    rt::sleep(30ms);
    EXPECT_EQ(poll(t.c), TryRecv::kEmpty);
  });
}

// A timer destroyed while pending never fires, even if its channel lives on.
TEST_P(TimerTest, DestroyedTimerNeverFires) {
  run_go(procs(), [] {
    rt::Chan<rt::Time> c;
    {
      rt::Timer t(20ms);
      c = t.c;
    }
    rt::sleep(60ms);
    EXPECT_EQ(poll(c), TryRecv::kEmpty);
    // Many timers created and destroyed right away.
    for (int i = 0; i < 1000; i++) rt::Timer t(std::chrono::microseconds(i % 50));
  });
}

// ---------------------------------------------------------------------------
// Ticker

TEST_P(TimerTest, TickerTicksOnItsPeriod) {
  run_go(procs(), [] {
    constexpr auto kPeriod = 10ms;
    rt::Time t0 = rt::Clock::now();
    rt::Ticker tk(kPeriod);
    rt::Time prev = t0;
    for (int k = 1; k <= 5; k++) {
      rt::Time t = tk.c.recv();
      // Ticks land on the grid t0 + k * period or later (ticks a slow
      // reader misses are dropped, never delivered early).
      EXPECT_GE(t - t0, k * kPeriod) << "tick " << k;
      EXPECT_GT(t, prev);
      prev = t;
    }
    EXPECT_LT(rt::Clock::now() - t0, kLiveness);
    tk.stop();
    rt::sleep(5 * kPeriod);
    EXPECT_EQ(poll(tk.c), TryRecv::kEmpty) << "a stopped ticker ticked";
  });
}

// A reader slower than the ticker sees one buffered tick, never a backlog.
TEST_P(TimerTest, TickerDropsTicksForSlowReader) {
  run_go(procs(), [] {
    rt::Ticker tk(2ms);
    rt::sleep(40ms);
    EXPECT_EQ(tk.c.len(), 1u);
    rt::Time a = tk.c.recv();
    rt::Time b = tk.c.recv();  // a fresh tick, after the one buffered
    EXPECT_GT(b, a);
    tk.stop();
  });
}

TEST_P(TimerTest, TickerReset) {
  run_go(procs(), [] {
    rt::Ticker tk(5ms);
    tk.c.recv();
    rt::Time t1 = rt::Clock::now();
    tk.reset(40ms);
    // Nothing stale: the next tick is on the new period.
    rt::Time t = tk.c.recv();
    EXPECT_GE(t - t1, 40ms);
    rt::Time u = tk.c.recv();
    EXPECT_GE(u - t1, 80ms) << "the old period is still running";
    tk.stop();
    // A stopped ticker restarts with reset.
    tk.reset(5ms);
    tk.c.recv();
    tk.stop();
  });
}

TEST(TimerPanics, TickerNeedsAPositivePeriod) {
  auto message = [](auto fn) -> std::string {
    try {
      fn();
    } catch (const rt::Panic& p) {
      return p.what();
    }
    return "(no panic)";
  };
  EXPECT_EQ(message([] { rt::Ticker tk(0ns); }), "non-positive interval for NewTicker");
  EXPECT_EQ(message([] { rt::Ticker tk(-1ms); }), "non-positive interval for NewTicker");
  EXPECT_EQ(message([] {
              rt::Ticker tk(1s);
              tk.reset(0ns);
            }),
            "non-positive interval for Ticker.Reset");
}

// ---------------------------------------------------------------------------
// Plain threads

TEST_P(TimerTest, TimersOnPlainThreads) {
  run_go(procs(), [] {
    std::atomic<int> ok{0};
    std::vector<std::thread> threads;
    threads.emplace_back([&] {
      rt::Time t0 = rt::Clock::now();
      rt::Timer t(20ms);
      if (t.c.recv() - t0 >= 20ms) ok++;
    });
    threads.emplace_back([&] {
      rt::Time t0 = rt::Clock::now();
      rt::Ticker tk(5ms);
      bool on_grid = true;
      for (int k = 1; k <= 3; k++) on_grid &= tk.c.recv() - t0 >= k * 5ms;
      tk.stop();
      if (on_grid) ok++;
    });
    threads.emplace_back([&] {
      rt::Time t0 = rt::Clock::now();
      if (rt::after(15ms).recv() - t0 >= 15ms) ok++;
    });
    join_all(threads);
    EXPECT_EQ(ok.load(), 3);
  });
}

}  // namespace
