// The sync primitives (<rt/sync.h>) against Go's semantics: Mutex mutual
// exclusion, try_lock, starvation mode bounding a waiter's wait, the fatal
// error on unlocking an unlocked mutex; RWMutex reader overlap, writer
// exclusion, writer preference, fatal errors; WaitGroup rounds, reuse and
// panics; Once under concurrency and when its function throws; Cond
// signal/broadcast (and the cat/dog/fish ordering exercise); Pool locality,
// factory, victim cache and destruction. Every goroutine test runs three
// times: under the default GOMAXPROCS, GOMAXPROCS=1 and GOMAXPROCS=2. Plain threads (not
// goroutines) use the same primitives in a few tests.
//
// The test code lives outside namespace rt on purpose: the preemption
// signal handler never preempts code in namespace rt, and the tight loops
// below rely on being preempted.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "rt/panic.h"
#include "rt/sched.h"
#include "rt/sync.h"
#include "tests/goroutine_fixture.h"

namespace {

using namespace gotest;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class SyncTest : public ProcsTest {};
GOTEST_PROCS_SUITE(SyncTest);

// ---------------------------------------------------------------------------
// Mutex

TEST_P(SyncTest, MutexCountsExactly) {
  run_go(procs(), [] {
    rt::Mutex mu;
    int64_t counter = 0;  // deliberately plain: the mutex must protect it
    constexpr int kG = 16, kN = 20000;
    rt::WaitGroup wg;
    for (int g = 0; g < kG; g++) {
      wg.go([&] {
        for (int i = 0; i < kN; i++) {
          std::lock_guard<rt::Mutex> l(mu);
          counter++;
          if (i % 1024 == 0) rt::gosched();  // yield while holding it sometimes
        }
      });
    }
    wg.wait();
    EXPECT_EQ(counter, int64_t{kG} * kN);
  });
}

TEST_P(SyncTest, MutexTryLock) {
  run_go(procs(), [] {
    rt::Mutex mu;
    EXPECT_TRUE(mu.try_lock());
    EXPECT_FALSE(mu.try_lock());
    bool other = true;
    rt::WaitGroup wg;
    wg.go([&] { other = mu.try_lock(); });
    wg.wait();
    EXPECT_FALSE(other);
    mu.unlock();
    {
      std::unique_lock<rt::Mutex> l(mu, std::try_to_lock);
      EXPECT_TRUE(l.owns_lock());
    }
    EXPECT_TRUE(mu.try_lock());
    mu.unlock();
  });
}

TEST_P(SyncTest, MutexUnlockedByAnotherGoroutine) {
  run_go(procs(), [] {
    rt::Mutex mu;
    mu.lock();
    std::atomic<bool> got{false};
    rt::WaitGroup wg;
    wg.go([&] {
      mu.lock();  // parks until the other goroutine unlocks
      got = true;
      mu.unlock();
    });
    wg.go([&] {
      rt::sleep(2ms);
      mu.unlock();  // a Go mutex is not owned by a goroutine
    });
    wg.wait();
    EXPECT_TRUE(got.load());
  });
}

TEST_P(SyncTest, MutexSharedWithPlainThreads) {
  run_go(procs(), [] {
    rt::Mutex mu;
    int64_t counter = 0;
    constexpr int kN = 20000;
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; t++) {
      threads.emplace_back([&] {
        for (int i = 0; i < kN; i++) {
          std::lock_guard<rt::Mutex> l(mu);
          counter++;
        }
      });
    }
    rt::WaitGroup wg;
    for (int g = 0; g < 4; g++) {
      wg.go([&] {
        for (int i = 0; i < kN; i++) {
          std::lock_guard<rt::Mutex> l(mu);
          counter++;
        }
      });
    }
    join_all(threads);
    wg.wait();
    EXPECT_EQ(counter, int64_t{6} * kN);
  });
}

// A goroutine that takes the mutex in a tight loop cannot keep another one
// waiting for long: after 1 ms the waiter switches the mutex to starvation
// mode, and the next unlock hands the mutex to it.
TEST_P(SyncTest, MutexStarvationBoundsWait) {
  run_go(procs(), [] {
    rt::Mutex mu;
    std::atomic<bool> stop{false};
    rt::WaitGroup wg;
    uint64_t before = rt::detail::mutex_starvation_entries();
    wg.go([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        mu.lock();
        burn(20000);  // hold it most of the time
        mu.unlock();
      }
    });
    rt::sleep(2ms);
    std::vector<int64_t> waits;
    for (int r = 0; r < 10; r++) {
      auto t0 = Clock::now();
      mu.lock();
      waits.push_back(ns_since(t0));
      mu.unlock();
      rt::sleep(500us);
    }
    stop = true;
    wg.wait();
    check_fair_waits(waits, "mutex waiter");
    // With one P the waiter may also get the mutex in normal mode, when the
    // holder happens to yield just after unlocking; so may it under TSan,
    // whose instrumentation widens the holder's gap between unlock and lock.
    if (rt::gomaxprocs() > 1 && !GOTEST_TSAN) {
      EXPECT_GT(rt::detail::mutex_starvation_entries(), before)
          << "the mutex never entered starvation mode";
    }
  });
}

class SyncDeathTest : public testing::Test {
 protected:
  static void SetUpTestSuite() { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

TEST_F(SyncDeathTest, UnlockOfUnlockedMutexIsFatal) {
  EXPECT_EXIT(
      {
        rt::Mutex mu;
        mu.unlock();
      },
      testing::ExitedWithCode(2), "fatal error: sync: unlock of unlocked mutex");
  EXPECT_EXIT(run_go(0,
                     [] {
                       rt::Mutex mu;
                       mu.lock();
                       mu.unlock();
                       mu.unlock();
                     }),
              testing::ExitedWithCode(2), "fatal error: sync: unlock of unlocked mutex");
}

TEST_F(SyncDeathTest, RWMutexMisuseIsFatal) {
  EXPECT_EXIT(
      {
        rt::RWMutex rw;
        rw.runlock();
      },
      testing::ExitedWithCode(2), "fatal error: sync: RUnlock of unlocked RWMutex");
  EXPECT_EXIT(
      {
        rt::RWMutex rw;
        rw.unlock();
      },
      testing::ExitedWithCode(2), "fatal error: sync: Unlock of unlocked RWMutex");
  // runlock while a writer holds it (no reader): also caught.
  EXPECT_EXIT(
      {
        rt::RWMutex rw;
        rw.lock();
        rw.runlock();
      },
      testing::ExitedWithCode(2), "fatal error: sync: RUnlock of unlocked RWMutex");
}

// WaitGroup::go: an exception escaping the function ends the process like
// a Go panic, and wait() does not return first (done() is not called).
TEST_F(SyncDeathTest, WaitGroupGoExceptionIsAPanic) {
  EXPECT_EXIT(run_go(0,
                     [] {
                       rt::WaitGroup wg;
                       wg.go([] { throw std::runtime_error("boom"); });
                       wg.wait();
                       std::fprintf(stderr, "wait returned\n");
                       std::_Exit(0);
                     }),
              testing::ExitedWithCode(2), "panic: boom");
}

// ---------------------------------------------------------------------------
// RWMutex

TEST_P(SyncTest, RWMutexReadersOverlap) {
  run_go(procs(), [] {
    rt::RWMutex rw;
    constexpr int kReaders = 4;
    std::atomic<int> inside{0};
    std::atomic<int> saw_all{0};
    rt::WaitGroup wg;
    for (int i = 0; i < kReaders; i++) {
      wg.go([&] {
        std::shared_lock<rt::RWMutex> l(rw);
        inside++;
        auto t0 = Clock::now();
        while (inside.load() < kReaders && ns_since(t0) < 5'000'000'000) rt::gosched();
        if (inside.load() == kReaders) saw_all++;
      });
    }
    wg.wait();
    EXPECT_EQ(saw_all.load(), kReaders);
  });
}

TEST_P(SyncTest, RWMutexWriterExcludes) {
  run_go(procs(), [] {
    rt::RWMutex rw;
    std::atomic<int> readers_in{0};
    std::atomic<bool> writer_in{false};
    std::atomic<int> violations{0};
    int64_t value = 0;
    constexpr int kIters = 3000;
    rt::WaitGroup wg;
    for (int w = 0; w < 3; w++) {
      wg.go([&] {
        for (int i = 0; i < kIters; i++) {
          std::lock_guard<rt::RWMutex> l(rw);
          if (writer_in.exchange(true) || readers_in.load() != 0) violations++;
          value++;
          if (i % 256 == 0) rt::gosched();
          writer_in = false;
        }
      });
    }
    for (int r = 0; r < 5; r++) {
      wg.go([&] {
        for (int i = 0; i < kIters; i++) {
          rw.rlock();
          readers_in++;
          if (writer_in.load()) violations++;
          if (i % 256 == 0) rt::gosched();
          readers_in--;
          rw.runlock();
        }
      });
    }
    wg.wait();
    EXPECT_EQ(violations.load(), 0);
    EXPECT_EQ(value, 3 * kIters);
  });
}

TEST_P(SyncTest, RWMutexTryLocks) {
  run_go(procs(), [] {
    rt::RWMutex rw;
    EXPECT_TRUE(rw.try_rlock());
    EXPECT_TRUE(rw.try_lock_shared());
    EXPECT_FALSE(rw.try_lock());
    rw.runlock();
    rw.unlock_shared();
    EXPECT_TRUE(rw.try_lock());
    EXPECT_FALSE(rw.try_rlock());
    EXPECT_FALSE(rw.try_lock());
    rw.unlock();
    EXPECT_TRUE(rw.try_lock());
    rw.unlock();
  });
}

// Readers that keep the read lock busy cannot starve a writer: once it
// waits, new readers queue behind it.
TEST_P(SyncTest, RWMutexWriterNotStarvedByReaders) {
  run_go(procs(), [] {
    rt::RWMutex rw;
    std::atomic<bool> stop{false};
    rt::WaitGroup wg;
    for (int r = 0; r < 4; r++) {
      wg.go([&] {
        while (!stop.load(std::memory_order_relaxed)) {
          rw.rlock();
          burn(5000);
          rw.runlock();
        }
      });
    }
    rt::sleep(2ms);
    std::vector<int64_t> waits;
    for (int i = 0; i < 10; i++) {
      auto t0 = Clock::now();
      rw.lock();
      waits.push_back(ns_since(t0));
      rw.unlock();
      rt::sleep(500us);
    }
    stop = true;
    wg.wait();
    check_fair_waits(waits, "writer");
  });
}

TEST_P(SyncTest, RWMutexWriterWaitsForReaderThenReadersResume) {
  run_go(procs(), [] {
    rt::RWMutex rw;
    rw.rlock();
    std::atomic<int> stage{0};
    rt::WaitGroup wg;
    wg.go([&] {
      rw.lock();  // waits for the reader above
      stage = 1;
      rt::sleep(2ms);
      stage = 2;
      rw.unlock();
    });
    // Wait until the writer has announced itself: then try_rlock fails.
    while (rw.try_rlock()) {
      rw.runlock();
      rt::sleep(100us);
    }
    rt::sleep(2ms);
    EXPECT_EQ(stage.load(), 0);  // the writer cannot be in while we read
    // A new reader now queues behind the pending writer.
    wg.go([&] {
      rw.rlock();
      EXPECT_EQ(stage.load(), 2);
      rw.runlock();
    });
    rt::sleep(1ms);
    rw.runlock();
    wg.wait();
    EXPECT_EQ(stage.load(), 2);
  });
}

// ---------------------------------------------------------------------------
// WaitGroup

TEST_P(SyncTest, WaitGroupWaitsForAllAndIsReusable) {
  run_go(procs(), [] {
    rt::WaitGroup wg;
    for (int round = 0; round < 20; round++) {
      std::atomic<int> finished{0};
      constexpr int kN = 50;
      wg.add(kN);
      for (int i = 0; i < kN; i++) {
        rt::go([&, i] {
          if (i % 7 == 0) rt::sleep(std::chrono::microseconds(100 * (i % 3)));
          finished++;
          wg.done();
        });
      }
      // Several waiters at once.
      rt::WaitGroup waiters;
      std::atomic<int> ok{0};
      for (int w = 0; w < 3; w++) {
        waiters.go([&] {
          wg.wait();
          if (finished.load() == kN) ok++;
        });
      }
      wg.wait();
      EXPECT_EQ(finished.load(), kN);
      waiters.wait();
      EXPECT_EQ(ok.load(), 3);
    }
    wg.wait();  // zero counter: returns at once
  });
}

TEST_P(SyncTest, WaitGroupNegativeCounterPanics) {
  run_go(procs(), [] {
    rt::WaitGroup wg;
    try {
      wg.done();
      ADD_FAILURE() << "no panic";
    } catch (const rt::Panic& p) {
      EXPECT_STREQ(p.what(), "sync: negative WaitGroup counter");
    }
    rt::WaitGroup wg2;
    wg2.add(2);
    EXPECT_THROW(wg2.add(-3), rt::Panic);
  });
}

// A new round that starts (add) before a woken waiter has returned from
// wait() is misuse; the waiter panics. Deterministic with one P: the
// waiter, made runnable by done(), cannot run before add(1).
TEST(SyncPlain, WaitGroupReuseBeforeWaitReturnedPanics) {
  run_go(1, [] {
    rt::WaitGroup wg;
    wg.add(1);
    std::string msg;
    std::atomic<bool> waiting{false};
    rt::WaitGroup waiter;
    waiter.go([&] {
      try {
        waiting = true;
        wg.wait();
      } catch (const rt::Panic& p) {
        msg = p.what();
      }
    });
    // With one P, once we run again after it set the flag, it is parked in
    // wait() (it does not block anywhere in between).
    while (!waiting.load()) rt::sleep(100us);
    {
      rt::NoPreemptScope stay;
      wg.done();  // wakes the waiter (runnable, not running: one P)
      wg.add(1);  // new round before its wait() returned
    }
    waiter.wait();
    EXPECT_EQ(msg, "sync: WaitGroup is reused before previous Wait has returned");
    wg.done();
  });
}

TEST_P(SyncTest, WaitGroupWaitOnPlainThread) {
  run_go(procs(), [] {
    rt::WaitGroup wg;
    std::atomic<int> n{0};
    for (int i = 0; i < 10; i++) {
      wg.go([&] {
        rt::sleep(1ms);
        n++;
      });
    }
    std::vector<std::thread> ts;
    std::atomic<bool> saw{false};
    ts.emplace_back([&] {
      wg.wait();
      saw = n.load() == 10;
    });
    join_all(ts);
    EXPECT_TRUE(saw.load());
  });
}

// ---------------------------------------------------------------------------
// Once

TEST_P(SyncTest, OnceRunsExactlyOnce) {
  run_go(procs(), [] {
    rt::Once once;
    std::atomic<int> runs{0};
    int value = 0;  // written by f, read by every caller after call()
    std::atomic<int> bad{0};
    rt::WaitGroup wg;
    for (int i = 0; i < 100; i++) {
      wg.go([&] {
        once.call([&] {
          runs++;
          rt::sleep(5ms);  // the other callers must wait for this
          value = 42;
        });
        if (value != 42) bad++;
      });
    }
    wg.wait();
    EXPECT_EQ(runs.load(), 1);
    EXPECT_EQ(bad.load(), 0);
  });
}

TEST_P(SyncTest, OnceThrowingCountsAsDone) {
  run_go(procs(), [] {
    rt::Once once;
    int runs = 0;
    EXPECT_THROW(once.call([&] {
      runs++;
      throw std::runtime_error("boom");
    }),
                 std::runtime_error);
    once.call([&] { runs++; });
    EXPECT_EQ(runs, 1);
  });
}

TEST(SyncPlain, OnceOnPlainThreads) {
  rt::Once once;
  std::atomic<int> runs{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 8; i++) ts.emplace_back([&] { once.call([&] { runs++; }); });
  for (auto& t : ts) t.join();
  EXPECT_EQ(runs.load(), 1);
}

// ---------------------------------------------------------------------------
// Cond

// Starts n goroutines that wait on `cond` until `tokens` > 0, counting every
// return from wait() in `wakeups`, and returns once all of them are waiting.
struct CondHarness {
  rt::Mutex mu;
  rt::Cond cond{mu};
  int tokens = 0;   // mu
  int waiting = 0;  // mu: goroutines inside the wait loop
  std::atomic<int> wakeups{0};
  std::atomic<int> finished{0};
  rt::WaitGroup wg;

  void start(int n) {
    for (int i = 0; i < n; i++) {
      wg.go([this] {
        mu.lock();
        waiting++;
        while (tokens == 0) {
          cond.wait();
          wakeups++;
        }
        tokens--;
        waiting--;
        mu.unlock();
        finished++;
      });
    }
    for (;;) {
      mu.lock();
      int w = waiting;
      mu.unlock();
      if (w == n) break;  // each took its ticket before releasing mu
      rt::sleep(100us);
    }
  }
};

TEST_P(SyncTest, CondSignalWakesOne) {
  run_go(procs(), [] {
    CondHarness h;
    constexpr int kN = 5;
    h.start(kN);
    h.mu.lock();
    h.tokens = 1;
    h.mu.unlock();
    h.cond.signal();
    auto t0 = Clock::now();
    while (h.finished.load() < 1 && ns_since(t0) < 5'000'000'000) rt::sleep(100us);
    rt::sleep(20ms);  // give any wrongly woken waiter time to show up
    EXPECT_EQ(h.finished.load(), 1);
    EXPECT_EQ(h.wakeups.load(), 1);
    // broadcast wakes all the others.
    h.mu.lock();
    h.tokens = kN - 1;
    h.mu.unlock();
    h.cond.broadcast();
    h.wg.wait();
    EXPECT_EQ(h.finished.load(), kN);
    EXPECT_EQ(h.wakeups.load(), kN);
  });
}

TEST_P(SyncTest, CondSignalWithoutWaitersIsLost) {
  run_go(procs(), [] {
    CondHarness h;
    h.cond.signal();  // nobody waits: no effect on later waiters
    h.cond.broadcast();
    h.start(2);
    rt::sleep(5ms);
    EXPECT_EQ(h.wakeups.load(), 0);
    h.mu.lock();
    h.tokens = 2;
    h.mu.unlock();
    h.cond.signal();
    h.cond.signal();
    h.wg.wait();
    EXPECT_EQ(h.wakeups.load(), 2);
  });
}

TEST_P(SyncTest, CondWithPlainThreadWaiterAndRLocker) {
  run_go(procs(), [] {
    // A plain thread waits on a Cond over an rt::Mutex.
    {
      rt::Mutex mu;
      rt::Cond cond(mu);
      bool ready = false;
      std::vector<std::thread> ts;
      ts.emplace_back([&] {
        mu.lock();
        while (!ready) cond.wait();
        mu.unlock();
      });
      rt::sleep(2ms);
      mu.lock();
      ready = true;
      cond.broadcast();
      mu.unlock();
      join_all(ts);
    }
    // Goroutines wait on a Cond over an RWMutex's read side.
    {
      rt::RWMutex rw;
      rt::Cond cond(rw.rlocker());
      bool flag = false;
      std::atomic<int> done{0};
      rt::WaitGroup wg;
      for (int i = 0; i < 4; i++) {
        wg.go([&] {
          rw.rlock();
          while (!flag) cond.wait();
          rw.runlock();
          done++;
        });
      }
      rt::sleep(2ms);
      rw.lock();
      flag = true;
      rw.unlock();
      cond.broadcast();
      wg.wait();
      EXPECT_EQ(done.load(), 4);
    }
  });
}

// The seed exercise: three goroutines print cat, dog, fish in that order,
// 100 times, coordinated by one Mutex and three Conds.
TEST_P(SyncTest, CatDogFishInOrder) {
  run_go(procs(), [] {
    rt::Mutex mu;
    rt::Cond conds[3] = {rt::Cond(mu), rt::Cond(mu), rt::Cond(mu)};
    const char* names[3] = {"cat", "dog", "fish"};
    int current = 0;
    std::vector<std::string> out;
    rt::WaitGroup wg;
    for (int who = 0; who < 3; who++) {
      wg.go([&, who] {
        for (int i = 0; i < 100; i++) {
          mu.lock();
          while (current != who) conds[who].wait();
          out.emplace_back(names[who]);
          current = (who + 1) % 3;
          conds[current].signal();
          mu.unlock();
        }
      });
    }
    wg.wait();
    ASSERT_EQ(out.size(), 300u);
    for (size_t i = 0; i < out.size(); i++) ASSERT_EQ(out[i], names[i % 3]) << "at " << i;
  });
}

// ---------------------------------------------------------------------------
// Pool

struct Counted {
  static std::atomic<int> made, destroyed;
  std::atomic<int> owners{0};
  int payload = 0;
  Counted() { made++; }
  ~Counted() { destroyed++; }
};
std::atomic<int> Counted::made{0};
std::atomic<int> Counted::destroyed{0};

void reset_counts() {
  Counted::made = 0;
  Counted::destroyed = 0;
}

TEST_P(SyncTest, PoolGetAfterPutOnSameP) {
  run_go(procs(), [] {
    rt::Pool<int> pool;
    rt::NoPreemptScope stay;  // stay on this P between put and get
    auto a = std::make_unique<int>(1);
    auto b = std::make_unique<int>(2);
    int* pa = a.get();
    int* pb = b.get();
    pool.put(std::move(a));  // private slot
    pool.put(std::move(b));  // shared list
    auto x = pool.get();
    auto y = pool.get();
    EXPECT_EQ(x.get(), pa);
    EXPECT_EQ(y.get(), pb);
    EXPECT_EQ(pool.get(), nullptr);  // no factory
    pool.put(nullptr);               // ignored, like Put(nil)
    EXPECT_EQ(pool.get(), nullptr);
  });
}

TEST_P(SyncTest, PoolUsesFactoryWhenEmpty) {
  run_go(procs(), [] {
    std::atomic<int> made{0};
    rt::Pool<int> pool([&] {
      made++;
      return std::make_unique<int>(7);
    });
    auto x = pool.get();
    ASSERT_NE(x, nullptr);
    EXPECT_EQ(*x, 7);
    EXPECT_EQ(made.load(), 1);
    *x = 8;
    {
      rt::NoPreemptScope stay;
      pool.put(std::move(x));
      x = pool.get();
    }
    EXPECT_EQ(*x, 8);
    EXPECT_EQ(made.load(), 1);
  });
}

// pool_cleanup moves objects to the victim cache (still reachable by get),
// and a second cleanup destroys them. On a plain thread (P 0's slots) the
// test is deterministic.
TEST(SyncPlain, PoolVictimCacheAndCleanup) {
  reset_counts();
  {
    rt::Pool<Counted> pool;
    for (int i = 0; i < 3; i++) pool.put(std::make_unique<Counted>());
    EXPECT_EQ(Counted::made.load(), 3);
    rt::detail::pool_cleanup();
    EXPECT_EQ(Counted::destroyed.load(), 0);  // now victims
    auto x = pool.get();                      // from the victim cache
    ASSERT_NE(x, nullptr);
    rt::detail::pool_cleanup();
    EXPECT_EQ(Counted::destroyed.load(), 2);  // the other two dropped
    EXPECT_EQ(pool.get(), nullptr);
    rt::detail::pool_cleanup();
    EXPECT_EQ(Counted::destroyed.load(), 2);
    x.reset();
    EXPECT_EQ(Counted::destroyed.load(), 3);
    // The Pool's destructor destroys what it still holds.
    for (int i = 0; i < 4; i++) pool.put(std::make_unique<Counted>());
    rt::detail::pool_cleanup();                // 4 victims
    pool.put(std::make_unique<Counted>());     // 1 primary
  }
  EXPECT_EQ(Counted::made.load(), 8);
  EXPECT_EQ(Counted::destroyed.load(), 8);
}

TEST_P(SyncTest, PoolVictimCacheOnGoroutine) {
  run_go(procs(), [] {
    reset_counts();
    {
      rt::Pool<Counted> pool;
      rt::NoPreemptScope stay;
      auto c = std::make_unique<Counted>();
      Counted* pc = c.get();
      pool.put(std::move(c));
      rt::detail::pool_cleanup();
      auto x = pool.get();
      EXPECT_EQ(x.get(), pc);
      pool.put(std::move(x));
      rt::detail::pool_cleanup();
      rt::detail::pool_cleanup();
      EXPECT_EQ(Counted::destroyed.load(), 1);
      EXPECT_EQ(pool.get(), nullptr);
    }
    EXPECT_EQ(Counted::made.load(), 1);
    EXPECT_EQ(Counted::destroyed.load(), 1);
  });
}

// Many goroutines and plain threads get and put while cleanups run: no
// object is handed to two users at once, none is lost or destroyed twice.
TEST_P(SyncTest, PoolStressWithCleanup) {
  run_go(procs(), [] {
    reset_counts();
    std::atomic<int> double_owned{0};
    {
      rt::Pool<Counted> pool([] { return std::make_unique<Counted>(); });
      auto use = [&] {
        auto x = pool.get();
        if (x->owners.fetch_add(1) != 0) double_owned++;
        x->payload++;
        x->owners.fetch_sub(1);
        pool.put(std::move(x));
      };
      std::atomic<bool> stop{false};
      rt::WaitGroup cleaner;
      cleaner.go([&] {
        while (!stop.load()) {
          rt::detail::pool_cleanup();
          rt::sleep(200us);
        }
      });
      std::vector<std::thread> ts;
      ts.emplace_back([&] {
        for (int i = 0; i < 20000; i++) use();
      });
      rt::WaitGroup wg;
      for (int g = 0; g < 8; g++) {
        wg.go([&] {
          for (int i = 0; i < 20000; i++) {
            use();
            if (i % 512 == 0) rt::gosched();
          }
        });
      }
      wg.wait();
      join_all(ts);
      stop = true;
      cleaner.wait();
    }
    EXPECT_EQ(double_owned.load(), 0);
    EXPECT_GT(Counted::made.load(), 0);
    EXPECT_EQ(Counted::made.load(), Counted::destroyed.load());
  });
}

}  // namespace
