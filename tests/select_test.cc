// select (<rt/chan.h>) against Go's semantics: a ready case runs; default
// runs when none is; cases on nil channels never fire; the choice among
// ready cases is uniform (chi-square tests on the pick counts); send cases;
// a blocked select wakes on the first ready case and leaves the others'
// channels untouched (its other waiters are dequeued, so later sends and
// receives on them are not consumed); receive cases on closed channels;
// send cases on closed channels panic; 64 cases; the same channel in
// several cases; selects racing with each other over shared channels;
// selects on plain threads; select with no ready case ever blocks forever
// (child process, deadlock report). Goroutine tests run under the default
// GOMAXPROCS, 1 and 2.
//
// The test code lives outside namespace rt (see goroutine_fixture.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "rt/chan.h"
#include "rt/panic.h"
#include "rt/sched.h"
#include "rt/sync.h"
#include "tests/chan_test_util.h"
#include "tests/sched_test_util.h"

namespace {

using namespace gotest;
using namespace std::chrono_literals;

class SelectTest : public ProcsTest {};
GOTEST_PROCS_SUITE(SelectTest);

// ---------------------------------------------------------------------------
// Which case runs

TEST_P(SelectTest, RunsTheReadyCase) {
  run_go(procs(), [] {
    auto a = rt::make_chan<int>(1);
    auto b = rt::make_chan<int>(1);
    for (int round = 0; round < 100; round++) {
      bool b_ready = round % 2 != 0;
      (b_ready ? b : a).send(round);
      int got = -1;
      bool ok = false, other_ran = false;
      int fired = rt::select(rt::recv_case(a,
                                           [&](int v, bool k) {
                                             if (b_ready) other_ran = true;
                                             got = v;
                                             ok = k;
                                           }),
                             rt::recv_case(b, [&](int v, bool k) {
                               if (!b_ready) other_ran = true;
                               got = v;
                               ok = k;
                             }));
      EXPECT_EQ(fired, b_ready ? 1 : 0);
      EXPECT_FALSE(other_ran);
      EXPECT_EQ(got, round);
      EXPECT_TRUE(ok);
    }
    EXPECT_EQ(a.len() + b.len(), 0u);
  });
}

// The four shapes of a receive case's function.
TEST_P(SelectTest, ReceiveCaseFunctionShapes) {
  run_go(procs(), [] {
    auto ch = rt::make_chan<std::string>(4);
    for (const char* s : {"a", "b", "c", "d"}) ch.send(s);
    std::string got;
    rt::select(rt::recv_case(ch, [&](std::string v, bool ok) { got = ok ? v : "?"; }));
    EXPECT_EQ(got, "a");
    rt::select(rt::recv_case(ch, [&](std::optional<std::string> v) { got = v.value_or("?"); }));
    EXPECT_EQ(got, "b");
    rt::select(rt::recv_case(ch, [&](std::string v) { got = v; }));
    EXPECT_EQ(got, "c");
    bool ran = false;
    rt::select(rt::recv_case(ch, [&] { ran = true; }));
    EXPECT_TRUE(ran);
    EXPECT_EQ(ch.len(), 0u) << "fn() still consumes the value";
    EXPECT_EQ(rt::select(rt::recv_case(ch), rt::default_case()), 1);
  });
}

TEST_P(SelectTest, DefaultRunsWhenNothingIsReady) {
  run_go(procs(), [] {
    auto empty = rt::make_chan<int>(1);
    auto unbuffered = rt::make_chan<int>();
    auto full = rt::make_chan<int>(1);
    full.send(1);
    bool ran_default = false, ran_other = false;
    int fired = rt::select(rt::recv_case(empty, [&] { ran_other = true; }),
                           rt::recv_case(unbuffered, [&] { ran_other = true; }),
                           rt::send_case(unbuffered, 5, [&] { ran_other = true; }),
                           rt::send_case(full, 2, [&] { ran_other = true; }),
                           rt::default_case([&] { ran_default = true; }));
    EXPECT_EQ(fired, 4);
    EXPECT_TRUE(ran_default);
    EXPECT_FALSE(ran_other);
    EXPECT_EQ(full.len(), 1u);
    EXPECT_EQ(full.recv(), 1) << "the send case's value must not have been sent";
    // The default's index is its argument position, wherever it is.
    EXPECT_EQ(rt::select(rt::default_case(), rt::recv_case(empty)), 0);
    EXPECT_EQ(rt::select(rt::recv_case(empty), rt::default_case(), rt::recv_case(unbuffered)), 1);
    // Only a default.
    ran_default = false;
    EXPECT_EQ(rt::select(rt::default_case([&] { ran_default = true; })), 0);
    EXPECT_TRUE(ran_default);
    // A ready case wins over the default, every time.
    empty.send(3);
    EXPECT_EQ(rt::select(rt::default_case(), rt::recv_case(empty)), 1);
  });
}

TEST_P(SelectTest, NilChannelCasesNeverFire) {
  run_go(procs(), [] {
    rt::Chan<int> nil;
    bool ran_nil = false;
    int fired = rt::select(rt::recv_case(nil, [&] { ran_nil = true; }),
                           rt::send_case(nil, 1, [&] { ran_nil = true; }), rt::default_case());
    EXPECT_EQ(fired, 2);
    EXPECT_FALSE(ran_nil);
    // Among a nil case and a ready one, the ready one always runs.
    auto ready = rt::make_chan<int>();
    ready.close();
    for (int i = 0; i < 1000; i++) {
      ASSERT_EQ(rt::select(rt::recv_case(nil), rt::send_case(nil, 1), rt::recv_case(ready)), 2);
    }
    // A blocked select with a nil case wakes only through the live one.
    auto live = rt::make_chan<int>();
    rt::WaitGroup wg;
    int which = -1, got = 0;
    wg.go([&] {
      which = rt::select(rt::recv_case(nil), rt::recv_case(live, [&](int v) { got = v; }),
                         rt::send_case(nil, 7));
    });
    ASSERT_TRUE(wait_until([&] { return waiting_receivers(live) == 1; }));
    live.send(9);
    wg.wait();
    EXPECT_EQ(which, 1);
    EXPECT_EQ(got, 9);
  });
}

// ---------------------------------------------------------------------------
// Fairness

// Chi-square statistic of pick counts against a uniform distribution.
double chi_square(const std::vector<int64_t>& counts) {
  int64_t n = 0;
  for (int64_t c : counts) n += c;
  double expected = static_cast<double>(n) / static_cast<double>(counts.size());
  double x2 = 0;
  for (int64_t c : counts) {
    double d = static_cast<double>(c) - expected;
    x2 += d * d / expected;
  }
  return x2;
}

// Thresholds: the chi-square quantiles at upper tail p = 1e-6 for k - 1
// degrees of freedom (k cases), so a uniform select fails each check with
// probability 1e-6 (about once in a million runs). A biased select is
// caught easily: with 1e5 picks over two cases, a 51/49 split already gives
// a statistic of 40, and "always the first ready case" gives 1e5.
constexpr double kChi2Df1 = 23.93;   // 2 cases
constexpr double kChi2Df3 = 30.66;   // 4 cases
constexpr double kChi2Df63 = 131.4;  // 64 cases

TEST_P(SelectTest, FairAmongTwoAlwaysReadyChannels) {
  run_go(procs(), [] {
    constexpr int kSelects = 100000;
    // Closed channels: receives are always ready.
    auto a = rt::make_chan<int>();
    auto b = rt::make_chan<int>();
    a.close();
    b.close();
    std::vector<int64_t> counts(2, 0);
    for (int i = 0; i < kSelects; i++) counts[rt::select(rt::recv_case(a), rt::recv_case(b))]++;
    EXPECT_LT(chi_square(counts), kChi2Df1) << counts[0] << " vs " << counts[1];

    // Buffered channels with data, refilled after each pick.
    auto c = rt::make_chan<int>(1);
    auto d = rt::make_chan<int>(1);
    c.send(0);
    d.send(1);
    counts.assign(2, 0);
    for (int i = 0; i < kSelects; i++) {
      int v = -1;
      int fired = rt::select(rt::recv_case(c, [&](int x) { v = x; }), rt::recv_case(d, [&](int x) { v = x; }));
      ASSERT_EQ(v, fired);
      counts[fired]++;
      (fired == 0 ? c : d).send(fired);
    }
    EXPECT_LT(chi_square(counts), kChi2Df1) << counts[0] << " vs " << counts[1];
  });
}

// Fair across receive and send cases, and across four cases.
TEST_P(SelectTest, FairAmongFourMixedCases) {
  run_go(procs(), [] {
    constexpr int kSelects = 100000;
    auto closed = rt::make_chan<int>();
    closed.close();
    auto room = rt::make_chan<int>(1);  // emptied after each send
    auto data = rt::make_chan<int>(1);  // refilled after each receive
    data.send(0);
    auto closed2 = rt::make_chan<int>();
    closed2.close();
    std::vector<int64_t> counts(4, 0);
    for (int i = 0; i < kSelects; i++) {
      int fired = rt::select(rt::recv_case(closed), rt::send_case(room, 1), rt::recv_case(data),
                             rt::recv_case(closed2));
      counts[fired]++;
      if (fired == 1) room.recv();
      if (fired == 2) data.send(0);
    }
    EXPECT_LT(chi_square(counts), kChi2Df3)
        << counts[0] << " " << counts[1] << " " << counts[2] << " " << counts[3];
  });
}

// ---------------------------------------------------------------------------
// Send cases

TEST_P(SelectTest, SendCases) {
  run_go(procs(), [] {
    auto room = rt::make_chan<int>(1);
    auto full = rt::make_chan<int>(1);
    full.send(0);
    bool sent = false;
    int fired = rt::select(rt::send_case(full, 1), rt::send_case(room, 2, [&] { sent = true; }));
    EXPECT_EQ(fired, 1);
    EXPECT_TRUE(sent);
    EXPECT_EQ(room.recv(), 2);
    EXPECT_EQ(full.recv(), 0);

    // A send case hands off to a parked receiver.
    auto u = rt::make_chan<int>();
    int got = 0;
    rt::WaitGroup wg;
    wg.go([&] { got = u.recv(); });
    ASSERT_TRUE(wait_until([&] { return waiting_receivers(u) == 1; }));
    EXPECT_EQ(rt::select(rt::send_case(u, 77), rt::default_case()), 0);
    wg.wait();
    EXPECT_EQ(got, 77);

    // Move-only values.
    auto p = rt::make_chan<std::unique_ptr<int>>(1);
    EXPECT_EQ(rt::select(rt::send_case(p, std::make_unique<int>(5))), 0);
    EXPECT_EQ(*p.recv(), 5);
  });
}

TEST_P(SelectTest, SendCaseOnClosedChannelPanics) {
  run_go(procs(), [] {
    auto closed = rt::make_chan<int>(1);
    closed.close();
    std::string msg;
    try {
      rt::select(rt::send_case(closed, 1), rt::default_case());
    } catch (const rt::Panic& p) {
      msg = p.what();
    }
    EXPECT_EQ(msg, "send on closed channel");

    // A select blocked on a send case panics when the channel is closed.
    auto ch = rt::make_chan<int>();
    auto other = rt::make_chan<int>();
    std::string blocked_msg;
    rt::WaitGroup wg;
    wg.go([&] {
      try {
        rt::select(rt::send_case(ch, 1), rt::recv_case(other));
      } catch (const rt::Panic& p) {
        blocked_msg = p.what();
      }
    });
    ASSERT_TRUE(wait_until([&] { return waiting_senders(ch) == 1; }));
    ch.close();
    wg.wait();
    EXPECT_EQ(blocked_msg, "send on closed channel");
    EXPECT_EQ(waiting_receivers(other), 0) << "the panicking select left a waiter behind";
    EXPECT_FALSE(other.try_send(1));
  });
}

// ---------------------------------------------------------------------------
// Blocking

// A blocked select wakes on the first case that becomes ready, and its
// other cases are withdrawn: a later send on their channels is not
// consumed by the finished select.
TEST_P(SelectTest, BlockedSelectWithdrawsItsOtherCases) {
  run_go(procs(), [] {
    for (int round = 0; round < 20; round++) {
      auto a = rt::make_chan<int>();
      auto b = rt::make_chan<int>();
      auto buffered = rt::make_chan<int>(1);
      int which = -1, got = -1;
      rt::WaitGroup wg;
      wg.go([&] {
        which = rt::select(rt::recv_case(a, [&](int v) { got = v; }),
                           rt::recv_case(b, [&](int v) { got = v; }),
                           rt::recv_case(buffered, [&](int v) { got = v; }));
      });
      ASSERT_TRUE(wait_until([&] {
        return waiting_receivers(a) == 1 && waiting_receivers(b) == 1 && waiting_receivers(buffered) == 1;
      }));
      bool via_a = round % 2 == 0;
      (via_a ? a : b).send(round);
      wg.wait();
      EXPECT_EQ(which, via_a ? 0 : 1);
      EXPECT_EQ(got, round);
      // Nobody waits on the other channels any more.
      EXPECT_EQ(waiting_receivers(a) + waiting_receivers(b) + waiting_receivers(buffered), 0);
      EXPECT_FALSE((via_a ? b : a).try_send(1)) << "a send was taken by a finished select";
      buffered.send(5);
      EXPECT_EQ(buffered.len(), 1u) << "the value went to a finished select";
      EXPECT_EQ(buffered.recv(), 5);
    }
  });
}

// The same with send cases: the receiver gets the value of the case that
// fired, and the other send never happens.
TEST_P(SelectTest, BlockedSendSelectSendsOnlyOnce) {
  run_go(procs(), [] {
    for (int round = 0; round < 20; round++) {
      auto a = rt::make_chan<int>();
      auto b = rt::make_chan<int>();
      int which = -1;
      rt::WaitGroup wg;
      wg.go([&] { which = rt::select(rt::send_case(a, 1), rt::send_case(b, 2)); });
      ASSERT_TRUE(wait_until([&] { return waiting_senders(a) == 1 && waiting_senders(b) == 1; }));
      bool via_a = round % 2 == 0;
      EXPECT_EQ((via_a ? a : b).recv(), via_a ? 1 : 2);
      wg.wait();
      EXPECT_EQ(which, via_a ? 0 : 1);
      int v = 0;
      EXPECT_EQ((via_a ? b : a).try_recv(v), rt::Chan<int>::TryRecv::kEmpty);
      EXPECT_EQ(waiting_senders(a) + waiting_senders(b), 0);
    }
  });
}

// Two partners race to complete one blocked select: exactly one wins, the
// loser's operation stays pending on its own channel.
TEST_P(SelectTest, RacingPartnersCompleteOneSelect) {
  run_go(procs(), [] {
    constexpr int kRounds = 300;
    auto a = rt::make_chan<int>();
    auto b = rt::make_chan<int>();
    int a_wins = 0, b_wins = 0;
    for (int round = 0; round < kRounds; round++) {
      int got = -1;
      rt::WaitGroup sel, senders;
      sel.go([&] {
        rt::select(rt::recv_case(a, [&](int v) { got = v; }), rt::recv_case(b, [&](int v) { got = v; }));
      });
      ASSERT_TRUE(wait_until([&] { return waiting_receivers(a) == 1 && waiting_receivers(b) == 1; }));
      senders.go([&] { a.send(1); });
      senders.go([&] { b.send(2); });
      sel.wait();
      ASSERT_TRUE(got == 1 || got == 2) << got;
      // The loser is still blocked with its value; collect it.
      EXPECT_EQ((got == 1 ? b : a).recv(), got == 1 ? 2 : 1);
      senders.wait();
      (got == 1 ? a_wins : b_wins)++;
    }
    EXPECT_EQ(a_wins + b_wins, kRounds);
  });
}

TEST_P(SelectTest, ClosedChannelReceiveCase) {
  run_go(procs(), [] {
    auto closed = rt::make_chan<int>(2);
    closed.send(4);
    closed.close();
    int v = -1;
    bool ok = true;
    auto take = [&] { return rt::select(rt::recv_case(closed, [&](int x, bool k) {
      v = x;
      ok = k;
    })); };
    EXPECT_EQ(take(), 0);
    EXPECT_EQ(v, 4);
    EXPECT_TRUE(ok) << "buffered values come first";
    EXPECT_EQ(take(), 0);
    EXPECT_EQ(v, 0);
    EXPECT_FALSE(ok);
    std::optional<int> o = 1;
    rt::select(rt::recv_case(closed, [&](std::optional<int> x) { o = x; }), rt::default_case());
    EXPECT_FALSE(o.has_value());

    // A blocked select is woken by a close with ok == false.
    auto ch = rt::make_chan<int>();
    auto other = rt::make_chan<int>();
    int which = -1;
    ok = true;
    rt::WaitGroup wg;
    wg.go([&] {
      which = rt::select(rt::recv_case(other), rt::recv_case(ch, [&](int, bool k) { ok = k; }));
    });
    ASSERT_TRUE(wait_until([&] { return waiting_receivers(ch) == 1; }));
    ch.close();
    wg.wait();
    EXPECT_EQ(which, 1);
    EXPECT_FALSE(ok);
    EXPECT_EQ(waiting_receivers(other), 0);
  });
}

// ---------------------------------------------------------------------------
// Many cases, repeated channels

TEST_P(SelectTest, SixtyFourCases) {
  run_go(procs(), [] {
    constexpr int kN = 64;
    std::vector<rt::Chan<int>> chans;
    for (int i = 0; i < kN; i++) chans.push_back(rt::make_chan<int>());
    auto select64 = [&](bool with_default) {
      return [&]<size_t... I>(std::index_sequence<I...>) {
        if (with_default) return rt::select(rt::recv_case(chans[I])..., rt::default_case());
        return rt::select(rt::recv_case(chans[I])...);
      }(std::make_index_sequence<kN>());
    };
    EXPECT_EQ(select64(true), kN);
    // A blocked 64-case select wakes on whichever channel is sent to.
    std::mt19937 rng(42);
    for (int round = 0; round < 32; round++) {
      int k = static_cast<int>(rng() % kN);
      int which = -1;
      rt::WaitGroup wg;
      wg.go([&] { which = select64(false); });
      ASSERT_TRUE(wait_until([&] { return waiting_receivers(chans[k]) == 1; }));
      chans[k].send(k);
      wg.wait();
      EXPECT_EQ(which, k);
      int waiting = 0;
      for (auto& c : chans) waiting += waiting_receivers(c);
      EXPECT_EQ(waiting, 0);
    }
    // All closed: every case gets picked, uniformly.
    for (auto& c : chans) c.close();
    std::vector<int64_t> counts(kN, 0);
    for (int i = 0; i < kN * 1000; i++) counts[select64(false)]++;
    EXPECT_LT(chi_square(counts), kChi2Df63);
    EXPECT_GT(*std::min_element(counts.begin(), counts.end()), 0);
  });
}

TEST_P(SelectTest, SameChannelInSeveralCases) {
  run_go(procs(), [] {
    // Two receive cases on one channel: one send fires exactly one.
    auto ch = rt::make_chan<int>();
    for (int round = 0; round < 20; round++) {
      int ran = 0, which = -1;
      rt::WaitGroup wg;
      wg.go([&] {
        which = rt::select(rt::recv_case(ch, [&] { ran++; }), rt::recv_case(ch, [&] { ran++; }));
      });
      ASSERT_TRUE(wait_until([&] { return waiting_receivers(ch) == 2; }));
      ch.send(1);
      wg.wait();
      EXPECT_EQ(ran, 1);
      EXPECT_TRUE(which == 0 || which == 1);
      EXPECT_EQ(waiting_receivers(ch), 0);
      EXPECT_FALSE(ch.try_send(2)) << "the second case was left queued";
    }
    // Send and receive on one buffered channel: the one that can proceed.
    auto b = rt::make_chan<int>(1);
    for (int i = 0; i < 100; i++) {
      bool full = b.len() == 1;
      int fired = rt::select(rt::send_case(b, i), rt::recv_case(b));
      EXPECT_EQ(fired, full ? 1 : 0);
    }
    // Both cases of a blocked select on one unbuffered channel: a receiver
    // takes the send case; the select cannot pair with itself.
    auto u = rt::make_chan<int>();
    int which = -1;
    rt::WaitGroup wg;
    wg.go([&] { which = rt::select(rt::send_case(u, 3), rt::recv_case(u)); });
    ASSERT_TRUE(wait_until([&] { return waiting_senders(u) == 1 && waiting_receivers(u) == 1; }));
    EXPECT_EQ(u.recv(), 3);
    wg.wait();
    EXPECT_EQ(which, 0);
    EXPECT_EQ(waiting_senders(u) + waiting_receivers(u), 0);
  });
}

// ---------------------------------------------------------------------------
// Concurrency

// Senders and receivers all select over the same two channels, listed in
// opposite orders (so lock ordering matters): every value arrives once.
TEST_P(SelectTest, ConcurrentSelectsConserveValues) {
  run_go(procs(), [] {
    constexpr int kSenders = 4, kReceivers = 4, kPer = 3000;
    for (size_t cap : {size_t{0}, size_t{8}}) {
      auto a = rt::make_chan<int64_t>(cap);
      auto b = rt::make_chan<int64_t>(cap);
      auto done = rt::make_chan<int>();
      std::atomic<int64_t> sum{0}, count{0};
      rt::WaitGroup senders, receivers;
      for (int s = 0; s < kSenders; s++) {
        senders.go([&, s] {
          for (int i = 0; i < kPer; i++) {
            int64_t v = int64_t{s} * kPer + i;
            if (s % 2) {
              rt::select(rt::send_case(a, v), rt::send_case(b, v));
            } else {
              rt::select(rt::send_case(b, v), rt::send_case(a, v));
            }
          }
        });
      }
      for (int r = 0; r < kReceivers; r++) {
        receivers.go([&, r] {
          for (;;) {
            bool stop = false;
            auto take = [&](int64_t v) {
              sum += v;
              count++;
            };
            if (r % 2) {
              rt::select(rt::recv_case(a, take), rt::recv_case(b, take), rt::recv_case(done, [&] { stop = true; }));
            } else {
              rt::select(rt::recv_case(done, [&] { stop = true; }), rt::recv_case(b, take), rt::recv_case(a, take));
            }
            if (stop) return;
          }
        });
      }
      senders.wait();
      // Drain what is buffered before telling receivers to stop.
      ASSERT_TRUE(wait_until([&] { return a.len() == 0 && b.len() == 0; }));
      done.close();
      receivers.wait();
      int64_t n = int64_t{kSenders} * kPer;
      EXPECT_EQ(count.load(), n) << "cap " << cap;
      EXPECT_EQ(sum.load(), n * (n - 1) / 2) << "cap " << cap;
    }
  });
}

// ---------------------------------------------------------------------------
// Plain threads

TEST(SelectThreads, BlockedThreadSelect) {
  auto a = rt::make_chan<int>();
  auto b = rt::make_chan<int>();
  int which = -1, got = -1;
  std::thread t([&] {
    which = rt::select(rt::recv_case(a, [&](int v) { got = v; }), rt::recv_case(b, [&](int v) { got = v; }));
  });
  ASSERT_TRUE(wait_until([&] { return waiting_receivers(a) == 1 && waiting_receivers(b) == 1; }));
  b.send(8);
  t.join();
  EXPECT_EQ(which, 1);
  EXPECT_EQ(got, 8);
  EXPECT_EQ(waiting_receivers(a), 0);
  EXPECT_FALSE(a.try_send(1));

  // A thread's select woken by close, and a thread's blocked send case.
  std::thread t2([&] { which = rt::select(rt::recv_case(a, [&](int, bool ok) { got = ok; }), rt::send_case(b, 4)); });
  ASSERT_TRUE(wait_until([&] { return waiting_receivers(a) == 1 && waiting_senders(b) == 1; }));
  EXPECT_EQ(b.recv(), 4);
  t2.join();
  EXPECT_EQ(which, 1);
  std::thread t3([&] { which = rt::select(rt::recv_case(a, [&](int, bool ok) { got = ok; }), rt::send_case(b, 4)); });
  ASSERT_TRUE(wait_until([&] { return waiting_receivers(a) == 1; }));
  a.close();
  t3.join();
  EXPECT_EQ(which, 0);
  EXPECT_EQ(got, 0);
}

// Threads and goroutines select against each other over shared channels.
TEST_P(SelectTest, ThreadsAndGoroutinesSelectTogether) {
  run_go(procs(), [] {
    constexpr int kPer = 2000;
    auto a = rt::make_chan<int64_t>();
    auto b = rt::make_chan<int64_t>(2);
    std::atomic<int64_t> sum{0}, count{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; t++) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPer; i++) {
          int64_t v = int64_t{t} * kPer + i;
          rt::select(rt::send_case(a, v), rt::send_case(b, v));
        }
      });
    }
    auto take = [&](std::optional<int64_t> v) {
      if (v) {
        sum += *v;
        count++;
      }
      return v.has_value();
    };
    rt::WaitGroup receivers;
    for (int g = 0; g < 3; g++) {
      receivers.go([&] {
        bool more = true;
        while (more) {
          rt::select(rt::recv_case(a, [&](std::optional<int64_t> v) { more = take(v); }),
                     rt::recv_case(b, [&](std::optional<int64_t> v) { more = take(v); }));
        }
      });
    }
    join_all(threads);
    // Every value has left the threads; some may still sit in b's buffer.
    // A receiver stops at the first closed case it sees, so b is drained
    // before the channels are closed.
    ASSERT_TRUE(wait_until([&] { return b.len() == 0; }));
    a.close();
    b.close();
    receivers.wait();
    EXPECT_EQ(count.load(), 2 * kPer);
    EXPECT_EQ(sum.load(), int64_t{2 * kPer} * (2 * kPer - 1) / 2);
  });
}

// ---------------------------------------------------------------------------
// Blocking forever

class SelectDeathTest : public testing::Test {
 protected:
  static void SetUpTestSuite() { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

// select with no cases, or only nil-channel cases, and no default never
// returns: the deadlock detector reports both goroutines.
TEST_F(SelectDeathTest, SelectWithNothingToWaitForBlocksForever) {
  EXPECT_EXIT(schedtest::child_run("2", nullptr,
                                   [] {
                                     static std::atomic<int> returned{0};
                                     rt::go([] {
                                       rt::Chan<int> nil;
                                       rt::select(rt::recv_case(nil), rt::send_case(nil, 1));
                                       returned++;
                                     });
                                     rt::sleep(200ms);
                                     if (returned.load() != 0) return 3;
                                     rt::select();
                                     return 4;
                                   }),
              testing::ExitedWithCode(2),
              "fatal error: all goroutines are asleep - deadlock!"
              ".*goroutine 1 \\[select.*goroutine 2 \\[select");
}

}  // namespace
