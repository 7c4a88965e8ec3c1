// Preemption through the whole scheduler: sysmon notices a goroutine that
// ran for 10 ms and asks it to yield, cooperatively (yield_point) and by
// SIGURG (asynchronous preemption of code that never calls the runtime).
//
// - A pure compute loop cannot starve a sleeper at GOMAXPROCS=1: the 1 ms
//   sleeper wakes within 100 ms (its lateness is measured), whether the
//   loop is an out-of-line function or - as users write it - a lambda
//   handed straight to rt::go, or the body of rt::run's main function.
// - With RT_DEBUG=asyncpreemptoff=1 (a child process) the same loop does
//   starve it until the loop stops by itself after 300 ms; a loop that
//   calls rt::yield_point() is still preempted cooperatively.
// - rt::NoPreemptScope keeps a spinning goroutine on its P (sleeper
//   starved while the scope is held), also across yield_point, and nests.
// - Preempted goroutines compute the same results (registers, vector
//   state), several spinners share one P, a locked goroutine is preempted
//   and stays on its thread.
#include <gtest/gtest.h>
#include <math.h>
#include <sys/wait.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <vector>

#include "sched/sysmon.h"
#include "sched_test_util.h"

using namespace schedtest;

namespace {

class SchedPreempt : public testing::Test {
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

// Sleeps 1 ms `rounds` times on the calling goroutine; returns the worst
// lateness in ms.
double worst_sleep_lateness_ms(int rounds) {
  double worst = 0;
  for (int i = 0; i < rounds; i++) {
    int64_t t0 = now_ns();
    rt::sleep(1ms);
    double late = ms_since(t0) - 1.0;
    if (late > worst) worst = late;
  }
  return worst;
}

// Under the sanitizers part of every loop runs in their runtimes, where the
// handler refuses to preempt (sysmon retries a slice later): more slack.
// The bound is for "was preempted at all" on a loaded shared machine (the
// OS may not run the M for a while); the watchdogs catch starvation, and
// the benchmark runner measures the real lateness.
constexpr double kLateBoundMs = SCHEDTEST_SANITIZER ? 1000.0 : 500.0;

// Out-of-line pure loop (no calls).
TEST_F(SchedPreempt, ComputeLoopDoesNotStarveSleeper) {
  in_rt([] {
    ProcsGuard guard;
    rt::gomaxprocs(1);
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> count{0};
    Join join(1);
    rt::go([&] {
      schedtest_spin(&count, &stop);
      join.done();
    });
    Watchdog wd(&stop, 5000ms);  // ends the loop even if preemption fails
    double worst = worst_sleep_lateness_ms(20);
    stop = true;
    join.wait();
    EXPECT_FALSE(wd.fired()) << "the sleeper only woke when the watchdog stopped the loop";
    EXPECT_LT(worst, kLateBoundMs) << "1 ms sleep woke " << worst << " ms late under a compute loop";
    EXPECT_GT(count.load(), 0u);
  });
}

// A timer due on a P whose G computes does not wait for the slice's end
// (10 ms): sysmon cuts the slice short once it has run 1 ms. The sleeper
// sleeps 3 ms with the spinner's slice starting as it parks, so waiting for
// the slice would make it about 7 ms late every time; the median must be
// far below that (a loaded host delays single wake-ups, not the median).
TEST_F(SchedPreempt, DueTimerCutsComputeSliceShort) {
  in_rt([] {
    ProcsGuard guard;
    rt::gomaxprocs(1);
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> count{0};
    Join join(1);
    rt::go([&] {
      schedtest_spin(&count, &stop);
      join.done();
    });
    Watchdog wd(&stop, 5000ms);
    std::vector<double> lates;
    for (int i = 0; i < 15; i++) {
      int64_t t0 = now_ns();
      rt::sleep(3ms);
      lates.push_back(ms_since(t0) - 3.0);
    }
    stop = true;
    join.wait();
    std::sort(lates.begin(), lates.end());
    EXPECT_FALSE(wd.fired());
    EXPECT_LT(lates[lates.size() / 2], 5.0) << "median lateness of a 3 ms sleep under a compute loop";
  });
}

// The loop as users write it: a lambda handed straight to rt::go. At -O2
// the lambda is inlined into rt::go's invoker thunk, whose symbol is in
// namespace rt.
TEST_F(SchedPreempt, ComputeLoopInLambdaDoesNotStarveSleeper) {
  in_rt([] {
    ProcsGuard guard;
    rt::gomaxprocs(1);
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
    Watchdog wd(&stop, 2000ms);
    double worst = worst_sleep_lateness_ms(10);
    stop = true;
    join.wait();
    EXPECT_FALSE(wd.fired()) << "the sleeper only woke when the watchdog stopped the loop";
    EXPECT_LT(worst, kLateBoundMs) << "1 ms sleep woke " << worst << " ms late under a compute loop";
  });
}

// The main function of rt::run spinning while another goroutine sleeps.
TEST_F(SchedPreempt, SpinningMainFunctionDoesNotStarveSleeper) {
  ProcsGuard guard;
  rt::gomaxprocs(1);
  // Static: rt::run returns when the main function does, and if that is
  // because the watchdog stopped it, the sleeper is still running.
  static std::atomic<bool> stop;
  static std::atomic<double> worst;
  stop = false;
  worst = -1;
  Watchdog wd(&stop, 2000ms);
  rt::run(0, nullptr, [] {
    rt::go([] {
      worst = worst_sleep_lateness_ms(10);
      stop = true;
    });
    uint64_t n = 0;
    while (!stop.load(std::memory_order_relaxed)) n = register_work(n);  // see there
    return static_cast<int>(n & 1);
  });
  EXPECT_FALSE(wd.fired()) << "the sleeper only woke when the watchdog stopped the main loop";
  EXPECT_GE(worst.load(), 0.0);
  EXPECT_LT(worst.load(), kLateBoundMs);
}

// Several pure spinners on one P all make progress (round-robin by
// preemption), and sysmon counts its requests.
TEST_F(SchedPreempt, SpinnersShareOneProc) {
  in_rt([] {
    ProcsGuard guard;
    rt::gomaxprocs(1);
    constexpr int kN = 3;
    std::atomic<bool> stop{false};
    std::vector<std::atomic<uint64_t>> counts(kN);
    uint64_t req0 = rt::sched::sysmon_stats().preempt_requests;
    Join join(kN);
    for (int i = 0; i < kN; i++) {
      rt::go([&, i] {
        schedtest_spin(&counts[i], &stop);
        join.done();
      });
    }
    Watchdog wd(&stop, 5000ms);
    rt::sleep(300ms);  // the main goroutine itself needs preemption to wake
    std::vector<uint64_t> mid(kN);
    for (int i = 0; i < kN; i++) mid[i] = counts[i].load();
    rt::sleep(100ms);
    stop = true;
    join.wait();
    EXPECT_FALSE(wd.fired());
    for (int i = 0; i < kN; i++) {
      EXPECT_GT(mid[i], 0u) << "spinner " << i << " never ran";
      EXPECT_GT(counts[i].load(), mid[i]) << "spinner " << i << " stopped getting turns";
    }
    EXPECT_GT(rt::sched::sysmon_stats().preempt_requests, req0);
  });
}

// Preempted code computes the same result: general registers, flags and
// the vector state survive the injected call.
__attribute__((noinline)) double mixed_work(uint64_t seed, uint64_t iters, uint64_t* ihash) {
  double acc = 0.5;
  double v[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  uint64_t h = seed;
  for (uint64_t i = 0; i < iters; i++) {
    h = h * 6364136223846793005ull + 1442695040888963407ull;
    for (int k = 0; k < 8; k++) v[k] = v[k] * 0.999999 + static_cast<double>((h >> (k * 8)) & 0xff) * 1e-6;
    acc += v[i & 7] * 1e-3;
  }
  *ihash = h;
  return acc + v[0] + v[7];
}

TEST_F(SchedPreempt, PreemptedComputationIsExact) {
  // Each goroutine must outrun a 10 ms slice several times over, however
  // fast the host is today: size the work from a timed sample (~40 ms).
  uint64_t sample_h;
  int64_t t_sample = now_ns();
  (void)mixed_work(1, 200'000, &sample_h);
  double sample_ms = std::max(ms_since(t_sample), 0.01);
  const uint64_t kIters = static_cast<uint64_t>(200'000 * std::min(40.0 / sample_ms, 1000.0));
  constexpr int kN = 4;
  double want[kN];
  uint64_t want_h[kN];
  for (int i = 0; i < kN; i++) want[i] = mixed_work(i + 1, kIters, &want_h[i]);
  in_rt([&] {
    ProcsGuard guard;
    rt::gomaxprocs(1);
    double got[kN];
    uint64_t got_h[kN];
    uint64_t req0 = rt::sched::sysmon_stats().preempt_requests;
    Join join(kN);
    for (int i = 0; i < kN; i++) {
      rt::go([&, i] {
        got[i] = mixed_work(i + 1, kIters, &got_h[i]);
        join.done();
      });
    }
    join.wait();
    EXPECT_GT(rt::sched::sysmon_stats().preempt_requests, req0) << "nothing was preempted";
    for (int i = 0; i < kN; i++) {
      EXPECT_EQ(got[i], want[i]) << "goroutine " << i;
      EXPECT_EQ(got_h[i], want_h[i]) << "goroutine " << i;
    }
  });
}

// errno belongs to the thread, but a goroutine's errno must survive an
// asynchronous preemption that moves it to another thread (the trampoline
// saves it and restores it on the thread the goroutine resumes on), and
// must not be written into the old thread, which by then runs another
// goroutine. Three spinners on two Ps, each owning a distinct errno value,
// check it on every round of a loop without safe points until they have
// changed threads a few times. The check itself runs in a no-preempt
// scope: a preemption between __errno_location() and the load would read
// the old thread's errno whatever the runtime does (see HAZARDS.md).
__attribute__((noinline)) void errno_spin(int mine, const std::atomic<bool>* stop,
                                          std::atomic<uint64_t>* bad,
                                          std::atomic<uint64_t>* moves) {
  {
    rt::NoPreemptScope np;
    set_fresh_errno(mine);
  }
  int tid = gettid_();
  uint64_t x = 1;
  for (uint64_t i = 0; !stop->load(std::memory_order_relaxed); i++) {
    x = register_work(x);  // mostly this: user code, preemptible anywhere
    if ((i & 15) != 0) continue;
    rt::NoPreemptScope np;
    if (fresh_errno() != mine) {
      bad->fetch_add(1, std::memory_order_relaxed);
      set_fresh_errno(mine);
    }
    int t = gettid_();
    if (t != tid) moves->fetch_add(1, std::memory_order_relaxed);
    tid = t;
  }
  __asm__ volatile("" : : "r"(x));
}

TEST_F(SchedPreempt, ErrnoSurvivesAsyncPreemption) {
  in_rt([] {
    ProcsGuard guard;
    rt::gomaxprocs(2);
    constexpr int kN = 3;
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> bad{0}, moves{0};
    Join join(kN);
    for (int i = 0; i < kN; i++) {
      rt::go([&, i] {
        errno_spin(1000 + i, &stop, &bad, &moves);
        join.done();
      });
    }
    Watchdog wd(&stop, 10000ms);
    EXPECT_TRUE(eventually([&] { return moves.load() >= 6; }, 10000ms))
        << "the spinners changed threads only " << moves.load() << " times";
    stop = true;
    join.wait();
    EXPECT_EQ(bad.load(), 0u) << "a spinner saw another goroutine's or thread's errno";
  });
}

// One try of a sleeper beside a spinner on one P: the sleeper sleeps 1 ms
// while the spinner (inside a NoPreemptScope, nested, when asked) spins
// until a 300 ms watchdog stops it. Under heavy load the sleeper's timer
// may already be due when its P picks the next goroutine, and then it runs
// before the spinner ever started: such a try proves nothing.
struct SleeperTry {
  bool spinner_ran;
  double slept_ms;
  bool watchdog_fired;
};
SleeperTry sleep_beside_spinner(bool no_preempt_scope) {
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> count{0};
  Join join(1);
  rt::go([&] {
    if (no_preempt_scope) {
      rt::NoPreemptScope outer;
      { rt::NoPreemptScope inner; }
      schedtest_spin(&count, &stop);
    } else {
      schedtest_spin(&count, &stop);
    }
    join.done();
  });
  Watchdog wd(&stop, 300ms);
  int64_t t0 = now_ns();
  rt::sleep(1ms);
  SleeperTry t{false, ms_since(t0), false};
  t.spinner_ran = count.load() != 0;
  stop = true;
  join.wait();
  t.watchdog_fired = wd.fired();
  return t;
}

// NoPreemptScope: the spinner keeps its P while the scope is held; the
// sleeper wakes only when the loop ends by itself (300 ms). Nested scopes
// count: leaving the inner one keeps preemption off.
TEST_F(SchedPreempt, NoPreemptScopeKeepsTheProc) {
  in_rt([] {
    ProcsGuard guard;
    rt::gomaxprocs(1);
    for (int attempt = 0; attempt < 10; attempt++) {
      SleeperTry t = sleep_beside_spinner(true);
      if (!t.spinner_ran) continue;
      EXPECT_TRUE(t.watchdog_fired);
      EXPECT_GE(t.slept_ms, 250.0) << "the no-preempt spinner was preempted after " << t.slept_ms << " ms";
      return;
    }
    FAIL() << "the spinner never ran before the sleeper woke, in 10 tries";
  });
}

// yield_point inside a NoPreemptScope does not yield either.
TEST_F(SchedPreempt, YieldPointInsideNoPreemptScopeDoesNotYield) {
  in_rt([] {
    ProcsGuard guard;
    rt::gomaxprocs(1);
    std::atomic<bool> stop{false};
    Join join(1);
    rt::go([&] {
      rt::NoPreemptScope np;
      while (!stop.load(std::memory_order_relaxed)) rt::yield_point();
      join.done();
    });
    Watchdog wd(&stop, 300ms);
    int64_t t0 = now_ns();
    rt::sleep(1ms);
    double slept = ms_since(t0);
    join.wait();
    EXPECT_GE(slept, 250.0) << "yield_point yielded inside a NoPreemptScope";
  });
}

// After the scope ends the same goroutine is preemptible again.
TEST_F(SchedPreempt, PreemptibleAgainAfterNoPreemptScope) {
  in_rt([] {
    ProcsGuard guard;
    rt::gomaxprocs(1);
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> count{0};
    Join join(1);
    rt::go([&] {
      { rt::NoPreemptScope np; }
      schedtest_spin(&count, &stop);
      join.done();
    });
    Watchdog wd(&stop, 5000ms);
    double worst = worst_sleep_lateness_ms(5);
    stop = true;
    join.wait();
    EXPECT_FALSE(wd.fired());
    EXPECT_LT(worst, kLateBoundMs);
  });
}

// --- child processes with RT_DEBUG=asyncpreemptoff=1 -------------------------

// Without async preemption the pure loop starves the sleeper until it
// stops by itself (300 ms). On a loaded host the M may lose its CPU between
// the sleeper parking and the spinner starting; if the timer has expired by
// then, the sleeper is readied ahead of the spinner and wakes on time. Such
// an attempt shows nothing (the spinner never ran before the wake-up) and
// is repeated.
TEST(SchedPreemptOff, ComputeLoopStarvesSleeper) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(child_run("1", "asyncpreemptoff=1",
                        [] {
                          for (int attempt = 0; attempt < 5; attempt++) {
                            SleeperTry t = sleep_beside_spinner(false);
                            if (!t.spinner_ran) continue;
                            if (t.slept_ms < 250.0 || !t.watchdog_fired) {
                              fprintf(stderr, "sleeper woke after %.1f ms with asyncpreemptoff\n",
                                      t.slept_ms);
                              return 1;
                            }
                            return 0;
                          }
                          fprintf(stderr, "the spinner never ran before the sleeper woke\n");
                          return 1;
                        }),
              testing::ExitedWithCode(0), "");
}

// ... but a loop that calls yield_point is preempted cooperatively.
TEST(SchedPreemptOff, YieldPointIsACooperativePreemptionPoint) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(child_run("1", "asyncpreemptoff=1",
                        [] {
                          std::atomic<bool> stop{false};
                          Join join(1);
                          rt::go([&] {
                            while (!stop.load(std::memory_order_relaxed)) rt::yield_point();
                            join.done();
                          });
                          Watchdog wd(&stop, 3000ms);
                          double worst = worst_sleep_lateness_ms(10);
                          stop = true;
                          join.wait();
                          if (worst >= kLateBoundMs || wd.fired()) {
                            fprintf(stderr, "yield_point loop: sleeper %.1f ms late\n", worst);
                            return 1;
                          }
                          return 0;
                        }),
              testing::ExitedWithCode(0), "");
}

// Sanity of the child harness itself: the same loop in a child with async
// preemption on is preempted (so the test above measures the flag).
TEST(SchedPreemptOff, ControlAsyncPreemptionOnInChild) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(child_run("1", nullptr,
                        [] {
                          std::atomic<bool> stop{false};
                          std::atomic<uint64_t> count{0};
                          Join join(1);
                          rt::go([&] {
                            schedtest_spin(&count, &stop);
                            join.done();
                          });
                          Watchdog wd(&stop, 3000ms);
                          double worst = worst_sleep_lateness_ms(10);
                          stop = true;
                          join.wait();
                          if (worst >= kLateBoundMs || wd.fired()) {
                            fprintf(stderr, "sleeper %.1f ms late with async preemption on\n",
                                    worst);
                            return 1;
                          }
                          return 0;
                        }),
              testing::ExitedWithCode(0), "");
}

// A goroutine locked to its thread is preempted too (others run) and is
// resumed on the same thread. (In a child: a failure here has been a
// false "all goroutines are asleep" that kills the process.)
TEST(SchedPreemptChild, LockedSpinnerIsPreemptedAndStaysOnItsThread) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  if (async_preemption_env_off()) GTEST_SKIP() << "RT_DEBUG=asyncpreemptoff=1 in the environment";
  EXPECT_EXIT(child_run("1", nullptr,
                        [] {
                          std::atomic<bool> stop{false};
                          std::atomic<uint64_t> count{0};
                          std::atomic<int> tid_before{0}, tid_after{0};
                          Join join(1);
                          rt::go([&] {
                            rt::lock_os_thread();
                            tid_before = gettid_();
                            schedtest_spin(&count, &stop);
                            tid_after = gettid_();
                            rt::unlock_os_thread();
                            join.done();
                          });
                          Watchdog wd(&stop, 5000ms);
                          double worst = worst_sleep_lateness_ms(10);
                          stop = true;
                          join.wait();
                          if (wd.fired() || worst >= kLateBoundMs ||
                              tid_before.load() != tid_after.load()) {
                            fprintf(stderr, "locked spinner: sleeper %.1f ms late, tid %d -> %d\n",
                                    worst, tid_before.load(), tid_after.load());
                            return 1;
                          }
                          return 0;
                        }),
              testing::ExitedWithCode(0), "");
}

// SIGURG lands on goroutines that block in the OS without a syscall scope
// (the documented hazard). read(2) on a pipe is restarted (SA_RESTART) and
// returns its data intact.
TEST_F(SchedPreempt, UnscopedBlockingReadSurvivesSigurg) {
  in_rt([] {
    ProcsGuard guard;
    rt::gomaxprocs(2);
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    std::atomic<int> result{-100}, err{0};
    char got = 0;
    Join join(1);
    rt::go([&] {
      // No scope on purpose: the P stays "running" and sysmon keeps asking.
      ssize_t n = read(fds[0], &got, 1);
      result = static_cast<int>(n);
      err = errno;
      join.done();
    });
    rt::sleep(150ms);
    char c = 'x';
    ASSERT_EQ(write(fds[1], &c, 1), 1);
    join.wait();
    EXPECT_EQ(result.load(), 1) << "read failed with errno " << err.load();
    EXPECT_EQ(got, 'x');
    close(fds[0]);
    close(fds[1]);
  });
}

}  // namespace
