// How a goroutine program dies, each case in a child process (gtest death
// tests, style "threadsafe": the child re-executes this binary, so it gets
// a fresh runtime and its own RT_* environment):
// - global deadlock: "fatal error: all goroutines are asleep - deadlock!",
//   exit 2, and a dump naming each goroutine with its wait reason; and no
//   false alarm while a timer is pending, while a goroutine is in a syscall
//   scope, or while a locked goroutine is handed between threads;
// - stack overflow: "fatal error: stack overflow", exit 2, naming the
//   goroutine;
// - an exception escaping a goroutine: "panic: <what()>", then
//   "goroutine N [running]:", exit 2;
// - bad RT_MAXPROCS / RT_STACKSIZE / RT_DEBUG: one line naming the
//   variable, exit 2;
// - runtime fatal errors and SIGQUIT dump the goroutines.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include <atomic>
#include <stdexcept>
#include <string>

#include "sched/stack.h"
#include "sched/stw.h"
#include "sched_test_util.h"

using namespace schedtest;

namespace {

class SchedDeath : public testing::Test {
 protected:
  static void SetUpTestSuite() { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

#define DEADLOCK_MSG "fatal error: all goroutines are asleep - deadlock!"

// The main goroutine blocks forever on a sema nobody releases. In a fresh
// process the main goroutine of rt::run is goroutine 1.
TEST_F(SchedDeath, MainBlockedForeverIsADeadlock) {
  EXPECT_EXIT(child_run(nullptr, nullptr,
                        [] {
                          std::atomic<uint32_t> never{0};
                          rt::sched::semacquire(&never);
                          return 0;
                        }),
              testing::ExitedWithCode(2), DEADLOCK_MSG ".*goroutine 1 \\[semacquire\\]");
}

// Every goroutine is listed with its wait reason.
TEST_F(SchedDeath, DeadlockDumpListsEveryGoroutine) {
  EXPECT_EXIT(child_run("2", nullptr,
                        [] {
                          static std::atomic<uint32_t> a{0}, b{0};
                          for (int i = 0; i < 3; i++) rt::go([] { rt::sched::semacquire(&b); });
                          rt::sleep(20ms);  // let them park
                          rt::sched::semacquire(&a);
                          return 0;
                        }),
              testing::ExitedWithCode(2),
              DEADLOCK_MSG ".*goroutine 1 \\[semacquire\\].*goroutine 2 \\[semacquire\\]"
                           ".*goroutine 3 \\[semacquire\\].*goroutine 4 \\[semacquire\\]");
}

// Deadlock reached after a sleep (the timer is gone by then).
TEST_F(SchedDeath, DeadlockAfterSleep) {
  EXPECT_EXIT(child_run(nullptr, nullptr,
                        [] {
                          rt::sleep(30ms);
                          std::atomic<uint32_t> never{0};
                          rt::sched::semacquire(&never);
                          return 0;
                        }),
              testing::ExitedWithCode(2), DEADLOCK_MSG);
}

// A pending timer is a way out: main sleeps 300 ms while every other
// goroutine is blocked for good; no false alarm.
TEST_F(SchedDeath, PendingTimerIsNotADeadlock) {
  EXPECT_EXIT(child_run(nullptr, nullptr,
                        [] {
                          static std::atomic<uint32_t> never{0};
                          for (int i = 0; i < 4; i++) rt::go([] { rt::sched::semacquire(&never); });
                          rt::sleep(300ms);
                          fprintf(stderr, "main woke\n");
                          return 0;
                        }),
              testing::ExitedWithCode(0), "main woke");
}

// Same with a semacquire_until deadline as the only timer.
TEST_F(SchedDeath, SemaDeadlineIsNotADeadlock) {
  EXPECT_EXIT(child_run(nullptr, nullptr,
                        [] {
                          std::atomic<uint32_t> never{0};
                          bool got = rt::sched::semacquire_until(
                              &never, rt::sched::nanotime() + 200'000'000);
                          return got ? 1 : 0;
                        }),
              testing::ExitedWithCode(0), "");
}

// A locked goroutine handed between threads (it yields; another M dequeues
// it and wakes its thread) while main is blocked on a sema: not a deadlock.
TEST_F(SchedDeath, LockedGoroutineYieldingIsNotADeadlock) {
  EXPECT_EXIT(child_run("1", nullptr,
                        [] {
                          static std::atomic<uint32_t> done{0};
                          rt::go([] {
                            rt::lock_os_thread();
                            for (int i = 0; i < 200; i++) rt::gosched();
                            rt::unlock_os_thread();
                            rt::sched::semrelease(&done);
                          });
                          rt::sched::semacquire(&done);
                          return 0;
                        }),
              testing::ExitedWithCode(0), "");
}

// The same with the locked goroutine sleeping (a timer readies it).
TEST_F(SchedDeath, LockedGoroutineSleepingIsNotADeadlock) {
  EXPECT_EXIT(child_run("1", nullptr,
                        [] {
                          static std::atomic<uint32_t> done{0};
                          rt::go([] {
                            rt::lock_os_thread();
                            for (int i = 0; i < 50; i++) rt::sleep(1ms);
                            rt::unlock_os_thread();
                            rt::sched::semrelease(&done);
                          });
                          rt::sched::semacquire(&done);
                          return 0;
                        }),
              testing::ExitedWithCode(0), "");
}

// The main goroutine locked to its thread and blocked forever is still a
// deadlock.
TEST_F(SchedDeath, LockedMainBlockedForeverIsADeadlock) {
  EXPECT_EXIT(child_run(nullptr, nullptr,
                        [] {
                          rt::lock_os_thread();
                          std::atomic<uint32_t> never{0};
                          rt::sched::semacquire(&never);
                          return 0;
                        }),
              testing::ExitedWithCode(2), DEADLOCK_MSG ".*goroutine 1 \\[semacquire, locked to thread\\]");
}

// A plain std::thread (not a goroutine) releases the main goroutine after
// 200 ms. The runtime cannot see that thread (Go has no such threads, C++
// programs do): without an ExternalWaker the detector fires, with one it
// stays quiet, and once the last one is gone it is armed again.
TEST_F(SchedDeath, ThreadWakerWithoutExternalWakerLooksLikeADeadlock) {
  EXPECT_EXIT(child_run(nullptr, nullptr,
                        [] {
                          std::atomic<uint32_t> sem{0};
                          std::thread t([&] {
                            std::this_thread::sleep_for(500ms);
                            rt::sched::semrelease(&sem);
                          });
                          t.detach();
                          rt::sched::semacquire(&sem);
                          return 0;
                        }),
              testing::ExitedWithCode(2), DEADLOCK_MSG);
}

TEST_F(SchedDeath, ThreadWakerWithExternalWakerIsNotADeadlock) {
  EXPECT_EXIT(child_run(nullptr, nullptr,
                        [] {
                          std::atomic<uint32_t> sem{0};
                          rt::ExternalWaker waker;
                          std::thread t([&sem, w = std::move(waker)] {
                            std::this_thread::sleep_for(200ms);
                            rt::sched::semrelease(&sem);
                          });
                          rt::sched::semacquire(&sem);
                          rt::blocking([&] { t.join(); });
                          fprintf(stderr, "released by the thread\n");
                          // The waker went with the thread: a real deadlock
                          // is reported again.
                          std::atomic<uint32_t> never{0};
                          rt::sched::semacquire(&never);
                          return 0;
                        }),
              testing::ExitedWithCode(2), "released by the thread\n" DEADLOCK_MSG);
}

// Deadlock detection is only armed inside rt::run: goroutines started with
// rt::go from plain threads may block for good without killing the process.
TEST_F(SchedDeath, NoDetectionOutsideRun) {
  EXPECT_EXIT(
      {
        child_deadline(30);
        static std::atomic<uint32_t> never{0};
        rt::go([] { rt::sched::semacquire(&never); });
        std::this_thread::sleep_for(200ms);
        fprintf(stderr, "alive\n");
        _exit(0);
      },
      testing::ExitedWithCode(0), "alive");
}

// --- stack overflow ---------------------------------------------------------

// Unbounded on purpose: it must run into the guard page.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winfinite-recursion"
__attribute__((noinline)) int recurse(int depth) {
  volatile char pad[512];
  pad[0] = static_cast<char>(depth);
  int r = recurse(depth + 1);
  return r + pad[0];
}
#pragma GCC diagnostic pop

TEST_F(SchedDeath, StackOverflowInGoroutine) {
  EXPECT_EXIT(child_run(nullptr, nullptr,
                        [] {
                          std::atomic<uint32_t> never{0};
                          rt::go([] { recurse(0); });  // goroutine 2
                          rt::sched::semacquire(&never);
                          return 0;
                        }),
              testing::ExitedWithCode(2), "fatal error: stack overflow.*goroutine 2 \\[running\\]");
}

TEST_F(SchedDeath, StackOverflowInMainGoroutine) {
  EXPECT_EXIT(child_run(nullptr, nullptr, [] { return recurse(0); }), testing::ExitedWithCode(2),
              "fatal error: stack overflow.*goroutine 1 \\[running\\]");
}

// A smaller RT_STACKSIZE overflows sooner, with the same report.
TEST_F(SchedDeath, StackOverflowWithSmallStacks) {
  EXPECT_EXIT(
      {
        setenv("RT_STACKSIZE", "64KiB", 1);
        child_run(nullptr, nullptr, [] { return recurse(0); });
      },
      testing::ExitedWithCode(2), "65536-byte limit.*fatal error: stack overflow");
}

// A deep but bounded recursion well inside the stack works.
__attribute__((noinline)) int bounded(int depth) {
  volatile char pad[256];
  pad[0] = 1;
  if (depth == 0) return pad[0];
  return bounded(depth - 1) + pad[0];
}

TEST_F(SchedDeath, DeepRecursionWithinTheStackWorks) {
  // 256 KiB default stacks: ~300 bytes a frame, 400 frames = 120 KiB.
  int r = 0;
  in_rt([&] {
    Join j(1);
    rt::go([&] {
      r = bounded(400);
      j.done();
    });
    j.wait();
  });
  EXPECT_EQ(r, 401);
}

// --- panics -----------------------------------------------------------------

TEST_F(SchedDeath, UncaughtExceptionInGoroutineIsAPanic) {
  EXPECT_EXIT(child_run(nullptr, nullptr,
                        [] {
                          std::atomic<uint32_t> never{0};
                          rt::go([] { throw std::runtime_error("boom in goroutine"); });  // 2
                          rt::sched::semacquire(&never);
                          return 0;
                        }),
              testing::ExitedWithCode(2), "panic: boom in goroutine.*\ngoroutine 2 \\[running\\]:");
}

TEST_F(SchedDeath, UncaughtExceptionInMainIsAPanic) {
  EXPECT_EXIT(child_run(nullptr, nullptr,
                        []() -> int { throw std::logic_error("main failed"); }),
              testing::ExitedWithCode(2), "panic: main failed.*\ngoroutine 1 \\[running\\]:");
}

TEST_F(SchedDeath, NonStdExceptionIsAPanic) {
  EXPECT_EXIT(child_run(nullptr, nullptr,
                        [] {
                          std::atomic<uint32_t> never{0};
                          rt::go([] { throw 42; });
                          rt::sched::semacquire(&never);
                          return 0;
                        }),
              testing::ExitedWithCode(2), "panic: [^\n]*int.*goroutine 2 \\[running\\]:");
}

// Exceptions caught inside a goroutine, across parking, are fine.
TEST_F(SchedDeath, CaughtExceptionsAcrossParking) {
  in_rt([] {
    Join j(20);
    std::atomic<int> caught{0};
    for (int i = 0; i < 20; i++) {
      rt::go([&, i] {
        try {
          try {
            rt::sleep(std::chrono::microseconds(100 * (i % 5)));
            throw std::runtime_error("inner " + std::to_string(i));
          } catch (const std::exception&) {
            rt::gosched();  // parks while an exception is being handled
            rt::sleep(100us);
            EXPECT_EQ(std::uncaught_exceptions(), 0);
            throw;  // rethrow the current exception after moving threads
          }
        } catch (const std::runtime_error& e) {
          if (std::string(e.what()) == "inner " + std::to_string(i)) caught++;
        }
        j.done();
      });
    }
    j.wait();
    EXPECT_EQ(caught.load(), 20);
  });
}

// --- configuration ----------------------------------------------------------

// A bad value stops start-up with exactly one line naming the variable.
void expect_bad_env(const char* var, const char* value) {
  EXPECT_EXIT(
      {
        child_deadline(30);
        setenv(var, value, 1);
        rt::run(0, nullptr, [] { fprintf(stderr, "main ran\n"); });
        _exit(0);
      },
      testing::ExitedWithCode(2), std::string("^[^\n]*") + var + "[^\n]*\n$")
      << var << "=" << value;
}

TEST_F(SchedDeath, BadMaxprocs) {
  expect_bad_env("RT_MAXPROCS", "0");
  expect_bad_env("RT_MAXPROCS", "-1");
  expect_bad_env("RT_MAXPROCS", "two");
  expect_bad_env("RT_MAXPROCS", "2x");
  expect_bad_env("RT_MAXPROCS", "99999999999999999999");
}

TEST_F(SchedDeath, BadStacksize) {
  expect_bad_env("RT_STACKSIZE", "abc");
  expect_bad_env("RT_STACKSIZE", "1");      // below 16 KiB
  expect_bad_env("RT_STACKSIZE", "10XB");
  expect_bad_env("RT_STACKSIZE", "-64KiB");
  expect_bad_env("RT_STACKSIZE", "2TiB");  // above 1 GiB
}

TEST_F(SchedDeath, BadDebug) {
  expect_bad_env("RT_DEBUG", "asyncpreemptoff=yes");
  expect_bad_env("RT_DEBUG", "schedtrace");
}

// The first rt::go (not rt::run) also validates the environment.
TEST_F(SchedDeath, BadEnvOnFirstGo) {
  EXPECT_EXIT(
      {
        child_deadline(30);
        setenv("RT_MAXPROCS", "zero", 1);
        rt::go([] {});
        std::this_thread::sleep_for(100ms);
        _exit(0);
      },
      testing::ExitedWithCode(2), "RT_MAXPROCS");
}

// Good values are honoured.
TEST_F(SchedDeath, GoodEnvIsHonoured) {
  EXPECT_EXIT(
      {
        child_deadline(30);
        setenv("RT_MAXPROCS", "3", 1);
        setenv("RT_STACKSIZE", "128KiB", 1);
        int rc = rt::run(0, nullptr, [] {
          int procs = rt::gomaxprocs();
          size_t ss = rt::sched::stack_size();
          if (procs != 3 || ss != (128u << 10)) {
            fprintf(stderr, "gomaxprocs %d stack %zu\n", procs, ss);
            return 1;
          }
          return 0;
        });
        _exit(rc);
      },
      testing::ExitedWithCode(0), "");
}

// GoroutineLocal outside a goroutine, and a 17th key: clear fatal errors.
TEST_F(SchedDeath, GoroutineLocalOutsideGoroutineIsFatal) {
  EXPECT_EXIT(
      {
        child_deadline(30);
        static rt::GoroutineLocal<int> gl;
        *gl = 1;
        _exit(0);
      },
      testing::ExitedWithCode(2), "fatal error: GoroutineLocal used outside a goroutine");
}

TEST_F(SchedDeath, TooManyGoroutineLocalKeysIsFatal) {
  EXPECT_EXIT(
      {
        child_deadline(30);
        for (int i = 0; i < 17; i++) new rt::GoroutineLocal<int>();
        _exit(0);
      },
      testing::ExitedWithCode(2), "fatal error: GoroutineLocal: more than 16 keys");
}

// --- dumps ------------------------------------------------------------------

// A runtime fatal error (here: resume_g of a goroutine that was never
// suspended) prints "fatal error: ..." and, as DESIGN.md says, a goroutine
// dump (Go's throw prints every goroutine).
TEST_F(SchedDeath, FatalErrorDumpsGoroutines) {
  EXPECT_EXIT(child_run(nullptr, nullptr,
                        [] {
                          static std::atomic<uint32_t> never{0};
                          static std::atomic<rt::sched::G*> parked{nullptr};
                          rt::go([] {
                            parked = rt::sched::getg();
                            rt::sched::semacquire(&never);
                          });
                          while (!parked || rt::sched::sema_waiters(&never) == 0) rt::sleep(1ms);
                          rt::sched::Suspended bogus;
                          bogus.g = parked.load();
                          bogus.status = rt::sched::kGRunnable;
                          rt::sched::resume_g(bogus);
                          return 0;
                        }),
              testing::ExitedWithCode(2), "fatal error: .*goroutine 2 \\[semacquire\\]");
}

// SIGQUIT dumps every goroutine and exits 2, as Go does.
TEST_F(SchedDeath, SigquitDumpsGoroutines) {
  EXPECT_EXIT(child_run(nullptr, nullptr,
                        [] {
                          static std::atomic<uint32_t> never{0};
                          rt::go([] { rt::sched::semacquire(&never); });
                          rt::go([] { rt::sleep(10s); });
                          // Both parked by then (under TSan a goroutine's
                          // first run alone can take milliseconds).
                          rt::sleep(SCHEDTEST_TSAN ? 500ms : 20ms);
                          kill(getpid(), SIGQUIT);
                          rt::sleep(5s);
                          return 0;
                        }),
              testing::ExitedWithCode(2),
              "SIGQUIT: quit.*goroutine 2 \\[semacquire\\].*goroutine 3 \\[sleep\\]");
}

}  // namespace
