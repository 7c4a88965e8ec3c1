// The collector's levers (sched/stw.h), driven while goroutines spin in
// pure loops (which only asynchronous preemption can stop):
// - stop_the_world from a goroutine and from a plain thread: every other
//   goroutine stops (counters freeze during the stop), start_the_world
//   restarts them, stw_stats counts it; many stops in a row under a mixed
//   load (parking, sleeping, syscalls, spawning) lose nobody;
// - suspend_g on a parked, a runnable, a running and a syscall goroutine:
//   it returns with the scan bit set, the scan range lies in the stack,
//   resume_g restores the status; a running goroutine really stopped (its
//   counter froze) and continues after resume; a goroutine in a no-preempt
//   scope is suspended only once the scope ends.
#include <gtest/gtest.h>
#include <time.h>

#include <atomic>
#include <cstdint>
#include <vector>

#include "sched/stw.h"
#include "sched_test_util.h"

using namespace schedtest;
using rt::sched::G;

namespace {

class SchedStw : public testing::Test {
 protected:
  static void SetUpTestSuite() { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
  void SetUp() override {
    if (async_preemption_env_off()) GTEST_SKIP() << "RT_DEBUG=asyncpreemptoff=1 in the environment";
  }
};

struct ProcsGuard {
  int old = rt::gomaxprocs();
  ~ProcsGuard() { rt::gomaxprocs(old); }
};

// Busy-waits on the OS thread, without entering the runtime (the world may
// be stopped).
void busy_wait_ms(int ms) {
  int64_t end = now_ns() + int64_t{ms} * 1'000'000;
  while (now_ns() < end) {
  }
}

struct Spinners {
  std::atomic<bool> stop{false};
  std::vector<std::atomic<uint64_t>> counts;
  std::vector<std::atomic<G*>> gs;
  Join join;
  explicit Spinners(int n) : counts(n), gs(n), join(n) {
    for (int i = 0; i < n; i++) {
      rt::go([this, i] {
        gs[i] = rt::sched::getg();
        schedtest_spin(&counts[i], &stop);
        join.done();
      });
    }
  }
  bool all_started() {
    for (auto& c : counts)
      if (c.load() == 0) return false;
    return true;
  }
  std::vector<uint64_t> snapshot() {
    std::vector<uint64_t> v;
    for (auto& c : counts) v.push_back(c.load());
    return v;
  }
  void finish() {
    stop = true;
    join.wait();
  }
};

TEST_F(SchedStw, StopTheWorldFromGoroutineStopsSpinners) {
  in_rt([] {
    ProcsGuard guard;
    rt::gomaxprocs(3);
    Spinners sp(3);
    ASSERT_TRUE(eventually([&] { return sp.all_started(); }));
    Watchdog wd(&sp.stop, 10000ms);
    uint64_t count0 = rt::sched::stw_stats().count;

    int64_t took = rt::sched::stop_the_world("test");
    std::vector<uint64_t> a = sp.snapshot();
    busy_wait_ms(50);
    std::vector<uint64_t> b = sp.snapshot();
    rt::sched::start_the_world();

    EXPECT_GT(took, 0);
    EXPECT_LT(took, 2'000'000'000) << "stop_the_world took " << took / 1'000'000 << " ms";
    for (size_t i = 0; i < a.size(); i++) EXPECT_EQ(a[i], b[i]) << "spinner " << i << " ran during the stop";
    // The world runs again.
    std::vector<uint64_t> c = sp.snapshot();
    EXPECT_TRUE(eventually([&] {
      for (size_t i = 0; i < c.size(); i++)
        if (sp.counts[i].load() <= c[i]) return false;
      return true;
    })) << "a spinner did not resume after start_the_world";
    sp.finish();
    EXPECT_FALSE(wd.fired());
    rt::sched::StwStats st = rt::sched::stw_stats();
    EXPECT_EQ(st.count, count0 + 1);
    EXPECT_GT(st.last_stop_ns, 0);
    EXPECT_GE(st.max_stop_ns, st.last_stop_ns);
    EXPECT_GE(st.total_stop_ns, st.last_stop_ns);
    EXPECT_GE(st.last_pause_ns, st.last_stop_ns + 50'000'000) << "pause excludes the stopped time";
    EXPECT_GE(st.max_pause_ns, st.last_pause_ns);
  });
}

TEST_F(SchedStw, StopTheWorldFromPlainThread) {
  ProcsGuard guard;
  rt::gomaxprocs(2);
  Spinners sp(3);
  ASSERT_TRUE(eventually([&] { return sp.all_started(); }));
  Watchdog wd(&sp.stop, 10000ms);
  for (int round = 0; round < 5; round++) {
    rt::sched::stop_the_world("thread");
    std::vector<uint64_t> a = sp.snapshot();
    busy_wait_ms(20);
    std::vector<uint64_t> b = sp.snapshot();
    rt::sched::start_the_world();
    for (size_t i = 0; i < a.size(); i++) EXPECT_EQ(a[i], b[i]) << "round " << round << " spinner " << i;
    std::this_thread::sleep_for(5ms);
  }
  sp.finish();
  EXPECT_FALSE(wd.fired());
}

// Spinners written as users write them (lambdas handed to rt::go): the
// world must still stop.
TEST_F(SchedStw, StopTheWorldWithLambdaSpinners) {
  in_rt([] {
    ProcsGuard guard;
    rt::gomaxprocs(2);
    static std::atomic<bool> stop;
    static std::atomic<uint64_t> count;
    stop = false;
    count = 0;
    Join join(1);
    rt::go([&join] {
      uint64_t x = 1;
      while (!stop.load(std::memory_order_relaxed)) {
        x = register_work(x);  // see there: the loop must be user code under TSan too
        count.fetch_add(1, std::memory_order_relaxed);
      }
      join.done();
      return x;
    });
    ASSERT_TRUE(eventually([&] { return count.load() > 0; }));
    Watchdog wd(&stop, 2000ms);
    int64_t took = rt::sched::stop_the_world("lambda");
    rt::sched::start_the_world();
    stop = true;
    join.wait();
    EXPECT_FALSE(wd.fired()) << "the world stopped only when the watchdog ended the loop";
    EXPECT_LT(took, 1'000'000'000) << "stop_the_world took " << took / 1'000'000 << " ms";
  });
}

// Many stops while goroutines park, sleep, spawn, block in syscalls and
// spin: nobody is lost, and nothing runs during a stop.
TEST_F(SchedStw, RepeatedStopsUnderMixedLoad) {
  in_rt([] {
    ProcsGuard guard;
    rt::gomaxprocs(2);
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> activity{0};
    std::atomic<uint32_t> ping{0}, pong{0};
    constexpr int kWorkers = 6;
    Join join(kWorkers + 1);
    Spinners sp(2);
    // Sleepers.
    for (int i = 0; i < 2; i++) {
      rt::go([&] {
        while (!stop) {
          rt::sleep(50us);
          activity++;
        }
        join.done();
      });
    }
    // Ping-pong pair.
    rt::go([&] {
      while (!stop) {
        rt::sched::semrelease(&ping);
        rt::sched::semacquire(&pong);
        activity++;
      }
      rt::sched::semrelease(&ping);
      join.done();
    });
    rt::go([&] {
      while (!stop) {
        rt::sched::semacquire(&ping);
        rt::sched::semrelease(&pong);
        activity++;
      }
      rt::sched::semrelease(&pong);
      join.done();
    });
    // Syscaller.
    rt::go([&] {
      while (!stop) {
        rt::blocking([] {
          struct timespec ts{0, 200'000};
          nanosleep(&ts, nullptr);
        });
        activity++;
      }
      join.done();
    });
    // Spawner.
    std::atomic<int64_t> spawned{0}, finished{0};
    rt::go([&] {
      while (!stop) {
        spawned++;
        rt::go([&] {
          activity++;
          finished++;
        });
        rt::sleep(20us);
      }
      join.done();
    });
    // The main goroutine's own stop/start loop is the seventh participant.
    int frozen_violations = 0;
    // (Each round waits behind the spinners' 10 ms slices to run again.)
    for (int i = 0; i < (SCHEDTEST_SANITIZER ? 6 : 12); i++) {
      rt::sched::stop_the_world("stress");
      uint64_t a = activity.load();
      std::vector<uint64_t> s0 = sp.snapshot();
      busy_wait_ms(1);
      if (activity.load() != a || sp.snapshot() != s0) frozen_violations++;
      rt::sched::start_the_world();
      if (i % 4 == 0) rt::sleep(100us);
      else rt::gosched();
    }
    join.done();
    stop = true;
    sp.finish();
    EXPECT_TRUE(join.wait_for_ns(10'000'000'000)) << join.left() << " workers stuck after the stops";
    EXPECT_TRUE(eventually([&] { return finished.load() == spawned.load(); }))
        << spawned.load() - finished.load() << " spawned goroutines never ran";
    EXPECT_EQ(frozen_violations, 0) << "goroutines ran during a stop";
    EXPECT_GT(activity.load(), 0u);
  });
}

// Two threads and a goroutine all trying to stop the world: one at a time,
// and no deadlock (a goroutine waiting for the stop lock must not keep its
// P from the stopper that holds it). In a child with a 10 s alarm: the
// failure mode is a hang.
TEST_F(SchedStw, ConcurrentStoppersSerialize) {
  EXPECT_EXIT(child_run_for(10, "2", nullptr,
                            [] {
                              Spinners sp(2);
                              while (!sp.all_started()) rt::sleep(1ms);
                              std::atomic<int> inside{0}, overlap{0};
                              auto stopper = [&](int rounds) {
                                for (int i = 0; i < rounds; i++) {
                                  rt::sched::stop_the_world("concurrent");
                                  if (inside.fetch_add(1) != 0) overlap++;
                                  busy_wait_ms(1);
                                  inside.fetch_sub(1);
                                  rt::sched::start_the_world();
                                }
                              };
                              std::thread t1([&] { stopper(20); });
                              std::thread t2([&] { stopper(20); });
                              Join j(1);
                              rt::go([&] {
                                stopper(20);
                                j.done();
                              });
                              // Joining threads blocks in the OS: in a scope, so
                              // the stoppers can take our P meanwhile.
                              rt::blocking([&] {
                                t1.join();
                                t2.join();
                              });
                              j.wait();
                              sp.finish();
                              return overlap.load() == 0 ? 0 : 1;
                            }),
              testing::ExitedWithCode(0), "");
}

// Two goroutines changing GOMAXPROCS at the same time (each stops the
// world) while others run.
TEST_F(SchedStw, ConcurrentGomaxprocsFromGoroutines) {
  EXPECT_EXIT(child_run_for(10, "2", nullptr,
                            [] {
                              std::atomic<bool> stop{false};
                              Join busy(2);
                              for (int i = 0; i < 2; i++) {
                                rt::go([&] {
                                  while (!stop) rt::gosched();
                                  busy.done();
                                });
                              }
                              Join j(4);
                              for (int k = 0; k < 4; k++) {
                                rt::go([&, k] {
                                  for (int i = 0; i < 300; i++) rt::gomaxprocs(2 + (i + k) % 3);
                                  j.done();
                                });
                              }
                              j.wait();
                              stop = true;
                              busy.wait();
                              return 0;
                            }),
              testing::ExitedWithCode(0), "");
}

// --- suspend_g --------------------------------------------------------------

void expect_scan_range_in_stack(const rt::sched::Suspended& s) {
  uintptr_t lo = 0, hi = 0;
  rt::sched::g_stack_scan_range(s, &lo, &hi);
  EXPECT_EQ(hi, s.g->stack.hi);
  if (s.g->ctx == nullptr) {
    // A goroutine that never ran has no stack yet: nothing to scan.
    EXPECT_EQ(lo, hi);
    return;
  }
  EXPECT_GE(lo, s.g->stack.lo);
  EXPECT_LT(lo, hi);
}

TEST_F(SchedStw, SuspendParkedGoroutine) {
  in_rt([] {
    std::atomic<uint32_t> gate{0};
    std::atomic<G*> g{nullptr};
    Join join(1);
    rt::go([&] {
      g = rt::sched::getg();
      rt::sched::semacquire(&gate);
      join.done();
    });
    ASSERT_TRUE(eventually([&] { return rt::sched::sema_waiters(&gate) == 1; }));
    rt::sched::Suspended s = rt::sched::suspend_g(g.load());
    EXPECT_FALSE(s.dead);
    EXPECT_FALSE(s.stopped);
    EXPECT_EQ(s.status, rt::sched::kGWaiting);
    EXPECT_EQ(g.load()->status.load(), rt::sched::kGWaiting | rt::sched::kGScan);
    expect_scan_range_in_stack(s);
    // Readying it while claimed must wait for the claim (from a thread, so
    // this goroutine can resume it meanwhile).
    std::atomic<bool> released{false};
    std::thread t([&] {
      rt::sched::semrelease(&gate);
      released = true;
    });
    rt::sleep(20ms);
    EXPECT_FALSE(released.load()) << "goready went through a scan claim";
    rt::sched::resume_g(s);
    rt::blocking([&] { t.join(); });
    join.wait();
  });
}

// A goroutine that shrinks GOMAXPROCS may end up on another P (procresize
// hands its M P0 when its own P goes away). Its next local yield must queue
// it on the P it now holds: queueing it on the P it started the time slice
// on (destroyed) lost the goroutine. Each round first moves to P1 (the P
// that goes away), sleeping until a timer wakes it there.
TEST_F(SchedStw, LocalYieldAfterShrinkingGomaxprocs) {
  in_rt([] {
    ProcsGuard guard;
    int on_p1 = 0;
    for (int round = 0; round < 20; round++) {
      rt::gomaxprocs(2);
      for (int i = 0; i < 200 && rt::sched::current_m()->p->id != 1; i++) {
        rt::go([] { rt::sched::goyield(); });  // keeps P0 busy for a moment
        rt::sleep(50us);
      }
      if (rt::sched::current_m()->p->id == 1) on_p1++;
      rt::gomaxprocs(1);
      std::atomic<bool> stop{false};
      Join join(1);
      rt::go([&] {
        while (!stop.load()) rt::sched::goyield();
        join.done();
      });
      for (int i = 0; i < 10; i++) rt::sched::goyield();
      stop = true;
      join.wait();
    }
    EXPECT_GT(on_p1, 0) << "never ran on P1: the test did not exercise the case";
  });
}

TEST_F(SchedStw, SuspendRunnableGoroutine) {
  in_rt([] {
    ProcsGuard guard;
    rt::gomaxprocs(1);
    std::atomic<bool> ran{false};
    // newproc hands back the G: in a whole-binary run a leftover runnable
    // goroutine of an earlier test must not be mistaken for it.
    std::atomic<G*> g{nullptr};
    Join join(1);
    g = rt::sched::newproc(rt::sched::Task([&] {
                             ran = true;
                             join.done();
                           }),
                           false);
    ASSERT_NE(g.load(), nullptr);
    rt::sched::Suspended s = rt::sched::suspend_g(g.load());
    EXPECT_FALSE(s.dead);
    EXPECT_FALSE(s.stopped);
    EXPECT_EQ(s.status, rt::sched::kGRunnable);
    EXPECT_EQ(g.load()->status.load(), rt::sched::kGRunnable | rt::sched::kGScan);
    EXPECT_FALSE(ran.load());
    expect_scan_range_in_stack(s);
    rt::sched::resume_g(s);
    EXPECT_EQ(g.load()->status.load() & rt::sched::kGScan, 0u);
    join.wait();
    EXPECT_TRUE(ran.load());
  });
}

TEST_F(SchedStw, SuspendRunningGoroutineStopsIt) {
  in_rt([] {
    ProcsGuard guard;
    rt::gomaxprocs(2);
    Spinners sp(1);
    ASSERT_TRUE(eventually([&] { return sp.all_started() && sp.gs[0].load() != nullptr; }));
    Watchdog wd(&sp.stop, 10000ms);
    G* g = sp.gs[0].load();
    for (int round = 0; round < 5; round++) {
      rt::sched::Suspended s = rt::sched::suspend_g(g);
      ASSERT_FALSE(s.dead);
      // Running: stopped for us; or caught runnable (sysmon preempts the
      // spinner every 10 ms, so it sometimes sits in a run queue).
      EXPECT_TRUE(s.stopped || s.status == rt::sched::kGRunnable)
          << "round " << round << " status " << s.status;
      EXPECT_EQ(g->status.load() & rt::sched::kGScan, rt::sched::kGScan);
      expect_scan_range_in_stack(s);
      uint64_t a = sp.counts[0].load();
      rt::sleep(20ms);  // others may run; the suspended one must not
      uint64_t b = sp.counts[0].load();
      EXPECT_EQ(a, b) << "the suspended goroutine kept running (round " << round << ")";
      rt::sched::resume_g(s);
      EXPECT_TRUE(eventually([&] { return sp.counts[0].load() > b; }))
          << "the goroutine did not continue after resume_g";
    }
    sp.finish();
    EXPECT_FALSE(wd.fired());
  });
}

// Suspending a goroutine from a plain thread, while it spins.
TEST_F(SchedStw, SuspendRunningFromPlainThread) {
  ProcsGuard guard;
  rt::gomaxprocs(2);
  Spinners sp(2);
  ASSERT_TRUE(eventually([&] { return sp.all_started() && sp.gs[1].load() != nullptr; }));
  Watchdog wd(&sp.stop, 10000ms);
  for (int round = 0; round < 20; round++) {
    rt::sched::Suspended s = rt::sched::suspend_g(sp.gs[round % 2].load());
    uint64_t a = sp.counts[round % 2].load();
    std::this_thread::sleep_for(2ms);
    EXPECT_EQ(sp.counts[round % 2].load(), a);
    rt::sched::resume_g(s);
  }
  sp.finish();
  EXPECT_FALSE(wd.fired());
}

// A goroutine suspended (scan bit) while in a syscall scope, whose call
// returns while it is still claimed: exitsyscall must wait for the claim,
// not run on without a P. In a child: the failure is a fatal error.
TEST_F(SchedStw, SuspendGoroutineInSyscall) {
  EXPECT_EXIT(child_run_for(10, "2", nullptr,
                            [] {
                              std::atomic<G*> g{nullptr};
                              std::atomic<bool> in_call{false}, after{false};
                              Join join(1);
                              rt::go([&] {
                                g = rt::sched::getg();
                                rt::blocking([&] {
                                  in_call = true;
                                  struct timespec ts{0, 100'000'000};
                                  nanosleep(&ts, nullptr);
                                });
                                after = true;
                                rt::gosched();
                                join.done();
                              });
                              while (!in_call) rt::sleep(1ms);
                              rt::sched::Suspended s = rt::sched::suspend_g(g.load());
                              int bad = 0;
                              if (s.status != rt::sched::kGSyscall || s.stopped) bad |= 1;
                              uintptr_t lo = 0, hi = 0;
                              rt::sched::g_stack_scan_range(s, &lo, &hi);
                              if (lo < g.load()->stack.lo || lo >= hi) bad |= 2;
                              rt::sleep(200ms);  // its nanosleep ends meanwhile
                              if (after.load()) bad |= 4;  // ran while claimed
                              rt::sched::resume_g(s);
                              join.wait();
                              if (!after.load()) bad |= 8;
                              if (bad) fprintf(stderr, "bad=%d\n", bad);
                              return bad;
                            }),
              testing::ExitedWithCode(0), "");
}

TEST_F(SchedStw, SuspendDeadGoroutine) {
  in_rt([] {
    std::atomic<G*> g{nullptr};
    Join join(1);
    rt::go([&] {
      g = rt::sched::getg();
      join.done();
    });
    join.wait();
    ASSERT_TRUE(eventually([&] {
      return (g.load()->status.load() & ~rt::sched::kGScan) == rt::sched::kGDead;
    }));
    rt::sched::Suspended s = rt::sched::suspend_g(g.load());
    EXPECT_TRUE(s.dead);
    rt::sched::resume_g(s);  // a no-op
  });
}

// A goroutine spinning inside a NoPreemptScope can only be suspended when
// the scope ends.
TEST_F(SchedStw, SuspendWaitsForNoPreemptScope) {
  in_rt([] {
    ProcsGuard guard;
    rt::gomaxprocs(2);
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> count{0};
    std::atomic<G*> g{nullptr};
    std::atomic<int64_t> scope_end{0};
    Join join(1);
    rt::go([&] {
      g = rt::sched::getg();
      {
        rt::NoPreemptScope np;
        schedtest_spin(&count, &stop);
        scope_end = now_ns();
      }
      join.done();
    });
    ASSERT_TRUE(eventually([&] { return count.load() > 0; }));
    Watchdog wd(&stop, 200ms);
    rt::sched::Suspended s = rt::sched::suspend_g(g.load());
    int64_t suspended_at = now_ns();
    EXPECT_TRUE(wd.fired());
    EXPECT_GE(suspended_at, scope_end.load()) << "suspended inside a NoPreemptScope";
    rt::sched::resume_g(s);
    join.wait();
  });
}

// suspend_g asks a running goroutine to stop; if the goroutine parks on its
// own before it sees the request, suspend_g claims it parked instead. The
// stop request must not outlive that suspension: once resumed and readied,
// the goroutine's next preemption point must not stop it again for a
// suspender that is long gone (it would stay kGPreempted for ever).
TEST_F(SchedStw, SuspendRacingWithParkLeavesNoStaleStopRequest) {
  in_rt([] {
    ProcsGuard guard;
    rt::gomaxprocs(2);
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> count{0};
    std::atomic<uint32_t> gate{0};
    std::atomic<G*> g{nullptr};
    std::atomic<int> phase{0};
    Join join(1);
    rt::go([&] {
      g = rt::sched::getg();
      {
        rt::NoPreemptScope np;  // the stop request cannot land in here
        schedtest_spin(&count, &stop);
      }
      rt::sched::semacquire(&gate);  // parks before any preemption point
      phase = 1;
      for (int i = 0; i < 1000; i++) rt::yield_point();
      rt::sleep(1ms);
      for (int i = 0; i < 1000; i++) rt::yield_point();
      phase = 2;
      join.done();
    });
    ASSERT_TRUE(eventually([&] { return count.load() > 0; }));
    Watchdog wd(&stop, 100ms);
    rt::sched::Suspended s = rt::sched::suspend_g(g.load());
    EXPECT_EQ(s.status, rt::sched::kGWaiting);
    rt::sched::resume_g(s);
    rt::sched::semrelease(&gate);
    bool finished = join.wait_for_ns(3'000'000'000);
    EXPECT_TRUE(finished) << "the goroutine stopped itself again after its suspension ended: phase "
                          << phase.load() << ", status " << g.load()->status.load();
    if (!finished) {
      // Rescue it so the process can go on: it sits in kGPreempted.
      rt::sched::Suspended again = rt::sched::suspend_g(g.load());
      rt::sched::resume_g(again);
      join.wait();
    }
  });
}

// Suspend and stop-the-world at the same time as goroutines come and go.
TEST_F(SchedStw, SuspendAllWhileTheyChurn) {
  in_rt([] {
    ProcsGuard guard;
    rt::gomaxprocs(2);
    std::atomic<bool> stop{false};
    constexpr int kN = 16;
    Join join(kN);
    std::vector<std::atomic<G*>> gs(kN);
    for (int i = 0; i < kN; i++) {
      rt::go([&, i] {
        gs[i] = rt::sched::getg();
        uint64_t k = 0;
        while (!stop) {
          if (k % 3 == 0) rt::gosched();
          else if (k % 3 == 1) rt::sleep(10us);
          else {
            volatile int x = 0;
            for (int j = 0; j < 10000; j++) x = x + j;
          }
          k++;
        }
        join.done();
      });
    }
    ASSERT_TRUE(eventually([&] {
      for (auto& g : gs)
        if (!g.load()) return false;
      return true;
    }));
    for (int round = 0; round < (SCHEDTEST_SANITIZER ? 20 : 100); round++) {
      G* g = gs[round % kN].load();
      rt::sched::Suspended s = rt::sched::suspend_g(g);
      EXPECT_FALSE(s.dead);
      EXPECT_NE(g->status.load() & rt::sched::kGScan, 0u);
      rt::sched::resume_g(s);
      if (round % 10 == 0) {
        rt::sched::stop_the_world("churn");
        rt::sched::start_the_world();
      }
    }
    stop = true;
    EXPECT_TRUE(join.wait_for_ns(10'000'000'000)) << join.left() << " goroutines stuck";
  });
}

}  // namespace
