// Semaphores by address (sched/sema.h), the sleeping half of every sync
// primitive: ping-pong between goroutines, FIFO wake order (and LIFO on
// request), handoff (the count goes to the first waiter, a barging
// acquirer cannot take it), semacquire_until time-outs (never early, count
// untouched, waiter dequeued), waiters on plain threads, distinct addresses
// sharing a bucket, and conservation of the count under a mixed storm of
// acquires, timed acquires and releases from goroutines and threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "sched_test_util.h"

using namespace schedtest;
using rt::sched::nanotime;
using rt::sched::semacquire;
using rt::sched::semacquire_until;
using rt::sched::semrelease;
using rt::sched::sema_waiters;

namespace {

class SchedSema : public testing::Test {};

struct ProcsGuard {
  int old = rt::gomaxprocs();
  ~ProcsGuard() { rt::gomaxprocs(old); }
};

// A try-acquire: a deadline already passed.
bool try_acquire(std::atomic<uint32_t>* s) { return semacquire_until(s, nanotime() - 1); }

TEST_F(SchedSema, CountingBasics) {
  in_rt([] {
    std::atomic<uint32_t> s{3};
    semacquire(&s);
    semacquire(&s);
    semacquire(&s);
    EXPECT_EQ(s.load(), 0u);
    EXPECT_FALSE(try_acquire(&s));
    semrelease(&s);
    EXPECT_EQ(s.load(), 1u);
    EXPECT_TRUE(try_acquire(&s));
    EXPECT_EQ(s.load(), 0u);
    EXPECT_EQ(sema_waiters(&s), 0u);
  });
}

void ping_pong(int procs, int rounds) {
  in_rt([=] {
    ProcsGuard guard;
    rt::gomaxprocs(procs);
    std::atomic<uint32_t> ping{0}, pong{0};
    int64_t a = 0, b = 0;  // each written by one side only, read after join
    Join join(2);
    rt::go([&] {
      for (int i = 0; i < rounds; i++) {
        semrelease(&ping);
        semacquire(&pong);
        a++;
      }
      join.done();
    });
    rt::go([&] {
      for (int i = 0; i < rounds; i++) {
        semacquire(&ping);
        b++;
        semrelease(&pong);
      }
      join.done();
    });
    EXPECT_TRUE(join.wait_for_ns(30'000'000'000)) << "ping-pong stuck";
    EXPECT_EQ(a, rounds);
    EXPECT_EQ(b, rounds);
    EXPECT_EQ(ping.load(), 0u);
    EXPECT_EQ(pong.load(), 0u);
  });
}

TEST_F(SchedSema, PingPongOneProc) { ping_pong(1, SCHEDTEST_SANITIZER ? 20'000 : 100'000); }
TEST_F(SchedSema, PingPongTwoProcs) { ping_pong(2, SCHEDTEST_SANITIZER ? 20'000 : 100'000); }

// A ring of goroutines passing one token.
TEST_F(SchedSema, TokenRing) {
  in_rt([] {
    ProcsGuard guard;
    rt::gomaxprocs(2);
    constexpr int kN = 50, kLaps = 200;
    std::vector<std::atomic<uint32_t>> sems(kN);
    std::atomic<int64_t> passes{0};
    Join join(kN);
    for (int i = 0; i < kN; i++) {
      rt::go([&, i] {
        for (int lap = 0; lap < kLaps; lap++) {
          semacquire(&sems[i]);
          passes++;
          semrelease(&sems[(i + 1) % kN]);
        }
        join.done();
      });
    }
    semrelease(&sems[0]);
    EXPECT_TRUE(join.wait_for_ns(30'000'000'000));
    EXPECT_EQ(passes.load(), int64_t{kN} * kLaps);
  });
}

// Waiters queue in arrival order; each release wakes the oldest.
TEST_F(SchedSema, WakeOrderIsFifo) {
  in_rt([] {
    constexpr int kN = 50;
    std::atomic<uint32_t> s{0};
    std::vector<int> order;
    std::atomic<int> woke{0};
    rt::detail::Lock mu;  // order is appended from several Ms
    Join join(kN);
    for (int i = 0; i < kN; i++) {
      rt::go([&, i] {
        semacquire(&s);
        {
          rt::detail::LockGuard lk(mu);
          order.push_back(i);
        }
        woke++;
        join.done();
      });
      ASSERT_TRUE(eventually([&] { return sema_waiters(&s) == static_cast<uint32_t>(i + 1); }));
    }
    for (int i = 0; i < kN; i++) {
      semrelease(&s);
      ASSERT_TRUE(eventually([&] { return woke.load() == i + 1; }));
    }
    join.wait();
    std::vector<int> want(kN);
    for (int i = 0; i < kN; i++) want[i] = i;
    EXPECT_EQ(order, want);
  });
}

// opts.lifo puts a waiter at the front of the queue.
TEST_F(SchedSema, LifoWaiterGoesFirst) {
  in_rt([] {
    std::atomic<uint32_t> s{0};
    std::atomic<int> first{-1};
    Join join(3);
    auto waiter = [&](int id, bool lifo) {
      rt::go([&, id, lifo] {
        rt::sched::SemaWaitOpts o;
        o.lifo = lifo;
        semacquire(&s, o);
        int expect = -1;
        first.compare_exchange_strong(expect, id);
        join.done();
      });
    };
    waiter(0, false);
    ASSERT_TRUE(eventually([&] { return sema_waiters(&s) == 1; }));
    waiter(1, false);
    ASSERT_TRUE(eventually([&] { return sema_waiters(&s) == 2; }));
    waiter(2, true);
    ASSERT_TRUE(eventually([&] { return sema_waiters(&s) == 3; }));
    semrelease(&s);
    ASSERT_TRUE(eventually([&] { return first.load() != -1; }));
    EXPECT_EQ(first.load(), 2);
    semrelease(&s);
    semrelease(&s);
    join.wait();
  });
}

// Handoff: the count goes to the first waiter, which runs at once; a
// barging try-acquire right after the release fails. Without handoff the
// barger wins and the waiter queues again (at the front).
TEST_F(SchedSema, HandoffGivesTheCountToTheWaiter) {
  in_rt([] {
    ProcsGuard guard;
    rt::gomaxprocs(1);
    std::atomic<uint32_t> s{0};
    std::atomic<bool> got{false};
    Join join(1);
    rt::go([&] {
      semacquire(&s);
      got = true;
      join.done();
    });
    ASSERT_TRUE(eventually([&] { return sema_waiters(&s) == 1; }));
    semrelease(&s, /*handoff=*/true);
    // With a directed yield the waiter ran before we got back here.
    EXPECT_TRUE(got.load()) << "handoff did not run the waiter first";
    EXPECT_FALSE(try_acquire(&s)) << "the handed-off count was taken by a barger";
    join.wait();
    EXPECT_EQ(s.load(), 0u);
  });
}

TEST_F(SchedSema, WithoutHandoffABargerMayWin) {
  in_rt([] {
    ProcsGuard guard;
    rt::gomaxprocs(1);
    std::atomic<uint32_t> s{0};
    std::atomic<bool> got{false};
    Join join(1);
    rt::go([&] {
      semacquire(&s);
      got = true;
      join.done();
    });
    ASSERT_TRUE(eventually([&] { return sema_waiters(&s) == 1; }));
    semrelease(&s);
    // At GOMAXPROCS=1 the readied waiter has not run yet; the count is free.
    EXPECT_FALSE(got.load());
    EXPECT_TRUE(try_acquire(&s));
    // The waiter wakes, finds nothing and queues again.
    EXPECT_TRUE(eventually([&] { return sema_waiters(&s) == 1; }));
    EXPECT_FALSE(got.load());
    semrelease(&s);
    join.wait();
    EXPECT_TRUE(got.load());
  });
}

TEST_F(SchedSema, AcquireUntilTimesOut) {
  in_rt([] {
    std::atomic<uint32_t> s{0};
    for (int64_t ms : {1, 5, 20, 50}) {
      int64_t t0 = nanotime();
      bool ok = semacquire_until(&s, t0 + ms * 1'000'000);
      int64_t took = nanotime() - t0;
      EXPECT_FALSE(ok);
      EXPECT_GE(took, ms * 1'000'000) << "timed out early";
      EXPECT_LT(took, ms * 1'000'000 + 1'000'000'000) << "timed out a second late";
      EXPECT_EQ(sema_waiters(&s), 0u) << "a timed-out waiter stayed queued";
      EXPECT_EQ(s.load(), 0u);
    }
    // A release after the time-out is not lost.
    semrelease(&s);
    EXPECT_EQ(s.load(), 1u);
    EXPECT_TRUE(try_acquire(&s));
  });
}

TEST_F(SchedSema, AcquireUntilSucceedsWhenReleasedInTime) {
  in_rt([] {
    std::atomic<uint32_t> s{0};
    rt::go([&] {
      rt::sleep(10ms);
      semrelease(&s);
    });
    int64_t t0 = nanotime();
    EXPECT_TRUE(semacquire_until(&s, t0 + 2'000'000'000));
    EXPECT_LT(nanotime() - t0, 1'500'000'000);
    EXPECT_EQ(s.load(), 0u);
    // Deadline already passed but the count is there: success.
    semrelease(&s);
    EXPECT_TRUE(semacquire_until(&s, nanotime() - 1'000'000));
    // Deadline 0 means "already passed", not "no deadline".
    EXPECT_FALSE(semacquire_until(&s, 0));
  });
}

// Timed waiters in the middle of a FIFO queue leave it cleanly; the others
// keep their order.
TEST_F(SchedSema, TimedWaiterLeavesTheMiddleOfTheQueue) {
  in_rt([] {
    std::atomic<uint32_t> s{0};
    std::vector<int> order;
    rt::detail::Lock mu;
    std::atomic<int> timed_out{0};
    // Long enough for the main goroutine to see each timed waiter parked
    // (under TSan a goroutine's first run alone can take milliseconds).
    constexpr int64_t kTimeout = SCHEDTEST_SANITIZER ? 300'000'000 : 30'000'000;
    Join join(5);
    for (int i = 0; i < 5; i++) {
      rt::go([&, i] {
        if (i % 2 == 1) {
          if (!semacquire_until(&s, nanotime() + kTimeout)) timed_out++;
        } else {
          semacquire(&s);
          rt::detail::LockGuard lk(mu);
          order.push_back(i);
        }
        join.done();
      });
      ASSERT_TRUE(eventually([&] { return sema_waiters(&s) == static_cast<uint32_t>(i + 1); }));
    }
    ASSERT_TRUE(eventually([&] { return timed_out.load() == 2; }));
    EXPECT_EQ(sema_waiters(&s), 3u);
    for (int i = 0; i < 3; i++) {
      semrelease(&s);  // one at a time: readied goroutines run LIFO (runnext)
      ASSERT_TRUE(eventually([&] {
        rt::detail::LockGuard lk(mu);
        return order.size() == static_cast<size_t>(i + 1);
      }));
    }
    join.wait();
    EXPECT_EQ(order, (std::vector<int>{0, 2, 4}));
  });
}

// Plain threads as waiters, goroutines as releasers, and the reverse.
TEST_F(SchedSema, ThreadWaitersAndGoroutineReleasers) {
  constexpr int kThreads = 4, kEach = 500;
  std::atomic<uint32_t> s{0};
  std::atomic<int> acquired{0};
  std::vector<std::thread> ths;
  for (int t = 0; t < kThreads; t++) {
    ths.emplace_back([&] {
      for (int i = 0; i < kEach; i++) {
        semacquire(&s);
        acquired++;
      }
    });
  }
  Join join(2);
  for (int g = 0; g < 2; g++) {
    rt::go([&] {
      for (int i = 0; i < kThreads * kEach / 2; i++) {
        semrelease(&s);
        if (i % 16 == 0) rt::gosched();
      }
      join.done();
    });
  }
  for (auto& t : ths) t.join();
  join.wait();
  EXPECT_EQ(acquired.load(), kThreads * kEach);
  EXPECT_EQ(s.load(), 0u);
}

TEST_F(SchedSema, GoroutineWaitersAndThreadReleasers) {
  constexpr int kG = 20, kEach = 200;
  std::atomic<uint32_t> s{0};
  std::atomic<int> acquired{0};
  Join join(kG);
  for (int g = 0; g < kG; g++) {
    rt::go([&] {
      for (int i = 0; i < kEach; i++) {
        semacquire(&s);
        acquired++;
      }
      join.done();
    });
  }
  std::vector<std::thread> ths;
  for (int t = 0; t < 2; t++) {
    ths.emplace_back([&] {
      for (int i = 0; i < kG * kEach / 2; i++) semrelease(&s);
    });
  }
  for (auto& t : ths) t.join();
  EXPECT_TRUE(join.wait_for_ns(30'000'000'000)) << join.left() << " goroutines stuck";
  EXPECT_EQ(acquired.load(), kG * kEach);
  EXPECT_EQ(s.load(), 0u);
}

// A plain thread's timed wait: times out, and succeeds when released in
// time. In a child with an alarm: the failure mode is a hang.
TEST(SchedSemaChild, ThreadTimedWait) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        child_deadline(10);
        std::atomic<uint32_t> s{0};
        int64_t t0 = nanotime();
        if (semacquire_until(&s, t0 + 20'000'000)) _exit(1);
        if (nanotime() - t0 < 20'000'000) _exit(2);
        if (sema_waiters(&s) != 0) _exit(3);
        std::thread t([&] {
          std::this_thread::sleep_for(5ms);
          semrelease(&s);
        });
        bool ok = semacquire_until(&s, nanotime() + 5'000'000'000);
        t.join();
        _exit(ok ? 0 : 4);
      },
      testing::ExitedWithCode(0), "");
}

// Addresses that share a bucket (the hash is (addr >> 3) % 251): releases
// wake waiters of the right address only.
TEST_F(SchedSema, AddressesSharingABucket) {
  in_rt([] {
    constexpr int kAddrs = 4, kPer = 3;
    // Same bucket: addresses 251 * 8 bytes apart.
    auto mem = std::make_unique<std::atomic<uint32_t>[]>(251 * 2 * kAddrs + 1);
    std::atomic<uint32_t>* addrs[kAddrs];
    for (int a = 0; a < kAddrs; a++) {
      addrs[a] = &mem[251 * 2 * a];
      addrs[a]->store(0);
    }
    std::vector<std::atomic<int>> woke(kAddrs);
    Join join(kAddrs * kPer);
    for (int a = 0; a < kAddrs; a++) {
      for (int k = 0; k < kPer; k++) {
        rt::go([&, a] {
          semacquire(addrs[a]);
          woke[a]++;
          join.done();
        });
      }
    }
    ASSERT_TRUE(eventually([&] {
      for (int a = 0; a < kAddrs; a++)
        if (sema_waiters(addrs[a]) != kPer) return false;
      return true;
    }));
    // Release address 2 fully, then the others one by one.
    for (int k = 0; k < kPer; k++) semrelease(addrs[2]);
    ASSERT_TRUE(eventually([&] { return woke[2].load() == kPer; }));
    rt::sleep(5ms);
    for (int a = 0; a < kAddrs; a++) {
      if (a != 2) {
        EXPECT_EQ(woke[a].load(), 0) << "address " << a << " woken by another's release";
      }
    }
    for (int a : {0, 1, 3})
      for (int k = 0; k < kPer; k++) semrelease(addrs[a]);
    join.wait();
    for (int a = 0; a < kAddrs; a++) EXPECT_EQ(woke[a].load(), kPer);
  });
}

// A mutex made of a sema: goroutines and threads hammer a plain counter.
TEST_F(SchedSema, SemaAsMutex) {
  ProcsGuard guard;
  rt::gomaxprocs(2);
  std::atomic<uint32_t> mu{1};
  int64_t counter = 0;
  constexpr int kG = 8, kT = 2, kIters = SCHEDTEST_SANITIZER ? 2000 : 10000;
  Join join(kG);
  for (int g = 0; g < kG; g++) {
    rt::go([&] {
      for (int i = 0; i < kIters; i++) {
        semacquire(&mu);
        counter++;
        semrelease(&mu, i % 7 == 0);  // sometimes with handoff
      }
      join.done();
    });
  }
  std::vector<std::thread> ths;
  for (int t = 0; t < kT; t++) {
    ths.emplace_back([&] {
      for (int i = 0; i < kIters; i++) {
        semacquire(&mu);
        counter++;
        semrelease(&mu);
      }
    });
  }
  for (auto& t : ths) t.join();
  EXPECT_TRUE(join.wait_for_ns(60'000'000'000)) << join.left() << " goroutines stuck";
  EXPECT_EQ(counter, int64_t{kG + kT} * kIters);
  EXPECT_EQ(mu.load(), 1u);
}

// Conservation under a storm: every release is either consumed by exactly
// one successful acquire or still in the count at the end; time-outs take
// nothing.
TEST_F(SchedSema, CountIsConservedUnderTimedAcquireStorm) {
  ProcsGuard guard;
  rt::gomaxprocs(2);
  std::atomic<uint32_t> s{0};
  std::atomic<int64_t> released{0}, acquired{0}, timeouts{0};
  std::atomic<bool> stop{false};
  constexpr int kAcq = 12, kRel = 3;
  Join join(kAcq + kRel);
  for (int i = 0; i < kAcq; i++) {
    rt::go([&, i] {
      uint64_t k = 0;
      while (!stop) {
        bool ok;
        if (k % 3 == 0) {
          ok = semacquire_until(&s, nanotime() + 20'000 * static_cast<int64_t>(i % 5 + 1));
        } else if (k % 3 == 1) {
          ok = try_acquire(&s);
        } else {
          ok = semacquire_until(&s, nanotime() + 2'000'000);
        }
        if (ok) acquired++;
        else timeouts++;
        k++;
      }
      join.done();
    });
  }
  for (int i = 0; i < kRel; i++) {
    rt::go([&, i] {
      uint64_t k = 0;
      while (!stop) {
        semrelease(&s, (k + i) % 5 == 0);
        released++;
        if (++k % 8 == 0) rt::sleep(10us);
      }
      join.done();
    });
  }
  // And a thread that does untimed acquires, releasing what it takes.
  std::thread th([&] {
    while (!stop) {
      if (try_acquire(&s)) acquired++;
      else std::this_thread::sleep_for(10us);
    }
  });
  std::this_thread::sleep_for(SCHEDTEST_SANITIZER ? 300ms : 600ms);
  stop = true;
  th.join();
  EXPECT_TRUE(join.wait_for_ns(30'000'000'000)) << join.left() << " goroutines stuck";
  EXPECT_EQ(sema_waiters(&s), 0u);
  EXPECT_EQ(acquired.load() + static_cast<int64_t>(s.load()), released.load())
      << "acquired " << acquired.load() << " left " << s.load() << " released " << released.load()
      << " timeouts " << timeouts.load();
  EXPECT_GT(timeouts.load(), 0);
  EXPECT_GT(acquired.load(), 0);
}

// Many waiters woken by a burst of releases from several goroutines.
TEST_F(SchedSema, ReleaseBurstWakesEveryone) {
  in_rt([] {
    ProcsGuard guard;
    rt::gomaxprocs(2);
    constexpr int kN = 5000;
    std::atomic<uint32_t> s{0};
    Join join(kN);
    for (int i = 0; i < kN; i++) {
      rt::go([&] {
        semacquire(&s);
        join.done();
      });
    }
    Join rel(4);
    for (int r = 0; r < 4; r++) {
      rt::go([&] {
        for (int i = 0; i < kN / 4; i++) semrelease(&s);
        rel.done();
      });
    }
    rel.wait();
    EXPECT_TRUE(join.wait_for_ns(30'000'000'000)) << join.left() << " waiters never woke";
    EXPECT_EQ(s.load(), 0u);
    EXPECT_EQ(sema_waiters(&s), 0u);
  });
}

}  // namespace
