// The concurrent collector: marking while goroutines rewire the heap, under
// RT_DEBUG's verification modes.
//
// - The torture test: goroutines rewire private random graphs of
//   checksummed nodes through Refs (rewire_graph.h, shared with rt-soak;
//   10^7 barriered stores in all; fewer under sanitizers) while another
//   goroutine runs cycles back to back with gccheckmark on (every
//   concurrent mark re-verified stop-the-world) and asynchronous
//   preemption on: no checksum breaks, no destructor runs twice, and
//   checkmark never fires.
// - The same program in gcstoptheworld mode.
// - What only a goroutine's task holds survives (the goroutine has not run
//   yet, or is parked), and tasks of goroutines created while marking are
//   shaded.
// - gccheckmark itself: an object that marking left white (forced by a
//   test hook) is reported as a fatal error.
#include <gtest/gtest.h>

#include <vector>

#include "gc/collector.h"
#include "gc/phase.h"
#include "gc_test_util.h"
#include "rewire_graph.h"
#include "rt/metrics.h"
#include "rt/sync.h"
#include "sched/safepoint.h"
#include "sched/stw.h"
#include "sched_test_util.h"

using namespace gctest;

namespace {

#if defined(RT_ASAN) || defined(RT_TSAN)
constexpr uint64_t kTortureWrites = 2'000'000;
#else
constexpr uint64_t kTortureWrites = 10'000'000;
#endif

// One worker's rewiring of its own graph, for a number of Ref stores.
// Returns the number done.
uint64_t rewire(uint64_t seed, uint64_t writes, std::atomic<uint64_t>* errors) {
  RewireGraph graph(seed);
  auto check = [errors](const GraphNode* n) {
    if (!n->ok()) errors->fetch_add(1);
  };
  uint64_t done = 0;
  while (done < writes) done += graph.step(check);
  graph.check_all(check);
  return done;
}

void torture(int procs) {
  run_gc_test(procs, [] {
    uint64_t c0 = rt::gc_stats().cycles;
    std::atomic<uint64_t> errors{0};
    constexpr int kWorkers = 4;
    std::atomic<uint64_t> writes{0};
    with_cycles_back_to_back([&] {
      rt::WaitGroup workers;
      for (int w = 0; w < kWorkers; w++) {
        workers.go([&, w] { writes += rewire(1234 + w, kTortureWrites / kWorkers, &errors); });
      }
      workers.wait();
    });
    EXPECT_EQ(errors.load(), 0u);
    EXPECT_EQ(g_double_destroyed.load(), 0);
    EXPECT_GE(writes.load(), kTortureWrites);
    EXPECT_GE(rt::gc_stats().cycles, c0 + 3) << "the collections did not overlap the rewiring";
  });
}

class GcConcurrent : public gotest::ProcsTest {
 protected:
  void TearDown() override { rt::collector::set_debug_modes(0, 0); }
};
GOTEST_PROCS_SUITE(GcConcurrent);

TEST_P(GcConcurrent, TortureUnderCheckmark) {
  rt::collector::set_debug_modes(0, 1);
  torture(procs());
}

TEST_P(GcConcurrent, TortureStopTheWorldMode) {
  rt::collector::set_debug_modes(1, 1);
  torture(procs());
}

TEST_P(GcConcurrent, TwoPausesPerCycleAndMarkingOverlapsTheProgram) {
  rt::collector::set_debug_modes(0, 0);
  run_gc_test(procs(), [] {
    // A live list long enough that marking takes a while.
    rt::Root<Tracked> head;
    for (int i = 0; i < 200'000; i++) {
      Tracked* t = rt::make<Tracked>(0, i);
      t->next = head.get();
      head = t;
    }
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> seen_marking{0};
    rt::WaitGroup wg;
    wg.go([&] {
      while (!stop.load()) {
        if (rt::collector::marking()) seen_marking++;
        rt::gosched();
      }
    });
    uint64_t c0 = rt::gc_stats().cycles;
    for (int i = 0; i < 5; i++) rt::gc();
    stop = true;
    wg.wait();
    rt::GcStats s = rt::gc_stats();
    EXPECT_GE(s.cycles, c0 + 5);  // allocation may have triggered more
    // Another goroutine ran while marking was on: the mark is concurrent.
    EXPECT_GT(seen_marking.load(), 0u);
    uint64_t n = 0;
    for (Tracked* p = head.get(); p; p = p->next.get()) {
      ASSERT_EQ(p->magic, Tracked::kAlive);
      n++;
    }
    EXPECT_EQ(n, 200'000u);
  });
}

// What only a goroutine's task captures reach stays alive, whether the
// goroutine has not run yet or has run and parked.
TEST_P(GcConcurrent, TaskCapturesAreRoots) {
  run_gc_test(procs(), [] {
    int tag = new_tag();
    auto go_ahead = rt::make_chan<int>();
    auto done = rt::make_chan<int>(2);
    in_frame([&] {
      Tracked* parked = rt::make<Tracked>(tag, 7);
      rt::go([parked, go_ahead, done]() mutable {
        go_ahead.recv();
        done.send(parked->magic == Tracked::kAlive && parked->value == 7 ? 1 : 0);
      });
    });
    rt::gosched();  // let it run and park (at GOMAXPROCS=1 it must); the next may not have run
    in_frame([&] {
      Tracked* fresh = rt::make<Tracked>(tag, 9);
      rt::go([fresh, go_ahead, done]() mutable {
        go_ahead.recv();
        done.send(fresh->magic == Tracked::kAlive && fresh->value == 9 ? 1 : 0);
      });
    });
    full_gc();
    full_gc();
    EXPECT_EQ(destroyed(tag), 0);
    go_ahead.close();
    EXPECT_EQ(done.recv() + done.recv(), 2);
  });
}

// Goroutines spawned while the collector marks hold their object only in
// their task: newproc shades it.
TEST_P(GcConcurrent, GoroutinesCreatedWhileMarking) {
  run_gc_test(procs(), [] {
    int tag = new_tag();
    auto results = rt::make_chan<int>(1024);
    int spawned = 0;
    with_cycles_back_to_back([&] {
      for (int round = 0; round < 200; round++) {
        auto release = rt::make_chan<int>();
        for (int i = 0; i < 5; i++) {
          in_frame([&] {
            Tracked* t = rt::make<Tracked>(tag, round);
            rt::go([t, release, results, round]() mutable {
              release.recv();
              results.send(
                  t->magic == Tracked::kAlive && t->value == static_cast<uint64_t>(round) ? 1 : 0);
            });
          });
          spawned++;
        }
        rt::gosched();
        release.close();
        for (int i = 0; i < 5; i++) EXPECT_EQ(results.recv(), 1);
      }
    });
    EXPECT_EQ(spawned, 1000);
    EXPECT_EQ(g_double_destroyed.load(), 0);
  });
}

// A goroutine that waits for every other P while cycles run back to back:
// it stops the world, or runs a ragged safe point (for_each_p), over and
// over. When the collector's stack scan comes to it mid-wait, the collector
// scans it where it waits (scannable_wait.h): before, the collector's
// worker spun for it to reach a safe point while it waited for that
// worker's P, and both waited for ever (a stop), or the safe point gave up
// after its timeout. What only its frames and registers hold survives
// every scan. The frequent stops also hand Ps to new Ms all the time, which
// the safe point once mistook for idle Ps and flushed under their new
// owner's feet. In a child with an alarm: one failure mode is a hang.
template <typename Wait>
int wait_for_ps_while_collecting(Wait wait) {
  int tag = new_tag();
  int broken = 0, gave_up = 0;
  uint64_t c0 = rt::gc_stats().cycles;
  with_cycles_back_to_back([&] {
    Tracked* mine = rt::make<Tracked>(tag, 42);
    for (int i = 0; i < 1'000'000 && rt::gc_stats().cycles - c0 < 200; i++) {
      if (!wait()) gave_up++;
      rt::gosched();  // the collector's goroutines need this P too
      if (mine->magic != Tracked::kAlive || mine->value != 42) broken++;
    }
  });
  uint64_t cycles = rt::gc_stats().cycles - c0;
  if (broken || gave_up || destroyed(tag) != 0 || cycles < 200) {
    fprintf(stderr, "broken %d gave up %d destroyed %lld cycles %llu\n", broken, gave_up,
            static_cast<long long>(destroyed(tag)), static_cast<unsigned long long>(cycles));
    return 1;
  }
  return 0;
}

TEST(GcWaiterDeathTest, StopperIsScannedWhereItWaits) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(schedtest::child_run_for(30, "2", nullptr,
                                       [] {
                                         return wait_for_ps_while_collecting([] {
                                           rt::sched::stop_the_world("test");
                                           rt::sched::start_the_world();
                                           return true;
                                         });
                                       }),
              testing::ExitedWithCode(0), "");
}

TEST(GcWaiterDeathTest, SafePointRequesterIsScannedWhereItWaits) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(schedtest::child_run_for(30, "2", nullptr,
                                       [] {
                                         return wait_for_ps_while_collecting([] {
                                           return rt::sched::for_each_p_at_safe_point([](rt::sched::P*) {},
                                                                                      5'000'000'000);
                                         });
                                       }),
              testing::ExitedWithCode(0), "");
}

// A goroutine in a syscall scope is scannable already (from where the
// scope began): stopping the world from there, as rt::gc() does, just
// waits.
TEST(GcWaiter, CollectAndStopFromASyscallScope) {
  run_gc_test(2, [] {
    uint64_t c0 = rt::gc_stats().cycles;
    rt::blocking([] {
      rt::gc();
      rt::sched::stop_the_world("test");
      rt::sched::start_the_world();
    });
    EXPECT_GE(rt::gc_stats().cycles - c0, 1u);
  });
}

TEST(GcCheckmarkDeathTest, ReportsAnObjectMarkingMissed) {
  EXPECT_DEATH(
      {
        rt::collector::set_debug_modes(0, 1);
        run_gc_test(1, [] {
          rt::Root<Tracked> keep(rt::make<Tracked>(0, 1));
          rt::collector::g_test_unmark_before_verify.store(keep.get());
          rt::gc();
        });
      },
      "fatal error: gccheckmark: reachable object at 0x[0-9a-f]+ \\(slot of [0-9]+ bytes, 1 "
      "element\\(s\\) of "
      "[0-9]+ bytes\\) was not marked");
}

}  // namespace

namespace {

#if defined(RT_ASAN) || defined(RT_TSAN)
constexpr int kParked = 10'000;
#else
constexpr int kParked = 100'000;
#endif

// Collections while 100k goroutines are parked, each holding the only
// reference to its object on its stack: every stack is scanned (one
// suspension each, concurrently), every object survives.
TEST(GcParked, CollectWhileManyGoroutinesAreParked) {
  run_gc_test(0, [] {
    int tag = new_tag();
    auto release = rt::make_chan<int>();
    std::atomic<int> ok{0};
    rt::WaitGroup wg;
    for (int i = 0; i < kParked; i++) {
      wg.go([i, tag, release, &ok]() mutable {
        Tracked* mine = rt::make<Tracked>(tag, static_cast<uint64_t>(i));
        release.recv();  // parked here, mine only on this stack
        if (mine->magic == Tracked::kAlive && mine->value == static_cast<uint64_t>(i)) ok++;
        rt::keep_alive(mine);
      });
    }
    uint64_t c0 = rt::gc_stats().cycles;
    full_gc();
    full_gc();
    EXPECT_GE(rt::gc_stats().cycles, c0 + 2);
    EXPECT_EQ(destroyed(tag), 0);
    release.close();
    wg.wait();
    EXPECT_EQ(ok.load(), kParked);
  });
}

}  // namespace

namespace {

struct Leaf {
  rt::Ref<Leaf> next;
  int64_t value = 0;
};
struct Fan {
  rt::Ref<Leaf> leaf;
};

// Idle-time marking: with more Ps than the collector and its dedicated
// worker use, and nothing else to run, the idle Ps lend themselves to
// marking (their time shows as idle mark CPU) and the marks stay right
// (gccheckmark verifies every cycle).
TEST(GcIdleMark, IdlePsMark) {
  constexpr int kFan = 100'000;
  run_gc_test(4, [] {
    rt::Root<Fan> fan(rt::make_array<Fan>(kFan));
    for (int i = 0; i < kFan; i++) {
      Leaf* a = rt::make<Leaf>();
      a->value = i;
      a->next = rt::make<Leaf>();
      fan.get()[i].leaf = a;
    }
    rt::collector::set_debug_modes(0, 1);
    rt::metrics::Sample s{"/cpu/classes/gc/mark/idle:cpu-seconds", {}};
    rt::metrics::read(&s, 1);
    double idle0 = s.value.float64();
    for (int c = 0; c < 20; c++) {
      full_gc();
      rt::metrics::read(&s, 1);
      if (s.value.float64() > idle0) break;
    }
    rt::collector::set_debug_modes(0, 0);
    EXPECT_GT(s.value.float64(), idle0) << "no idle-time marking in 20 cycles";
    for (int i = 0; i < kFan; i++) {
      Leaf* a = fan.get()[i].leaf.get();
      ASSERT_EQ(a->value, i);
      ASSERT_NE(a->next.get(), nullptr);
    }
  });
}

}  // namespace
