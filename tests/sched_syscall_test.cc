// Syscall scopes (rt::blocking, rt::SyscallScope): a goroutine blocked in
// the OS inside a scope does not hold its P, so at GOMAXPROCS=1 the other
// goroutines keep running meanwhile (sysmon retakes the P); errno survives
// the scope even when the goroutine resumes on another thread; a locked
// goroutine returns to its own thread; many goroutines may block at once;
// a scope on a plain thread is a no-op.
#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <vector>

#include "sched/sysmon.h"
#include "sched_test_util.h"

using namespace schedtest;

namespace {

class SchedSyscall : public testing::Test {
 protected:
  static void SetUpTestSuite() { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

struct ProcsGuard {
  int old = rt::gomaxprocs();
  ~ProcsGuard() { rt::gomaxprocs(old); }
};

struct Pipe {
  int r = -1, w = -1;
  Pipe() {
    int fds[2];
    if (pipe(fds) == 0) {
      r = fds[0];
      w = fds[1];
    }
  }
  ~Pipe() {
    close(r);
    close(w);
  }
};

void nanosleep_ms(int ms) {
  struct timespec ts{ms / 1000, (ms % 1000) * 1'000'000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

// A read on a pipe nobody writes for 200 ms: the other goroutine keeps
// counting; the writer is that other goroutine itself, so if the blocked
// read held the only P the test could not finish (a watchdog thread writes
// after 5 s to end it).
TEST_F(SchedSyscall, BlockingReadDoesNotBlockOthers) {
  in_rt([] {
    ProcsGuard guard;
    rt::gomaxprocs(1);
    Pipe p;
    ASSERT_GE(p.r, 0);
    std::atomic<bool> reading{false};
    std::atomic<uint64_t> count{0};
    std::atomic<int64_t> read_ns{0};
    std::atomic<bool> wd_wrote{false};
    Join join(2);
    rt::go([&] {
      reading = true;
      int64_t t0 = now_ns();
      char c = 0;
      ssize_t n = rt::blocking([&] { return read(p.r, &c, 1); });
      read_ns = now_ns() - t0;
      EXPECT_EQ(n, 1);
      join.done();
    });
    rt::go([&] {
      while (!reading) rt::gosched();
      int64_t t0 = now_ns();
      while (now_ns() - t0 < 200'000'000) {
        count++;
        rt::gosched();
      }
      char c = 'x';
      EXPECT_EQ(write(p.w, &c, 1), 1);
      join.done();
    });
    std::thread watchdog([&] {
      for (int i = 0; i < 500 && join.left() > 0; i++) std::this_thread::sleep_for(10ms);
      if (join.left() > 0) {
        wd_wrote = true;
        char c = 'w';
        (void)!write(p.w, &c, 1);
      }
    });
    join.wait();
    rt::blocking([&] { watchdog.join(); });
    EXPECT_FALSE(wd_wrote.load()) << "the counter goroutine never ran while read() blocked";
    EXPECT_GT(count.load(), 100u);
    EXPECT_GE(read_ns.load(), 150'000'000);
  });
}

// The same with nanosleep in an RAII SyscallScope, and the P-retake
// counter moves.
TEST_F(SchedSyscall, NanosleepInScopeDoesNotBlockOthers) {
  in_rt([] {
    ProcsGuard guard;
    rt::gomaxprocs(1);
    uint64_t retakes0 = rt::sched::sysmon_stats().syscall_retakes;
    std::atomic<bool> sleeping{false}, done{false};
    std::atomic<uint64_t> during{0};
    Join join(2);
    rt::go([&] {
      {
        rt::SyscallScope scope;
        sleeping = true;
        nanosleep_ms(200);
      }
      done = true;
      join.done();
    });
    rt::go([&] {
      while (!sleeping) rt::gosched();
      while (!done) {
        during++;
        rt::gosched();
      }
      join.done();
    });
    join.wait();
    EXPECT_GT(during.load(), 100u) << "others did not run during the scoped nanosleep";
    EXPECT_GT(rt::sched::sysmon_stats().syscall_retakes, retakes0);
  });
}

// errno set by the blocking call survives the scope, even when the P was
// retaken and the goroutine resumes on another M (GOMAXPROCS=1 with a busy
// goroutine holding the P when the call returns).
TEST_F(SchedSyscall, ErrnoPreservedAcrossScope) {
  in_rt([] {
    ProcsGuard guard;
    rt::gomaxprocs(1);
    std::atomic<bool> stop{false};
    Join busy(1);
    rt::go([&] {
      while (!stop) {
        volatile int x = 0;
        for (int i = 0; i < 1000; i++) x = x + i;
        rt::gosched();
      }
      busy.done();
    });
    // errno is read with fresh_errno: a plain read here could reuse the
    // errno address of the thread the round started on.
    int moved = 0;
    for (int i = 0; i < 20; i++) {
      int tid0 = gettid_();
      set_fresh_errno(0);
      long r = rt::blocking([] {
        nanosleep_ms(5);
        return static_cast<long>(read(-1, nullptr, 0));  // EBADF
      });
      int e = fresh_errno();
      EXPECT_EQ(r, -1);
      EXPECT_EQ(e, EBADF) << "errno lost across the syscall scope (round " << i << ")";
      {
        rt::SyscallScope s;
        nanosleep_ms(2);
        set_fresh_errno(ENOTTY);
      }
      EXPECT_EQ(fresh_errno(), ENOTTY) << "round " << i;
      if (gettid_() != tid0) moved++;
    }
    stop = true;
    busy.wait();
    // Informational: how often the goroutine came back on another thread.
    RecordProperty("moved_threads", moved);
  });
}

// Many goroutines block in the OS at once: they do not serialize on the Ps.
TEST_F(SchedSyscall, ManyConcurrentBlockingCalls) {
  in_rt([] {
    ProcsGuard guard;
    rt::gomaxprocs(2);
    constexpr int kN = 20;
    Join join(kN);
    int64_t t0 = now_ns();
    for (int i = 0; i < kN; i++) {
      rt::go([&] {
        rt::blocking([] { nanosleep_ms(200); });
        join.done();
      });
    }
    join.wait();
    double ms = ms_since(t0);
    // Serialized on 2 Ps this would take 2000 ms.
    EXPECT_LT(ms, 1500.0) << kN << " concurrent 200 ms blocking calls took " << ms << " ms";
  });
}

// A locked goroutine in a scope whose P is retaken (others busy) comes back
// on its own thread, and keeps it afterwards.
TEST_F(SchedSyscall, LockedGoroutineReturnsToItsThread) {
  in_rt([] {
    ProcsGuard guard;
    rt::gomaxprocs(1);
    std::atomic<bool> stop{false};
    Join busy(1);
    rt::go([&] {
      while (!stop) rt::gosched();
      busy.done();
    });
    std::atomic<int> moved{0};
    Join join(1);
    rt::go([&] {
      rt::lock_os_thread();
      int tid = gettid_();
      for (int i = 0; i < 10; i++) {
        rt::blocking([] { nanosleep_ms(10); });
        if (gettid_() != tid) moved++;
        rt::gosched();
        if (gettid_() != tid) moved++;
      }
      rt::unlock_os_thread();
      join.done();
    });
    join.wait();
    stop = true;
    busy.wait();
    EXPECT_EQ(moved.load(), 0);
  });
}

// Syscall scopes entered and left at high rate, from many goroutines, with
// short calls (the fast path: the P is usually still there).
TEST_F(SchedSyscall, ScopeChurn) {
  in_rt([] {
    ProcsGuard guard;
    rt::gomaxprocs(2);
    constexpr int kG = 16, kIters = SCHEDTEST_SANITIZER ? 500 : 3000;
    std::atomic<int64_t> total{0};
    Join join(kG);
    for (int g = 0; g < kG; g++) {
      rt::go([&, g] {
        for (int i = 0; i < kIters; i++) {
          int r = rt::blocking([&] { return static_cast<int>(getpid()) > 0 ? 1 : 0; });
          total += r;
          if (i % 100 == g) rt::blocking([] { nanosleep_ms(1); });
        }
        join.done();
      });
    }
    EXPECT_TRUE(join.wait_for_ns(30'000'000'000)) << join.left() << " goroutines stuck";
    EXPECT_EQ(total.load(), int64_t{kG} * kIters);
  });
}

// On a plain thread a scope does nothing (and does not crash).
TEST_F(SchedSyscall, ScopeOnPlainThreadIsANoop) {
  std::thread t([] {
    rt::SyscallScope s;
    errno = EAGAIN;
  });
  t.join();
  int r = rt::blocking([] { return 5; });
  EXPECT_EQ(r, 5);
}

// rt::blocking returns references and move-only values faithfully.
TEST_F(SchedSyscall, BlockingForwardsResults) {
  in_rt([] {
    int x = 3;
    int& ref = rt::blocking([&]() -> int& { return x; });
    EXPECT_EQ(&ref, &x);
    auto up = rt::blocking([] { return std::make_unique<int>(9); });
    EXPECT_EQ(*up, 9);
  });
}

// A library routine that uses rt::blocking called from inside another
// scope: nesting must be harmless (like NoPreemptScope and
// lock_os_thread, which nest). In a child: a failure is a fatal error.
TEST_F(SchedSyscall, NestedScopes) {
  EXPECT_EXIT(child_run(nullptr, nullptr,
                        [] {
                          int r = rt::blocking([] {
                            nanosleep_ms(1);
                            return rt::blocking([] { return 42; });
                          });
                          rt::gosched();
                          return r == 42 ? 0 : 1;
                        }),
              testing::ExitedWithCode(0), "");
}

// A goroutine in a scope keeps the deadlock detector quiet (it may wake
// others), and its release of the main goroutine is seen.
TEST_F(SchedSyscall, BlockedInScopeIsNotADeadlock) {
  EXPECT_EXIT(child_run("1", nullptr,
                        [] {
                          std::atomic<uint32_t> sem{0};
                          rt::go([&] {
                            rt::blocking([] { nanosleep_ms(200); });
                            rt::sched::semrelease(&sem);
                          });
                          rt::sched::semacquire(&sem);
                          return 0;
                        }),
              testing::ExitedWithCode(0), "");
}

}  // namespace
