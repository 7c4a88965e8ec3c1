// rt::Semaphore (<rt/semaphore.h>) against x/sync/semaphore's semantics:
// weight accounting under stress (never more than the capacity held, with
// acquire, acquire(ctx) and try_acquire mixed), strict FIFO service (a big
// waiter is not overtaken by small ones, a writer is not starved by a
// stream of readers, and a cancelled front waiter lets the ones behind it
// through), try_acquire, context cancellation while waiting and racing
// with grants (no unit leaked: the full capacity can be taken afterwards),
// requests larger than the capacity, and the panics (over-release, negative
// weight). Every goroutine test runs under the default GOMAXPROCS, GOMAXPROCS=2 and
// GOMAXPROCS=1; one test shares a semaphore with plain threads.
//
// The test code lives outside namespace rt on purpose: the preemption
// signal handler never preempts code in namespace rt.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "rt/context.h"
#include "rt/panic.h"
#include "rt/sched.h"
#include "rt/semaphore.h"
#include "rt/sync.h"
#include "tests/goroutine_fixture.h"

namespace {

using namespace gotest;
using namespace std::chrono_literals;
using rt::ContextError;

class SemaphoreTest : public ProcsTest {};
GOTEST_PROCS_SUITE(SemaphoreTest);

// Polls cond (sleeping between polls) for up to 10 s; false on time-out.
template <typename F>
bool eventually(F cond) {
  auto t0 = Clock::now();
  while (!cond()) {
    if (Clock::now() - t0 > 10s) return false;
    rt::sleep(100us);
  }
  return true;
}

// try_acquire(0) always fits, so it fails exactly while somebody waits.
bool has_waiters(rt::Semaphore& sem) { return !sem.try_acquire(0); }

void note_max(std::atomic<int64_t>& max, int64_t v) {
  int64_t m = max.load();
  while (v > m && !max.compare_exchange_weak(m, v)) {
  }
}

// A small deterministic generator per goroutine.
struct Rng {
  uint32_t s;
  uint32_t next() {
    s = s * 1664525u + 1013904223u;
    return s >> 8;
  }
};

TEST_P(SemaphoreTest, NeverMoreThanCapacityHeld) {
  run_go(procs(), [] {
    constexpr int64_t kCap = 7;
    constexpr int kG = 12, kIters = 3000;
    rt::Semaphore sem(kCap);
    std::atomic<int64_t> held{0}, max_held{0};
    auto [ctx, cancel] = rt::with_cancel(rt::Context::background());
    rt::WaitGroup wg;
    for (int g = 0; g < kG; g++) {
      wg.go([&, g, ctx = ctx] {
        Rng rng{uint32_t(g) * 7919u + 1};
        for (int i = 0; i < kIters; i++) {
          int64_t w = 1 + rng.next() % 4;
          switch (i % 3) {
            case 0:
              sem.acquire(w);
              break;
            case 1:
              EXPECT_EQ(sem.acquire(ctx, w), ContextError::kNone);
              break;
            default:
              if (!sem.try_acquire(w)) {
                rt::gosched();
                continue;
              }
          }
          // Counted only while held: added after the acquire, removed
          // before the release.
          note_max(max_held, held.fetch_add(w) + w);
          if (i % 8 == 0) rt::gosched();  // hold across a yield sometimes
          held.fetch_sub(w);
          sem.release(w);
        }
      });
    }
    wg.wait();
    cancel();
    EXPECT_LE(max_held.load(), kCap);
    EXPECT_GE(max_held.load(), 2) << "holders never overlapped";
    EXPECT_EQ(held.load(), 0);
    EXPECT_TRUE(sem.try_acquire(kCap));
    sem.release(kCap);
  });
}

TEST_P(SemaphoreTest, TryAcquire) {
  run_go(procs(), [] {
    rt::Semaphore sem(3);
    EXPECT_TRUE(sem.try_acquire(2));
    EXPECT_FALSE(sem.try_acquire(2));
    EXPECT_TRUE(sem.try_acquire(1));
    EXPECT_FALSE(sem.try_acquire(1));
    EXPECT_TRUE(sem.try_acquire(0));
    sem.release(3);
    EXPECT_FALSE(sem.try_acquire(4));  // more than the capacity
    EXPECT_TRUE(sem.try_acquire(3));
    sem.release(1);
    // One unit is free, but a queued waiter comes first.
    std::atomic<bool> got{false};
    rt::WaitGroup wg;
    wg.go([&] {
      sem.acquire(2);
      got = true;
    });
    ASSERT_TRUE(eventually([&] { return has_waiters(sem); }));
    EXPECT_FALSE(sem.try_acquire(1));
    EXPECT_FALSE(got.load());
    sem.release(2);  // 3 free: the waiter takes 2
    wg.wait();
    EXPECT_TRUE(got.load());
    EXPECT_TRUE(sem.try_acquire(1));
    EXPECT_FALSE(sem.try_acquire(1));
    sem.release(3);
  });
}

TEST_P(SemaphoreTest, ZeroWeightAndExactFit) {
  run_go(procs(), [] {
    rt::Semaphore sem(2);
    sem.acquire(0);
    sem.acquire(2);  // exactly the capacity
    sem.acquire(0);  // nobody waits: zero always fits
    EXPECT_EQ(sem.acquire(rt::Context::background(), 0), ContextError::kNone);
    sem.release(0);
    sem.release(2);
    rt::Semaphore empty(0);  // capacity 0: only zero weights
    EXPECT_TRUE(empty.try_acquire(0));
    EXPECT_FALSE(empty.try_acquire(1));
  });
}

// A waiter for the whole capacity queues behind a holder; small requests
// that arrive after it wait behind it although units are free for them.
TEST_P(SemaphoreTest, BigWaiterIsNotOvertakenBySmallOnes) {
  run_go(procs(), [] {
    rt::Semaphore sem(4);
    sem.acquire(1);  // 3 free
    std::atomic<int> seq{0};
    int big_seq = -1;
    std::vector<int> small_seq(8, -1);
    rt::WaitGroup wg;
    wg.go([&] {
      sem.acquire(4);
      big_seq = seq++;
      sem.release(4);
    });
    ASSERT_TRUE(eventually([&] { return has_waiters(sem); }));
    for (int i = 0; i < 8; i++) {
      wg.go([&, i] {
        sem.acquire(1);
        small_seq[i] = seq++;
        sem.release(1);
      });
    }
    rt::sleep(20ms);  // the small ones queue behind the big one
    EXPECT_EQ(seq.load(), 0) << "a small request overtook the queued big one";
    sem.release(1);
    wg.wait();
    EXPECT_EQ(big_seq, 0);
    for (int s : small_seq) EXPECT_GT(s, 0);
    EXPECT_TRUE(sem.try_acquire(4));
  });
}

// The semaphore as a reader/writer lock: readers take 1 unit, the writer
// all of them. Readers overlap continuously, so all units are rarely free
// at once; only FIFO service lets the writer in promptly.
TEST_P(SemaphoreTest, WriterIsNotStarvedByReaders) {
  run_go(procs(), [] {
    constexpr int64_t kN = 4;
    rt::Semaphore sem(kN);
    std::atomic<bool> stop{false};
    std::atomic<int64_t> reads{0};
    rt::WaitGroup readers;
    for (int r = 0; r < 6; r++) {
      readers.go([&] {
        while (!stop.load()) {
          sem.acquire(1);
          reads++;
          rt::sleep(50us);
          sem.release(1);
        }
      });
    }
    ASSERT_TRUE(eventually([&] { return reads.load() > 100; }));
    std::vector<int64_t> waits;
    for (int round = 0; round < 20; round++) {
      auto [ctx, cancel] = rt::with_timeout(rt::Context::background(), 20s);
      auto t0 = Clock::now();
      ContextError e = sem.acquire(ctx, kN);
      waits.push_back(ns_since(t0));
      cancel();
      if (e != ContextError::kNone) {
        ADD_FAILURE() << "the writer starved: " << rt::context_error_string(e);
        break;
      }
      sem.release(kN);
      rt::sleep(200us);
    }
    stop = true;
    readers.wait();
    check_fair_waits(waits, "writer");
    EXPECT_TRUE(sem.try_acquire(kN));
  });
}

// Waiters whose context is cancelled return its error and leave no trace:
// afterwards the whole capacity can be taken.
TEST_P(SemaphoreTest, CancelWhileWaitingLeaksNoUnits) {
  run_go(procs(), [] {
    constexpr int64_t kCap = 3;
    rt::Semaphore sem(kCap);
    sem.acquire(kCap);
    auto [ctx, cancel] = rt::with_cancel(rt::Context::background());
    constexpr int kWaiters = 10;
    std::atomic<int> canceled{0}, started{0};
    rt::WaitGroup wg;
    for (int i = 0; i < kWaiters; i++) {
      wg.go([&, i, ctx = ctx] {
        started++;
        ContextError e = sem.acquire(ctx, 1 + i % int(kCap));
        if (e == ContextError::kCanceled) canceled++;
        if (e == ContextError::kNone) ADD_FAILURE() << "acquired units that were never free";
      });
    }
    ASSERT_TRUE(eventually([&] { return started.load() == kWaiters && has_waiters(sem); }));
    rt::sleep(5ms);  // let the rest queue
    cancel();
    wg.wait();
    EXPECT_EQ(canceled.load(), kWaiters);
    EXPECT_FALSE(has_waiters(sem));
    EXPECT_FALSE(sem.try_acquire(1));
    sem.release(kCap);
    EXPECT_TRUE(sem.try_acquire(kCap));
    sem.release(kCap);
  });
}

// A context that is already done fails even when the units are free; a
// deadline reports kDeadlineExceeded.
TEST_P(SemaphoreTest, DoneContextFailsAtOnce) {
  run_go(procs(), [] {
    rt::Semaphore sem(2);
    auto [ctx, cancel] = rt::with_cancel(rt::Context::background());
    cancel();
    EXPECT_EQ(sem.acquire(ctx, 1), ContextError::kCanceled);
    auto [past, c2] = rt::with_timeout(rt::Context::background(), -1s);
    EXPECT_EQ(sem.acquire(past, 1), ContextError::kDeadlineExceeded);
    c2();
    EXPECT_TRUE(sem.try_acquire(2));
    sem.release(1);
    auto [soon, c3] = rt::with_timeout(rt::Context::background(), 5ms);
    EXPECT_EQ(sem.acquire(soon, 2), ContextError::kDeadlineExceeded);
    c3();
    sem.release(1);
    EXPECT_TRUE(sem.try_acquire(2));
  });
}

// Cancelling the front waiter lets the waiters behind it in if they fit.
TEST_P(SemaphoreTest, CancelledFrontWaiterLetsOthersThrough) {
  run_go(procs(), [] {
    rt::Semaphore sem(4);
    sem.acquire(3);  // 1 free
    auto [ctx, cancel] = rt::with_cancel(rt::Context::background());
    ContextError big_result = ContextError::kNone;
    std::atomic<bool> small_got{false};
    rt::WaitGroup wg;
    wg.go([&, ctx = ctx] { big_result = sem.acquire(ctx, 4); });
    ASSERT_TRUE(eventually([&] { return has_waiters(sem); }));
    wg.go([&] {
      sem.acquire(1);  // fits, but queues behind the big one
      small_got = true;
    });
    rt::sleep(20ms);
    EXPECT_FALSE(small_got.load()) << "the small request overtook the queued big one";
    cancel();  // we still hold 3: only the cancellation can let it in
    ASSERT_TRUE(eventually([&] { return small_got.load(); }));
    wg.wait();
    EXPECT_EQ(big_result, ContextError::kCanceled);
    sem.release(4);
    EXPECT_TRUE(sem.try_acquire(4));
  });
}

// Cancellations (timeouts, explicit cancels at random moments, contexts
// already done) racing with grants: every acquire either holds its units
// or returned an error with none held, so at the end all are free.
TEST_P(SemaphoreTest, CancellationRacingGrantsLeaksNoUnits) {
  run_go(procs(), [] {
    constexpr int64_t kCap = 4;
    constexpr int kG = 8, kIters = 300;
    rt::Semaphore sem(kCap);
    std::atomic<int64_t> held{0}, max_held{0};
    std::atomic<int> ok{0}, failed{0};
    rt::WaitGroup wg;
    for (int g = 0; g < kG; g++) {
      wg.go([&, g] {
        Rng rng{uint32_t(g) * 104729u + 7};
        rt::WaitGroup cancellers;
        for (int i = 0; i < kIters; i++) {
          int64_t w = 1 + rng.next() % kCap;
          rt::Context ctx;
          rt::CancelFunc cancel;
          if (i % 3 == 0) {
            std::tie(ctx, cancel) =
                rt::with_timeout(rt::Context::background(), std::chrono::microseconds(rng.next() % 300));
          } else {
            std::tie(ctx, cancel) = rt::with_cancel(rt::Context::background());
            int yields = int(rng.next() % 4);
            cancellers.go([cancel = cancel, yields] {
              for (int y = 0; y < yields; y++) rt::gosched();
              cancel();
            });
          }
          ContextError e = sem.acquire(ctx, w);
          if (e == ContextError::kNone) {
            ok++;
            note_max(max_held, held.fetch_add(w) + w);
            if (i % 4 == 0) rt::gosched();
            held.fetch_sub(w);
            sem.release(w);
          } else {
            failed++;
            EXPECT_EQ(e, ctx.err());
          }
          cancel();
        }
        cancellers.wait();
      });
    }
    wg.wait();
    EXPECT_EQ(ok.load() + failed.load(), kG * kIters);
    EXPECT_GT(ok.load(), 0);
    EXPECT_LE(max_held.load(), kCap);
    EXPECT_FALSE(has_waiters(sem));
    EXPECT_TRUE(sem.try_acquire(kCap)) << "units leaked";
  });
}

// A request larger than the capacity waits for its context without
// holding up anybody else (it does not queue).
TEST_P(SemaphoreTest, RequestOverCapacityWaitsForContext) {
  run_go(procs(), [] {
    rt::Semaphore sem(2);
    auto [ctx, cancel] = rt::with_cancel(rt::Context::background());
    std::atomic<bool> returned{false};
    ContextError result = ContextError::kNone;
    rt::WaitGroup wg;
    wg.go([&, ctx = ctx] {
      result = sem.acquire(ctx, 3);
      returned = true;
    });
    rt::sleep(10ms);
    EXPECT_FALSE(returned.load());
    EXPECT_FALSE(has_waiters(sem));
    EXPECT_TRUE(sem.try_acquire(2));  // others are served meanwhile
    sem.release(2);
    sem.acquire(1);
    sem.release(1);
    cancel();
    wg.wait();
    EXPECT_EQ(result, ContextError::kCanceled);
    auto [soon, c2] = rt::with_timeout(rt::Context::background(), 2ms);
    EXPECT_EQ(sem.acquire(soon, 3), ContextError::kDeadlineExceeded);
    c2();
  });
}

TEST_P(SemaphoreTest, ReleaseMoreThanHeldPanics) {
  run_go(procs(), [] {
    rt::Semaphore sem(3);
    try {
      sem.release(1);
      ADD_FAILURE() << "no panic";
    } catch (const rt::Panic& p) {
      EXPECT_STREQ(p.what(), "semaphore: released more than held");
    }
    sem.acquire(2);
    EXPECT_THROW(sem.release(3), rt::Panic);
    // The failed release changed nothing: 2 are still held.
    EXPECT_FALSE(sem.try_acquire(2));
    sem.release(2);
    EXPECT_TRUE(sem.try_acquire(3));
    sem.release(3);
    // From another goroutine too.
    std::string msg;
    rt::WaitGroup wg;
    wg.go([&] {
      try {
        sem.release(1);
      } catch (const rt::Panic& p) {
        msg = p.what();
      }
    });
    wg.wait();
    EXPECT_EQ(msg, "semaphore: released more than held");
  });
}

TEST_P(SemaphoreTest, NegativeWeightPanics) {
  run_go(procs(), [] {
    EXPECT_THROW(rt::Semaphore(-1), rt::Panic);
    rt::Semaphore sem(2);
    EXPECT_THROW(sem.acquire(-1), rt::Panic);
    EXPECT_THROW((void)sem.acquire(rt::Context::background(), -1), rt::Panic);
    EXPECT_THROW(sem.try_acquire(-1), rt::Panic);
    EXPECT_THROW(sem.release(-1), rt::Panic);
    EXPECT_TRUE(sem.try_acquire(2));
  });
}

// Goroutines and plain threads share one semaphore; the threads block
// (their OS threads sleep), with and without a context.
TEST_P(SemaphoreTest, SharedWithPlainThreads) {
  run_go(procs(), [] {
    constexpr int64_t kCap = 3;
    constexpr int kIters = 2000;
    rt::Semaphore sem(kCap);
    std::atomic<int64_t> held{0}, max_held{0};
    auto [ctx, cancel] = rt::with_cancel(rt::Context::background());
    auto work = [&](int id, bool with_ctx) {
      for (int i = 0; i < kIters; i++) {
        int64_t w = 1 + (i + id) % 2;
        if (with_ctx) {
          EXPECT_EQ(sem.acquire(ctx, w), ContextError::kNone);
        } else {
          sem.acquire(w);
        }
        note_max(max_held, held.fetch_add(w) + w);
        held.fetch_sub(w);
        sem.release(w);
      }
    };
    rt::WaitGroup wg;
    for (int g = 0; g < 4; g++) wg.go([&, g] { work(g, g % 2 == 0); });
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; t++) threads.emplace_back([&, t] { work(10 + t, t == 0); });
    join_all(threads);
    wg.wait();
    cancel();
    EXPECT_LE(max_held.load(), kCap);
    EXPECT_TRUE(sem.try_acquire(kCap));
  });
}

// A plain thread waits for a unit that a goroutine releases, and gives up
// when its context is cancelled.
TEST(SemaphorePlain, ThreadWaitsAndCancels) {
  run_go(0, [] {
    rt::Semaphore sem(1);
    sem.acquire(1);
    auto [ctx, cancel] = rt::with_cancel(rt::Context::background());
    ContextError first = ContextError::kCanceled, second = ContextError::kNone;
    std::atomic<bool> first_done{false};
    std::vector<std::thread> threads;
    threads.emplace_back([&, ctx = ctx] {
      first = sem.acquire(ctx, 1);  // granted by the release below
      if (first == ContextError::kNone) sem.release(1);
      first_done = true;
      rt::Semaphore none(0);
      second = none.acquire(ctx, 1);  // over capacity: until cancelled
    });
    rt::sleep(5ms);  // usually the thread is waiting by now; either way works
    sem.release(1);
    // Cancel only once the first acquire is over (a slow thread start must
    // not turn it into a cancellation).
    while (!first_done.load()) rt::sleep(1ms);
    rt::sleep(5ms);
    cancel();
    join_all(threads);
    EXPECT_EQ(first, ContextError::kNone);
    EXPECT_EQ(second, ContextError::kCanceled);
    EXPECT_TRUE(sem.try_acquire(1));
  });
}

class SemaphoreDeathTest : public testing::Test {
 protected:
  static void SetUpTestSuite() { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

// Uncaught, the over-release panic ends the program like Go's.
TEST_F(SemaphoreDeathTest, UncaughtOverReleaseIsAPanic) {
  EXPECT_EXIT(run_go(0,
                     [] {
                       rt::Semaphore sem(1);
                       sem.release(1);
                     }),
              testing::ExitedWithCode(2), "panic: semaphore: released more than held");
}

}  // namespace
