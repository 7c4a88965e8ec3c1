// Channels (<rt/chan.h>) against Go's semantics.
//
// The table of operations by channel state:
//             | nil             | open, empty       | open, data | closed
//   receive   | blocks forever  | blocks            | value      | buffered values, then T{} / ok=false
//   send      | blocks forever  | blocks when full  | -          | panics "send on closed channel"
//   close     | panics          | closes            | closes     | panics "close of closed channel"
// and around it: buffered FIFO order and len/cap, the non-blocking
// try_send/try_recv, move-only elements, range-for until closed, close
// waking every blocked receiver and panicking every blocked sender, the
// direct hand-off between a sender and a parked receiver (the value never
// enters the buffer), many producers and consumers conserving the values,
// every element destroyed exactly once, and channels used from plain
// threads. Goroutine tests run under the default GOMAXPROCS, 1 and 2.
// "Blocks forever" is checked in child processes, where the deadlock
// detector names the wait.
//
// The test code lives outside namespace rt (see goroutine_fixture.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
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

class ChanTest : public ProcsTest {};
GOTEST_PROCS_SUITE(ChanTest);

// Runs fn, which must throw rt::Panic; returns its message.
template <typename F>
std::string panic_message(F&& fn) {
  try {
    fn();
  } catch (const rt::Panic& p) {
    return p.what();
  }
  return "(no panic)";
}

// ---------------------------------------------------------------------------
// The table

TEST(ChanTable, NilChannel) {
  rt::Chan<int> nil;
  EXPECT_TRUE(nil.is_nil());
  EXPECT_FALSE(static_cast<bool>(nil));
  EXPECT_EQ(nil.len(), 0u);
  EXPECT_EQ(nil.cap(), 0u);
  EXPECT_TRUE(nil == rt::Chan<int>());
  // Never ready: the non-blocking forms report "would block".
  int v = 5;
  EXPECT_FALSE(nil.try_send(v));
  EXPECT_EQ(nil.try_recv(v), rt::Chan<int>::TryRecv::kEmpty);
  EXPECT_EQ(v, 5);
  EXPECT_EQ(panic_message([&] { nil.close(); }), "close of nil channel");
  // try_send must not consume a move-only value it did not send.
  rt::Chan<std::unique_ptr<int>> nilp;
  auto p = std::make_unique<int>(1);
  EXPECT_FALSE(nilp.try_send(p));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, 1);
}

TEST_P(ChanTest, ClosedChannel) {
  run_go(procs(), [] {
    auto ch = rt::make_chan<int>(3);
    ch.send(1);
    ch.send(2);
    ch.close();
    EXPECT_EQ(ch.len(), 2u);
    EXPECT_EQ(ch.cap(), 3u);
    // Buffered values first, then the zero value with ok == false, forever.
    EXPECT_EQ(ch.recv2(), std::make_pair(1, true));
    int v = 0;
    EXPECT_EQ(ch.try_recv(v), rt::Chan<int>::TryRecv::kReceived);
    EXPECT_EQ(v, 2);
    EXPECT_EQ(ch.len(), 0u);
    for (int i = 0; i < 3; i++) EXPECT_EQ(ch.recv2(), std::make_pair(0, false));
    EXPECT_EQ(ch.recv(), 0);
    EXPECT_FALSE(ch.recv_opt().has_value());
    EXPECT_EQ(ch.try_recv(v), rt::Chan<int>::TryRecv::kClosed);
    // Send (blocking or not) panics; so does a second close.
    EXPECT_EQ(panic_message([&] { ch.send(3); }), "send on closed channel");
    EXPECT_EQ(panic_message([&] { ch.try_send(3); }), "send on closed channel");
    EXPECT_EQ(panic_message([&] { ch.close(); }), "close of closed channel");
    EXPECT_EQ(ch.len(), 0u);

    // Unbuffered: a receive on a closed channel returns at once.
    auto u = rt::make_chan<std::string>();
    u.close();
    EXPECT_EQ(u.recv2(), std::make_pair(std::string(), false));
    EXPECT_EQ(panic_message([&] { u.send("x"); }), "send on closed channel");
  });
}

TEST_P(ChanTest, OpenChannel) {
  run_go(procs(), [] {
    auto ch = rt::make_chan<int>(2);
    int v = -1;
    // Without data: receive would block; send fills the buffer.
    EXPECT_EQ(ch.try_recv(v), rt::Chan<int>::TryRecv::kEmpty);
    EXPECT_EQ(v, -1);
    EXPECT_TRUE(ch.try_send(10));
    EXPECT_EQ(ch.len(), 1u);
    ch.send(11);
    EXPECT_EQ(ch.len(), 2u);
    // Full: send would block.
    EXPECT_FALSE(ch.try_send(12));
    EXPECT_EQ(ch.len(), 2u);
    // With data: receive takes the oldest.
    EXPECT_EQ(ch.try_recv(v), rt::Chan<int>::TryRecv::kReceived);
    EXPECT_EQ(v, 10);
    EXPECT_EQ(ch.recv(), 11);
    EXPECT_EQ(ch.len(), 0u);
    // Close of an open channel with data keeps the data.
    ch.send(13);
    ch.close();
    EXPECT_EQ(ch.recv2(), std::make_pair(13, true));
    EXPECT_EQ(ch.recv2(), std::make_pair(0, false));

    // Unbuffered, nobody waiting: both non-blocking forms would block.
    auto u = rt::make_chan<int>();
    EXPECT_EQ(u.cap(), 0u);
    EXPECT_FALSE(u.try_send(1));
    EXPECT_EQ(u.try_recv(v), rt::Chan<int>::TryRecv::kEmpty);
    EXPECT_EQ(u.len(), 0u);
  });
}

TEST(ChanTable, MakeChanTooLargePanics) {
  EXPECT_EQ(panic_message([] { rt::make_chan<int64_t>(size_t{1} << 40); }),
            "makechan: size out of range");
}

TEST(ChanTable, CopiesShareOneChannel) {
  auto a = rt::make_chan<int>(4);
  rt::Chan<int> b = a;
  rt::Chan<int> c;
  EXPECT_FALSE(c == a);
  c = b;
  EXPECT_TRUE(a == b);
  EXPECT_TRUE(b == c);
  a.send(1);
  EXPECT_EQ(c.len(), 1u);
  EXPECT_EQ(b.recv(), 1);
  rt::Chan<int> moved = std::move(a);
  EXPECT_TRUE(a.is_nil());  // a moved-from Chan is nil
  EXPECT_TRUE(moved == b);
}

class ChanDeathTest : public testing::Test {
 protected:
  static void SetUpTestSuite() { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

// A goroutine blocked on a nil channel never wakes: after a while neither
// blocked goroutine has moved, and once main blocks too the deadlock
// detector names all three waits.
TEST_F(ChanDeathTest, NilChannelBlocksGoroutinesForever) {
  EXPECT_EXIT(schedtest::child_run("2", nullptr,
                                   [] {
                                     static std::atomic<int> moved{0};
                                     rt::go([] {
                                       rt::Chan<int> nil;
                                       nil.send(1);
                                       moved++;
                                     });
                                     rt::go([] {
                                       rt::Chan<int> nil;
                                       nil.recv();
                                       moved++;
                                     });
                                     rt::sleep(200ms);
                                     if (moved.load() != 0) return 3;
                                     rt::Chan<int> nil;
                                     nil.recv();
                                     return 4;
                                   }),
              testing::ExitedWithCode(2),
              "fatal error: all goroutines are asleep - deadlock!"
              ".*goroutine 1 \\[chan receive \\(nil chan\\)\\]"
              ".*goroutine 2 \\[chan send \\(nil chan\\)\\]"
              ".*goroutine 3 \\[chan receive \\(nil chan\\)\\]");
}

// A plain thread blocked on a nil channel stays blocked.
TEST_F(ChanDeathTest, NilChannelBlocksThreadsForever) {
  EXPECT_EXIT(
      {
        schedtest::child_deadline(30);
        static std::atomic<int> moved{0};
        std::thread([] {
          rt::Chan<int> nil;
          nil.recv();
          moved++;
        }).detach();
        std::thread([] {
          rt::Chan<int> nil;
          nil.send(1);
          moved++;
        }).detach();
        std::this_thread::sleep_for(300ms);
        fprintf(stderr, moved.load() == 0 ? "still blocked\n" : "woke up\n");
        fflush(stderr);
        _exit(moved.load() == 0 ? 0 : 1);
      },
      testing::ExitedWithCode(0), "still blocked");
}

// An uncaught send on a closed channel ends the program as Go's panic does.
TEST_F(ChanDeathTest, UncaughtSendOnClosedChannel) {
  EXPECT_EXIT(schedtest::child_run(nullptr, nullptr,
                                   [] {
                                     auto ch = rt::make_chan<int>(1);
                                     ch.close();
                                     ch.send(1);
                                     return 0;
                                   }),
              testing::ExitedWithCode(2), "panic: send on closed channel");
}

// ---------------------------------------------------------------------------
// Buffers, order, hand-off

TEST_P(ChanTest, BufferedFifoLenCapAndWrapAround) {
  run_go(procs(), [] {
    auto ch = rt::make_chan<int>(8);
    EXPECT_EQ(ch.cap(), 8u);
    for (int i = 0; i < 8; i++) {
      EXPECT_EQ(ch.len(), static_cast<size_t>(i));
      ch.send(i);
    }
    EXPECT_FALSE(ch.try_send(99));
    for (int i = 0; i < 8; i++) EXPECT_EQ(ch.recv(), i);
    // Keep the ring at varying fill levels so its indices wrap many times.
    int next_in = 0, next_out = 0;
    for (int round = 0; round < 200; round++) {
      int n = 1 + round % 8;
      for (int i = 0; i < n && ch.len() < ch.cap(); i++) ch.send(next_in++);
      int m = 1 + (round * 7) % 8;
      for (int i = 0; i < m && ch.len() > 0; i++) ASSERT_EQ(ch.recv(), next_out++);
    }
    while (ch.len() > 0) ASSERT_EQ(ch.recv(), next_out++);
    EXPECT_EQ(next_in, next_out);
  });
}

// An unbuffered send completes only when a receiver takes the value, and a
// receive only when a sender brings one.
TEST_P(ChanTest, UnbufferedIsARendezvous) {
  run_go(procs(), [] {
    auto ch = rt::make_chan<int>();
    std::atomic<bool> sent{false}, received{false};
    rt::WaitGroup wg;
    wg.go([&] {
      ch.send(42);
      sent = true;
    });
    ASSERT_TRUE(wait_until([&] { return waiting_senders(ch) == 1; }));
    rt::sleep(20ms);
    EXPECT_FALSE(sent.load()) << "send returned without a receiver";
    EXPECT_EQ(ch.recv(), 42);
    wg.wait();
    EXPECT_TRUE(sent.load());

    int got = 0;
    wg.go([&] {
      got = ch.recv();
      received = true;
    });
    ASSERT_TRUE(wait_until([&] { return waiting_receivers(ch) == 1; }));
    rt::sleep(20ms);
    EXPECT_FALSE(received.load()) << "receive returned without a sender";
    ch.send(7);
    wg.wait();
    EXPECT_EQ(got, 7);
  });
}

// A send that finds a parked receiver hands the value to it directly: the
// buffer never holds it, even before the receiver runs again.
TEST_P(ChanTest, SendHandsOffToParkedReceiver) {
  run_go(procs(), [] {
    auto ch = rt::make_chan<int>(1);
    for (int round = 0; round < 20; round++) {
      int got = -1;
      rt::WaitGroup wg;
      wg.go([&] { got = ch.recv(); });
      ASSERT_TRUE(wait_until([&] { return waiting_receivers(ch) == 1; }));
      ch.send(round);
      EXPECT_EQ(ch.len(), 0u) << "the value went through the buffer";
      EXPECT_EQ(waiting_receivers(ch), 0);
      wg.wait();
      EXPECT_EQ(got, round);
    }
  });
}

// A receive from a full buffer with a parked sender takes the head and
// moves the sender's value into the freed slot: the buffer stays full, the
// order stays FIFO, and the sender is released.
TEST_P(ChanTest, ReceiveRefillsFromParkedSender) {
  run_go(procs(), [] {
    auto ch = rt::make_chan<int>(2);
    ch.send(1);
    ch.send(2);
    rt::WaitGroup wg;
    std::atomic<bool> sent{false};
    wg.go([&] {
      ch.send(3);
      sent = true;
    });
    ASSERT_TRUE(wait_until([&] { return waiting_senders(ch) == 1; }));
    EXPECT_EQ(ch.recv(), 1);
    EXPECT_EQ(ch.len(), 2u);
    EXPECT_EQ(waiting_senders(ch), 0);
    wg.wait();
    EXPECT_TRUE(sent.load());
    EXPECT_EQ(ch.recv(), 2);
    EXPECT_EQ(ch.recv(), 3);
    EXPECT_EQ(ch.len(), 0u);
  });
}

TEST_P(ChanTest, MoveOnlyElements) {
  run_go(procs(), [] {
    using P = std::unique_ptr<int>;
    for (size_t cap : {size_t{0}, size_t{1}, size_t{4}}) {
      auto ch = rt::make_chan<P>(cap);
      rt::WaitGroup wg;
      wg.go([&] {
        for (int i = 0; i < 100; i++) ch.send(std::make_unique<int>(i));
        ch.close();
      });
      int expect = 0;
      while (auto v = ch.recv_opt()) {
        ASSERT_NE(*v, nullptr);
        EXPECT_EQ(**v, expect++);
      }
      EXPECT_EQ(expect, 100);
      wg.wait();
      auto [last, ok] = ch.recv2();
      EXPECT_FALSE(ok);
      EXPECT_EQ(last, nullptr);
    }
    // try_send leaves the value with the caller when it does not send.
    auto full = rt::make_chan<P>(1);
    EXPECT_TRUE(full.try_send(std::make_unique<int>(1)));
    P keep = std::make_unique<int>(2);
    EXPECT_FALSE(full.try_send(keep));
    ASSERT_NE(keep, nullptr);
    EXPECT_EQ(*keep, 2);
    P out;
    EXPECT_EQ(full.try_recv(out), rt::Chan<P>::TryRecv::kReceived);
    ASSERT_NE(out, nullptr);
    EXPECT_EQ(*out, 1);
    EXPECT_TRUE(full.try_send(keep));
    EXPECT_EQ(keep, nullptr);
    EXPECT_EQ(*full.recv(), 2);
  });
}

TEST_P(ChanTest, RangeForReceivesUntilClosed) {
  run_go(procs(), [] {
    for (size_t cap : {size_t{0}, size_t{16}}) {
      auto ch = rt::make_chan<int>(cap);
      rt::go([ch]() mutable {
        for (int i = 0; i < 1000; i++) ch.send(i);
        ch.close();
      });
      int expect = 0;
      for (int v : ch) EXPECT_EQ(v, expect++);
      EXPECT_EQ(expect, 1000);
      // A range over an already closed and drained channel runs no body.
      for (int v : ch) ADD_FAILURE() << "received " << v << " after close";
    }
  });
}

// Signal-only channels with a one-byte empty element.
TEST_P(ChanTest, EmptyElementType) {
  run_go(procs(), [] {
    struct Signal {};
    auto ch = rt::make_chan<Signal>(3);
    for (int i = 0; i < 3; i++) ch.send(Signal{});
    EXPECT_FALSE(ch.try_send(Signal{}));
    EXPECT_EQ(ch.len(), 3u);
    ch.close();
    int n = 0;
    for (Signal s : ch) {
      (void)s;
      n++;
    }
    EXPECT_EQ(n, 3);
  });
}

// Over-aligned elements are constructed at aligned addresses, in the buffer
// and out of it.
// An over-aligned element that counts constructions at misaligned
// addresses.
struct alignas(64) Wide {
  Wide() { check(); }
  explicit Wide(int v) : v(v) { check(); }
  Wide(const Wide& o) : v(o.v) { check(); }
  Wide(Wide&& o) noexcept : v(o.v) { check(); }
  Wide& operator=(const Wide&) = default;
  void check() {
    if (reinterpret_cast<uintptr_t>(this) % 64 != 0) misaligned.fetch_add(1);
  }
  int v = 0;
  char pad[100] = {};
  static inline std::atomic<int> misaligned{0};
};

TEST_P(ChanTest, OverAlignedElements) {
  run_go(procs(), [] {
    Wide::misaligned = 0;
    auto ch = rt::make_chan<Wide>(5);
    for (int round = 0; round < 3; round++) {
      for (int i = 0; i < 5; i++) ch.send(Wide(i));
      for (int i = 0; i < 5; i++) EXPECT_EQ(ch.recv().v, i);
    }
    EXPECT_EQ(Wide::misaligned.load(), 0);
  });
}

// ---------------------------------------------------------------------------
// Close and its waiters

TEST_P(ChanTest, CloseWakesAllBlockedReceivers) {
  run_go(procs(), [] {
    for (size_t cap : {size_t{0}, size_t{4}}) {
      auto ch = rt::make_chan<int>(cap);
      constexpr int kN = 8;
      std::atomic<int> woke_closed{0}, got_value{0};
      rt::WaitGroup wg;
      for (int i = 0; i < kN; i++) {
        wg.go([&] {
          auto [v, ok] = ch.recv2();
          if (!ok && v == 0) woke_closed++;
          if (ok) got_value++;
        });
      }
      ASSERT_TRUE(wait_until([&] { return waiting_receivers(ch) == kN; }));
      ch.close();
      wg.wait();
      EXPECT_EQ(woke_closed.load(), kN);
      EXPECT_EQ(got_value.load(), 0);
      EXPECT_EQ(waiting_receivers(ch), 0);
    }
  });
}

TEST_P(ChanTest, ClosePanicsAllBlockedSenders) {
  run_go(procs(), [] {
    for (size_t cap : {size_t{0}, size_t{2}}) {
      auto ch = rt::make_chan<int>(cap);
      for (size_t i = 0; i < cap; i++) ch.send(100 + static_cast<int>(i));
      constexpr int kN = 8;
      std::atomic<int> panicked{0}, returned{0};
      std::vector<std::string> messages(kN);
      rt::WaitGroup wg;
      for (int i = 0; i < kN; i++) {
        wg.go([&, i] {
          try {
            ch.send(i);
            returned++;
          } catch (const rt::Panic& p) {
            messages[i] = p.what();
            panicked++;
          }
        });
      }
      ASSERT_TRUE(wait_until([&] { return waiting_senders(ch) == kN; }));
      ch.close();
      wg.wait();
      EXPECT_EQ(panicked.load(), kN);
      EXPECT_EQ(returned.load(), 0);
      for (auto& m : messages) EXPECT_EQ(m, "send on closed channel");
      // What was buffered before the close is still delivered, and nothing
      // of the panicked senders.
      for (size_t i = 0; i < cap; i++) EXPECT_EQ(ch.recv2(), std::make_pair(100 + static_cast<int>(i), true));
      EXPECT_EQ(ch.recv2(), std::make_pair(0, false));
    }
  });
}

// ---------------------------------------------------------------------------
// Many goroutines

// P producers and C consumers over one channel: every value arrives exactly
// once, and each consumer sees each producer's values in send order (the
// channel is FIFO and each side's operations are sequential).
TEST_P(ChanTest, ManyProducersManyConsumers) {
  run_go(procs(), [] {
    constexpr int kProducers = 4, kConsumers = 4, kPerProducer = 5000;
    for (size_t cap : {size_t{0}, size_t{1}, size_t{64}}) {
      auto ch = rt::make_chan<int64_t>(cap);
      rt::WaitGroup producers, consumers;
      for (int p = 0; p < kProducers; p++) {
        producers.go([ch, p]() mutable {
          for (int i = 0; i < kPerProducer; i++) ch.send(int64_t{p} * kPerProducer + i);
        });
      }
      std::vector<int64_t> sums(kConsumers, 0), counts(kConsumers, 0);
      std::atomic<int> order_violations{0};
      for (int c = 0; c < kConsumers; c++) {
        consumers.go([&, c] {
          std::vector<int64_t> last(kProducers, -1);
          for (int64_t v : ch) {
            sums[c] += v;
            counts[c]++;
            int64_t p = v / kPerProducer, seq = v % kPerProducer;
            if (seq <= last[p]) order_violations++;
            last[p] = seq;
          }
        });
      }
      producers.wait();
      ch.close();
      consumers.wait();
      int64_t n = int64_t{kProducers} * kPerProducer;
      int64_t sum = 0, count = 0;
      for (int c = 0; c < kConsumers; c++) {
        sum += sums[c];
        count += counts[c];
      }
      EXPECT_EQ(count, n) << "cap " << cap;
      EXPECT_EQ(sum, n * (n - 1) / 2) << "cap " << cap;
      EXPECT_EQ(order_violations.load(), 0) << "cap " << cap;
    }
  });
}

// ---------------------------------------------------------------------------
// Element lifetimes

TEST_P(ChanTest, ElementsAreDestroyedExactlyOnce) {
  run_go(procs(), [] {
    TrackCounts counts;
    auto check = [&](const char* step) {
      EXPECT_EQ(counts.live.load(), 0) << step;
      EXPECT_EQ(counts.constructed.load(), counts.destroyed.load()) << step;
    };
    {  // through a buffer and through hand-offs
      for (size_t cap : {size_t{0}, size_t{3}}) {
        auto ch = rt::make_chan<Tracked>(cap);
        rt::WaitGroup wg;
        wg.go([&] {
          for (int i = 0; i < 100; i++) ch.send(Tracked(&counts, i));
        });
        for (int i = 0; i < 100; i++) EXPECT_EQ(ch.recv().value(), i);
        wg.wait();
      }
    }
    check("send/recv");
    {  // left in the buffer (wrapped around) when the last reference goes
      auto ch = rt::make_chan<Tracked>(4);
      for (int i = 0; i < 4; i++) ch.send(Tracked(&counts, i));
      for (int i = 0; i < 3; i++) EXPECT_EQ(ch.recv().value(), i);
      ch.send(Tracked(&counts, 4));
      ch.send(Tracked(&counts, 5));
      EXPECT_EQ(ch.len(), 3u);
      EXPECT_EQ(counts.live.load(), 3);
      rt::Chan<Tracked> copy = ch;
      ch = rt::Chan<Tracked>();
      EXPECT_EQ(counts.live.load(), 3) << "a remaining reference keeps the buffer";
    }
    check("buffer dropped");
    {  // closed with data, drained after the close
      auto ch = rt::make_chan<Tracked>(2);
      ch.send(Tracked(&counts, 1));
      ch.send(Tracked(&counts, 2));
      ch.close();
      EXPECT_EQ(ch.recv2().first.value(), 1);
    }
    check("closed with data");
    {  // a send on a closed channel destroys its argument once
      auto ch = rt::make_chan<Tracked>(1);
      ch.close();
      Tracked t(&counts, 7);
      EXPECT_EQ(panic_message([&] { ch.try_send(t); }), "send on closed channel");
      EXPECT_EQ(t.value(), 7);
      EXPECT_EQ(panic_message([&] { ch.send(Tracked(&counts, 8)); }), "send on closed channel");
      EXPECT_EQ(counts.live.load(), 1);
    }
    check("send on closed");
    {  // a failed try_send leaves the value alone
      auto ch = rt::make_chan<Tracked>();
      Tracked t(&counts, 3);
      EXPECT_FALSE(ch.try_send(t));
      EXPECT_EQ(t.value(), 3);
      EXPECT_EQ(counts.live.load(), 1);
    }
    check("failed try_send");
    {  // blocked senders panicked by close
      auto ch = rt::make_chan<Tracked>();
      rt::WaitGroup wg;
      for (int i = 0; i < 4; i++) {
        wg.go([&, i] {
          try {
            ch.send(Tracked(&counts, i));
          } catch (const rt::Panic&) {
          }
        });
      }
      ASSERT_TRUE(wait_until([&] { return waiting_senders(ch) == 4; }));
      EXPECT_EQ(counts.live.load(), 4);
      ch.close();
      wg.wait();
    }
    check("senders panicked by close");
    {  // select: the send case that did not fire destroys its value once
      auto ready = rt::make_chan<Tracked>(1);
      auto full = rt::make_chan<Tracked>(1);
      full.send(Tracked(&counts, 0));
      int fired = rt::select(rt::send_case(full, Tracked(&counts, 1)),
                             rt::send_case(ready, Tracked(&counts, 2)));
      EXPECT_EQ(fired, 1);
      EXPECT_EQ(counts.live.load(), 2);
      // A receive case that fires with fn() drops the value it received.
      fired = rt::select(rt::recv_case(full, [] {}), rt::default_case());
      EXPECT_EQ(fired, 0);
      EXPECT_EQ(counts.live.load(), 1);
    }
    check("select");
    EXPECT_GT(counts.constructed.load(), 300);
  });
}

// ---------------------------------------------------------------------------
// Plain threads

// Two threads that are not goroutines play ping-pong: each blocks its
// thread while waiting.
TEST(ChanThreads, PingPong) {
  auto ping = rt::make_chan<int>();
  auto pong = rt::make_chan<int>();
  constexpr int kRounds = 5000;
  std::thread t([&] {
    for (int v : ping) pong.send(v + 1);
    pong.close();
  });
  int v = 0;
  for (int i = 0; i < kRounds; i++) {
    ping.send(v);
    v = pong.recv();
  }
  ping.close();
  EXPECT_FALSE(pong.recv2().second);
  t.join();
  EXPECT_EQ(v, kRounds);
}

TEST(ChanThreads, BufferedProducersConsumers) {
  auto ch = rt::make_chan<int64_t>(8);
  std::atomic<int64_t> sum{0}, count{0};
  std::vector<std::thread> consumers, producers;
  for (int c = 0; c < 3; c++) {
    consumers.emplace_back([&] {
      for (int64_t v : ch) {
        sum += v;
        count++;
      }
    });
  }
  for (int p = 0; p < 3; p++) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < 10000; i++) ch.send(int64_t{p} * 10000 + i);
    });
  }
  for (auto& t : producers) t.join();
  ch.close();
  for (auto& t : consumers) t.join();
  EXPECT_EQ(count.load(), 30000);
  EXPECT_EQ(sum.load(), int64_t{30000} * 29999 / 2);
}

TEST(ChanThreads, CloseWakesBlockedThreads) {
  auto recv_ch = rt::make_chan<int>();
  auto send_ch = rt::make_chan<int>();
  std::atomic<int> closed_seen{0}, panics{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 3; i++) {
    ts.emplace_back([&] {
      if (!recv_ch.recv2().second) closed_seen++;
    });
    ts.emplace_back([&] {
      try {
        send_ch.send(1);
      } catch (const rt::Panic& p) {
        if (std::string(p.what()) == "send on closed channel") panics++;
      }
    });
  }
  ASSERT_TRUE(wait_until([&] { return waiting_receivers(recv_ch) == 3 && waiting_senders(send_ch) == 3; }));
  recv_ch.close();
  send_ch.close();
  for (auto& t : ts) t.join();
  EXPECT_EQ(closed_seen.load(), 3);
  EXPECT_EQ(panics.load(), 3);
}

// Threads and goroutines on the same channels. Goroutines parked on a
// channel that only a thread will serve look deadlocked to the runtime
// (docs/HAZARDS.md), so the main goroutine waits for the threads in a
// syscall scope (join_all) until every exchange with them is done.
TEST_P(ChanTest, ThreadsAndGoroutinesShareChannels) {
  run_go(procs(), [] {
    constexpr int kPer = 3000;
    // Threads produce, goroutines consume.
    {
      auto ch = rt::make_chan<int64_t>();
      std::vector<std::thread> threads;
      for (int t = 0; t < 2; t++) {
        threads.emplace_back([ch, t]() mutable {
          for (int i = 0; i < kPer; i++) ch.send(int64_t{t} * kPer + i);
        });
      }
      std::atomic<int64_t> sum{0}, count{0};
      rt::WaitGroup consumers;
      for (int g = 0; g < 3; g++) {
        consumers.go([&] {
          for (int64_t v : ch) {
            sum += v;
            count++;
          }
        });
      }
      join_all(threads);  // unbuffered: every value has been taken by now
      ch.close();
      consumers.wait();
      EXPECT_EQ(count.load(), 2 * kPer);
      EXPECT_EQ(sum.load(), int64_t{2 * kPer} * (2 * kPer - 1) / 2);
    }
    // Goroutines produce, threads consume; a goroutine closes the channel
    // after the producers.
    {
      auto ch = rt::make_chan<int64_t>(4);
      std::atomic<int64_t> sum{0}, count{0};
      std::vector<std::thread> threads;
      for (int t = 0; t < 2; t++) {
        threads.emplace_back([&] {
          for (int64_t v : ch) {
            sum += v;
            count++;
          }
        });
      }
      auto producers = std::make_shared<rt::WaitGroup>();
      for (int g = 0; g < 3; g++) {
        producers->go([ch, g]() mutable {
          for (int i = 0; i < kPer; i++) ch.send(int64_t{g} * kPer + i);
        });
      }
      rt::WaitGroup closer;
      closer.go([ch, producers]() mutable {
        producers->wait();
        ch.close();
      });
      join_all(threads);  // the threads finish once the channel is closed
      closer.wait();
      EXPECT_EQ(count.load(), 3 * kPer);
      EXPECT_EQ(sum.load(), int64_t{3 * kPer} * (3 * kPer - 1) / 2);
    }
  });
}

}  // namespace
