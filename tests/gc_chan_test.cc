// GC'd objects in flight through channels.
//
// - An object held only by a buffered channel's ring survives collections
//   and comes out intact; one received and dropped is freed (emptied ring
//   slots keep no stale pointer).
// - rt::Ref elements may sit in a channel's ring (it is scanned), and may
//   be handed straight to a receiver waiting on an unbuffered channel
//   (send and select send): the Ref is then constructed on the receiver's
//   stack, which is not a misplaced Ref.
// - A relay under cycles back to back, with gccheckmark on: producers make
//   checksummed objects and send them (buffered and unbuffered), relays
//   pass them on, consumers check them; the only reference to an object in
//   flight is the channel or a goroutine's stack, so every move the
//   channel makes while the collector marks must shade it. No checksum
//   breaks, no object is freed twice, checkmark never fires.
// - Goroutines that park in channel operations leave the collector's
//   plain-thread gate as they found it: collections with a plain thread
//   allocating alongside still finish.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "gc/collector.h"
#include "gc_test_util.h"
#include "rt/chan.h"
#include "rt/sync.h"
#include "rt/weak.h"

using namespace gctest;

namespace {

using Msg = Checksummed<0xc4a2c4a2c4a2c4a2ULL>;

struct Pair {
  Msg* msg;
  uint64_t seq;
};

class GcInFlight : public ::testing::Test {
 protected:
  void TearDown() override { rt::collector::set_debug_modes(0, 0); }
};

TEST_F(GcInFlight, BufferHoldsTheOnlyReference) {
  run_gc_test(2, [] {
    int tag = new_tag();
    auto ch = rt::make_chan<Tracked*>(64);
    in_frame([&] {
      for (int i = 0; i < 64; i++) ch.send(rt::make<Tracked>(tag, static_cast<uint64_t>(i)));
    });
    for (int c = 0; c < 3; c++) full_gc();
    EXPECT_EQ(destroyed(tag), 0);
    in_frame([&] {
      for (int i = 0; i < 64; i++) {
        Tracked* t = ch.recv();
        ASSERT_EQ(t->magic, Tracked::kAlive);
        EXPECT_EQ(t->value, static_cast<uint64_t>(i));
      }
    });
    full_gc();
    full_gc();
    // Received and dropped: freed, up to what stale stack words may keep.
    EXPECT_GE(destroyed(tag), 64 - kFalseRetentionSlack);
  });
}

struct Holder {
  rt::Ref<Tracked> ref;
  uint64_t seq = 0;
};

TEST_F(GcInFlight, RefElementsInTheRing) {
  run_gc_test(2, [] {
    int tag = new_tag();
    auto ch = rt::make_chan<Holder>(16);
    in_frame([&] {
      for (int i = 0; i < 16; i++) {
        Holder h;
        h.ref = rt::make<Tracked>(tag, static_cast<uint64_t>(i));
        h.seq = static_cast<uint64_t>(i);
        ch.send(std::move(h));
      }
    });
    full_gc();
    EXPECT_EQ(destroyed(tag), 0);
    in_frame([&] {
      for (int i = 0; i < 16; i++) {
        Holder h = ch.recv();
        ASSERT_NE(h.ref.get(), nullptr);
        EXPECT_EQ(h.ref->magic, Tracked::kAlive);
        EXPECT_EQ(h.ref->value, h.seq);
      }
    });
  });
}

// Producers -> relays -> consumers, through a channel of capacity cap.
void relay_under_cycles(size_t cap, int per_producer) {
  constexpr int kProducers = 2;
  std::atomic<uint64_t> bad{0}, got{0}, sent{0};
  auto a = rt::make_chan<Pair>(cap);
  auto b = rt::make_chan<Pair>(cap);
  uint64_t cycles0 = rt::gc_stats().cycles;
  with_cycles_back_to_back([&] {
    rt::WaitGroup producers, relays, consumers;
    for (int p = 0; p < kProducers; p++) {
      // At least per_producer messages, and on until three cycles have
      // overlapped the relay (a loaded sanitizer run is slow to collect),
      // within a bound.
      producers.go([&, p] {
        for (int i = 0; i < per_producer || (rt::gc_stats().cycles < cycles0 + 3 && i < 64 * per_producer); i++) {
          uint64_t v = (static_cast<uint64_t>(p) << 32) | static_cast<uint64_t>(i);
          a.send(Pair{rt::make<Msg>(v), v});
          sent++;
        }
      });
    }
    relays.go([&] {
      while (auto m = a.recv_opt()) {
        if (!m->msg->ok() || m->msg->value != m->seq) bad++;
        b.send(*m);
      }
      b.close();
    });
    consumers.go([&] {
      while (auto m = b.recv_opt()) {
        if (!m->msg->ok() || m->msg->value != m->seq) bad++;
        got++;
      }
    });
    producers.wait();
    a.close();
    relays.wait();
    consumers.wait();
  });
  EXPECT_EQ(bad.load(), 0u);
  EXPECT_GE(sent.load(), static_cast<uint64_t>(kProducers * per_producer));
  EXPECT_EQ(got.load(), sent.load());
  EXPECT_GE(rt::gc_stats().cycles, cycles0 + 3) << "too few cycles ran beside the relay";
  EXPECT_EQ(g_double_destroyed.load(), 0);
}

#if defined(RT_ASAN) || defined(RT_TSAN)
constexpr int kPerProducer = 20'000;
#else
constexpr int kPerProducer = 100'000;
#endif

// A sender that finds a receiver waiting moves the value into the
// receiver's storage on the receiver's stack; an rt::Ref built there was
// once reported as "constructed outside the GC heap and outside the
// goroutine's stack" (a fatal error). One P: the receiver parks before
// the sender runs again, so every value takes the direct path.
TEST_F(GcInFlight, RefHandedToAWaitingReceiver) {
  run_gc_test(1, [] {
    int tag = new_tag();
    constexpr int kValues = 200;
    auto ch = rt::make_chan<rt::Ref<Tracked>>();
    auto done = rt::make_chan<int>();
    rt::go([ch, done]() mutable {
      int good = 0;
      for (int i = 0; i < kValues; i++) {
        rt::Ref<Tracked> r = ch.recv();
        if (r && r->magic == Tracked::kAlive && r->value == static_cast<uint64_t>(i)) good++;
      }
      done.send(good);
    });
    for (int i = 0; i < kValues; i++) {
      rt::gosched();  // the receiver parks in recv
      rt::Ref<Tracked> r = rt::make<Tracked>(tag, static_cast<uint64_t>(i));
      if (i % 2) {
        ch.send(r);
      } else {
        rt::select(rt::send_case(ch, r));
      }
      if (i % 50 == 0) rt::gc();
    }
    EXPECT_EQ(done.recv(), kValues);
  });
}

// A goroutine parking in send or recv once left the gate on the
// scheduler's stack, counting down a gate that thread never entered; the
// next plain-thread enter on it was then never counted out, and every
// later collection waited at the gate forever. Now such an exit is fatal,
// and a collection with a plain thread making objects must finish.
TEST_F(GcInFlight, ParkedChannelOpsLeaveTheGateBalanced) {
  run_gc_test(2, [] {
    auto ping = rt::make_chan<int>();
    auto pong = rt::make_chan<int>();
    rt::go([ping, pong]() mutable {
      for (int v : ping) pong.send(v + 1);
      pong.close();
    });
    // Each exchange parks one side or the other, on either M.
    for (int i = 0; i < 2000; i++) {
      ping.send(i);
      ASSERT_EQ(pong.recv(), i + 1);
    }
    ping.close();
    EXPECT_FALSE(pong.recv2().second);
    std::atomic<bool> stop{false};
    std::thread plain([&] {
      int tag = new_tag();
      while (!stop.load()) rt::keep_alive(rt::make<Tracked>(tag));
    });
    uint64_t c0 = rt::gc_stats().cycles;
    for (int i = 0; i < 5; i++) rt::gc();
    stop = true;
    plain.join();
    EXPECT_GE(rt::gc_stats().cycles, c0 + 5);
  });
}

TEST_F(GcInFlight, BufferedRelayUnderCyclesWithCheckmark) {
  rt::collector::set_debug_modes(0, 1);
  run_gc_test(2, [] { relay_under_cycles(32, kPerProducer); });
}

TEST_F(GcInFlight, UnbufferedRelayUnderCyclesWithCheckmark) {
  rt::collector::set_debug_modes(0, 1);
  run_gc_test(2, [] { relay_under_cycles(0, kPerProducer / 4); });
}

TEST_F(GcInFlight, BufferedRelayStopTheWorld) {
  rt::collector::set_debug_modes(1, 1);
  run_gc_test(2, [] { relay_under_cycles(32, kPerProducer / 4); });
}

}  // namespace
