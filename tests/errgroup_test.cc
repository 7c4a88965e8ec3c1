// rt::Group (<rt/errgroup.h>) against x/sync/errgroup's semantics: wait()
// returns the first error and drops later ones; tasks fail by returning an
// exception_ptr or by throwing (std exceptions, rt::Panic, non-std
// values); with_context's context is cancelled on the first failure, at
// wait() and with its parent; set_limit bounds the active tasks (go blocks
// at the limit, try_go refuses) and cannot change while tasks are active;
// 10k tasks, with and without a limit; nested groups and tasks that start
// tasks; the destructor's cancel-and-wait; a Group on a plain thread; a
// Group and a Semaphore together. Every goroutine test runs under the
// default GOMAXPROCS, GOMAXPROCS=1 and GOMAXPROCS=2.
//
// The test code lives outside namespace rt on purpose: the preemption
// signal handler never preempts code in namespace rt.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "rt/chan.h"
#include "rt/context.h"
#include "rt/errgroup.h"
#include "rt/panic.h"
#include "rt/sched.h"
#include "rt/semaphore.h"
#include "rt/sync.h"
#include "tests/goroutine_fixture.h"

namespace {

using namespace gotest;
using namespace std::chrono_literals;
using rt::ContextError;

class ErrGroupTest : public ProcsTest {};
GOTEST_PROCS_SUITE(ErrGroupTest);

// The message of the std::exception in err ("" if none; "<other>" if err
// holds something else).
std::string message_of(const std::exception_ptr& err) {
  if (!err) return "";
  try {
    std::rethrow_exception(err);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "<other>";
  }
}

std::exception_ptr error(const char* what) { return std::make_exception_ptr(std::runtime_error(what)); }

void note_max(std::atomic<int>& max, int v) {
  int m = max.load();
  while (v > m && !max.compare_exchange_weak(m, v)) {
  }
}

TEST_P(ErrGroupTest, AllSucceed) {
  run_go(procs(), [] {
    rt::Group g;
    std::atomic<int> ran{0};
    for (int i = 0; i < 50; i++) {
      if (i % 2) {
        g.go([&] { ran++; });
      } else {
        g.go([&]() -> std::exception_ptr {
          ran++;
          return nullptr;
        });
      }
    }
    EXPECT_EQ(g.wait(), nullptr);
    EXPECT_EQ(ran.load(), 50);
    EXPECT_EQ(g.wait(), nullptr);  // again: still nothing
    rt::Group empty;
    EXPECT_EQ(empty.wait(), nullptr);
  });
}

// The first failure wins; the second fails strictly after it (it waits for
// the cancellation the first one causes) and is dropped.
TEST_P(ErrGroupTest, WaitReturnsFirstError) {
  run_go(procs(), [] {
    auto [g, ctx] = rt::Group::with_context(rt::Context::background());
    std::atomic<int> ran{0};
    for (int i = 0; i < 10; i++) g.go([&] { ran++; });
    g.go([ctx = ctx]() mutable -> std::exception_ptr {
      ctx.done().recv();
      return error("second");
    });
    g.go([] { return error("first"); });
    std::exception_ptr err = g.wait();
    EXPECT_EQ(message_of(err), "first");
    EXPECT_EQ(ran.load(), 10);
    EXPECT_EQ(message_of(g.wait()), "first");  // the same error again
  });
}

// Without a context too: once a failure is recorded, later ones (even in a
// later round of tasks) are dropped.
TEST_P(ErrGroupTest, LaterErrorsAreDropped) {
  run_go(procs(), [] {
    rt::Group g;
    g.go([] { return error("first"); });
    EXPECT_EQ(message_of(g.wait()), "first");
    for (int i = 0; i < 5; i++) g.go([] { return error("late"); });
    EXPECT_EQ(message_of(g.wait()), "first");
  });
}

TEST_P(ErrGroupTest, ExceptionsAreErrors) {
  run_go(procs(), [] {
    {
      rt::Group g;
      g.go([] { throw std::runtime_error("thrown"); });
      EXPECT_EQ(message_of(g.wait()), "thrown");
    }
    {
      rt::Group g;
      g.go([] { throw rt::Panic("a panic"); });
      std::exception_ptr err = g.wait();
      ASSERT_NE(err, nullptr);
      try {
        std::rethrow_exception(err);
      } catch (const rt::Panic& p) {
        EXPECT_STREQ(p.what(), "a panic");
      } catch (...) {
        ADD_FAILURE() << "not the Panic";
      }
    }
    {
      rt::Group g;
      g.go([] { throw 42; });
      std::exception_ptr err = g.wait();
      ASSERT_NE(err, nullptr);
      try {
        std::rethrow_exception(err);
      } catch (int v) {
        EXPECT_EQ(v, 42);
      }
    }
    {
      // A task that catches inside, then parks, still reports cleanly.
      rt::Group g;
      g.go([]() -> std::exception_ptr {
        try {
          throw std::runtime_error("inner");
        } catch (...) {
          rt::sleep(1ms);
          return std::current_exception();
        }
      });
      EXPECT_EQ(message_of(g.wait()), "inner");
    }
  });
}

TEST_P(ErrGroupTest, ContextCancelledOnFirstError) {
  run_go(procs(), [] {
    auto [g, ctx] = rt::Group::with_context(rt::Context::background());
    constexpr int kBlocked = 8;
    std::atomic<int> saw_cancel{0};
    for (int i = 0; i < kBlocked; i++) {
      g.go([&, ctx = ctx]() mutable {
        ctx.done().recv();  // only the failure below can end this
        if (ctx.err() == ContextError::kCanceled) saw_cancel++;
      });
    }
    EXPECT_EQ(ctx.err(), ContextError::kNone);
    g.go([] { throw std::runtime_error("boom"); });
    EXPECT_EQ(message_of(g.wait()), "boom");
    EXPECT_EQ(saw_cancel.load(), kBlocked);
    EXPECT_EQ(ctx.err(), ContextError::kCanceled);
  });
}

// No failure: the context lives until wait() returns, then is cancelled;
// the parent is not.
TEST_P(ErrGroupTest, ContextCancelledWhenWaitReturns) {
  run_go(procs(), [] {
    auto [parent, cancel_parent] = rt::with_cancel(rt::Context::background());
    auto [g, ctx] = rt::Group::with_context(parent);
    rt::WaitGroup finished;
    finished.add(3);
    for (int i = 0; i < 3; i++) {
      g.go([&] {
        rt::sleep(1ms);
        finished.done();
      });
    }
    finished.wait();
    rt::sleep(5ms);
    EXPECT_EQ(ctx.err(), ContextError::kNone) << "cancelled before wait()";
    EXPECT_EQ(g.wait(), nullptr);
    EXPECT_EQ(ctx.err(), ContextError::kCanceled);
    EXPECT_EQ(parent.err(), ContextError::kNone);
    cancel_parent();
  });
}

TEST_P(ErrGroupTest, ParentCancellationReachesTasks) {
  run_go(procs(), [] {
    auto [parent, cancel_parent] = rt::with_cancel(rt::Context::background());
    auto [g, ctx] = rt::Group::with_context(parent);
    for (int i = 0; i < 4; i++) {
      g.go([ctx = ctx]() mutable -> std::exception_ptr {
        ctx.done().recv();
        return nullptr;  // stopping because asked to is not a failure
      });
    }
    rt::sleep(2ms);
    cancel_parent();
    EXPECT_EQ(g.wait(), nullptr);
    EXPECT_EQ(ctx.err(), ContextError::kCanceled);
  });
}

TEST_P(ErrGroupTest, SetLimitBoundsActiveTasks) {
  run_go(procs(), [] {
    constexpr int kLimit = 3, kTasks = 60;
    rt::Group g;
    g.set_limit(kLimit);
    std::atomic<int> active{0}, max_active{0}, ran{0};
    for (int i = 0; i < kTasks; i++) {
      g.go([&] {
        note_max(max_active, ++active);
        rt::sleep(200us);
        active--;
        ran++;
      });
    }
    EXPECT_EQ(g.wait(), nullptr);
    EXPECT_EQ(ran.load(), kTasks);
    EXPECT_LE(max_active.load(), kLimit);
    EXPECT_GE(max_active.load(), 1);
  });
}

// At the limit, go() blocks until a task finishes.
TEST_P(ErrGroupTest, GoBlocksAtTheLimit) {
  run_go(procs(), [] {
    rt::Group g;
    g.set_limit(2);
    auto gate = rt::make_chan<rt::Unit>();
    for (int i = 0; i < 2; i++) g.go([gate]() mutable { gate.recv(); });
    std::atomic<bool> third_started{false}, go_returned{false};
    rt::WaitGroup starter;
    starter.go([&] {
      g.go([&] { third_started = true; });
      go_returned = true;
    });
    rt::sleep(20ms);
    EXPECT_FALSE(go_returned.load()) << "go() did not block at the limit";
    EXPECT_FALSE(third_started.load());
    gate.close();
    starter.wait();
    EXPECT_TRUE(go_returned.load());
    EXPECT_EQ(g.wait(), nullptr);
    EXPECT_TRUE(third_started.load());
  });
}

TEST_P(ErrGroupTest, TryGo) {
  run_go(procs(), [] {
    rt::Group g;
    std::atomic<int> ran{0};
    EXPECT_TRUE(g.try_go([&] { ran++; }));  // no limit: always starts
    EXPECT_EQ(g.wait(), nullptr);
    g.set_limit(1);
    auto gate = rt::make_chan<rt::Unit>();
    EXPECT_TRUE(g.try_go([gate, &ran]() mutable {
      gate.recv();
      ran++;
    }));
    EXPECT_FALSE(g.try_go([&] { ran += 100; }));  // at the limit: not started
    gate.close();
    EXPECT_EQ(g.wait(), nullptr);
    EXPECT_EQ(ran.load(), 2);
    EXPECT_TRUE(g.try_go([&] { ran++; }));  // the slot is free again
    EXPECT_EQ(g.wait(), nullptr);
    EXPECT_EQ(ran.load(), 3);
    g.set_limit(0);  // nothing may start
    EXPECT_FALSE(g.try_go([&] { ran++; }));
    g.set_limit(-1);
    EXPECT_TRUE(g.try_go([&] { ran++; }));
    EXPECT_EQ(g.wait(), nullptr);
    EXPECT_EQ(ran.load(), 4);
  });
}

TEST_P(ErrGroupTest, SetLimitWhileActivePanics) {
  run_go(procs(), [] {
    rt::Group g;
    g.set_limit(2);
    auto gate = rt::make_chan<rt::Unit>();
    g.go([gate]() mutable { gate.recv(); });
    try {
      g.set_limit(5);
      ADD_FAILURE() << "no panic";
    } catch (const rt::Panic& p) {
      EXPECT_STREQ(p.what(), "errgroup: modify limit while 1 goroutines in the group are still active");
    }
    // The old limit still holds: one more fits, then none.
    EXPECT_TRUE(g.try_go([] {}));
    g.set_limit(-1);  // removing the limit is always allowed
    EXPECT_TRUE(g.try_go([] {}));
    gate.close();
    EXPECT_EQ(g.wait(), nullptr);
    g.set_limit(5);  // nothing active now
    EXPECT_EQ(g.wait(), nullptr);
  });
}

TEST_P(ErrGroupTest, TenThousandTasks) {
  run_go(procs(), [] {
    constexpr int kTasks = 10000;
    {
      rt::Group g;
      std::atomic<int64_t> sum{0};
      for (int i = 0; i < kTasks; i++) g.go([&, i] { sum += i; });
      EXPECT_EQ(g.wait(), nullptr);
      EXPECT_EQ(sum.load(), int64_t{kTasks} * (kTasks - 1) / 2);
    }
    {
      // With a limit and a few failures: all run, one error comes back.
      auto [g, ctx] = rt::Group::with_context(rt::Context::background());
      g.set_limit(8);
      std::atomic<int> ran{0}, active{0}, max_active{0};
      for (int i = 0; i < kTasks; i++) {
        g.go([&, i]() -> std::exception_ptr {
          note_max(max_active, ++active);
          ran++;
          active--;
          if (i % 2500 == 1) return error("task failed");
          return nullptr;
        });
      }
      EXPECT_EQ(message_of(g.wait()), "task failed");
      EXPECT_EQ(ran.load(), kTasks);
      EXPECT_LE(max_active.load(), 8);
      EXPECT_EQ(ctx.err(), ContextError::kCanceled);
    }
  });
}

// Tasks that start tasks in their own group (a tree), and a task that runs
// a group of its own whose error becomes its own.
TEST_P(ErrGroupTest, NestedUse) {
  run_go(procs(), [] {
    {
      rt::Group g;
      std::atomic<int> nodes{0};
      std::function<void(int)> spawn = [&](int depth) {
        nodes++;
        if (depth == 0) return;
        for (int k = 0; k < 3; k++) g.go([&spawn, depth] { spawn(depth - 1); });
      };
      g.go([&] { spawn(5); });
      EXPECT_EQ(g.wait(), nullptr);
      EXPECT_EQ(nodes.load(), 1 + 3 + 9 + 27 + 81 + 243);
    }
    {
      auto [outer, octx] = rt::Group::with_context(rt::Context::background());
      std::atomic<int> inner_cancelled{0};
      for (int t = 0; t < 4; t++) {
        outer.go([&, t, octx = octx]() -> std::exception_ptr {
          auto [inner, ictx] = rt::Group::with_context(octx);
          for (int k = 0; k < 4; k++) {
            inner.go([&, t, k, ictx = ictx]() mutable -> std::exception_ptr {
              if (t == 2 && k == 3) return error("inner failure");
              ictx.done().recv();  // ended by the failure, via the outer context
              inner_cancelled++;
              return nullptr;
            });
          }
          return inner.wait();
        });
      }
      EXPECT_EQ(message_of(outer.wait()), "inner failure");
      EXPECT_EQ(inner_cancelled.load(), 15);
    }
  });
}

// A task's callable is destroyed before the task counts as finished: the
// captures' destructors park (on the task goroutines only), which would let
// wait() return first if they ran after the task was counted done.
TEST_P(ErrGroupTest, TaskCapturesDieBeforeWaitReturns) {
  run_go(procs(), [] {
    struct Tracker {
      std::atomic<int>* live;
      int64_t owner;  // the goroutine that made the original
      explicit Tracker(std::atomic<int>* l) : live(l), owner(rt::goid()) { ++*live; }
      Tracker(const Tracker& o) : live(o.live), owner(o.owner) { ++*live; }
      ~Tracker() {
        if (rt::goid() != owner) rt::sleep(2ms);
        --*live;
      }
    };
    std::atomic<int> live{0};
    rt::Group g;
    for (int i = 0; i < 20; i++) {
      Tracker t(&live);
      g.go([t] { rt::gosched(); });
    }
    EXPECT_EQ(g.wait(), nullptr);
    EXPECT_EQ(live.load(), 0);
  });
}

// Destroying a group with running tasks cancels its context and waits.
TEST_P(ErrGroupTest, DestructorCancelsAndWaits) {
  run_go(procs(), [] {
    std::atomic<int> finished{0};
    rt::Context kept;
    {
      auto [g, ctx] = rt::Group::with_context(rt::Context::background());
      kept = ctx;
      for (int i = 0; i < 5; i++) {
        g.go([&, ctx = ctx]() mutable {
          ctx.done().recv();
          rt::sleep(1ms);
          finished++;
        });
      }
      rt::Group plain;
      for (int i = 0; i < 5; i++) {
        plain.go([&] {
          rt::sleep(2ms);
          finished++;
        });
      }
    }  // plain waits, then g cancels and waits
    EXPECT_EQ(finished.load(), 10);
    EXPECT_EQ(kept.err(), ContextError::kCanceled);
  });
}

TEST_P(ErrGroupTest, GroupOnPlainThread) {
  run_go(procs(), [] {
    std::string err;
    std::atomic<int> ran{0};
    std::vector<std::thread> threads;
    threads.emplace_back([&] {
      auto [g, ctx] = rt::Group::with_context(rt::Context::background());
      g.set_limit(2);
      for (int i = 0; i < 20; i++) {
        g.go([&, i]() -> std::exception_ptr {
          ran++;
          return i == 7 ? error("seven") : nullptr;
        });
      }
      err = message_of(g.wait());
    });
    join_all(threads);
    EXPECT_EQ(err, "seven");
    EXPECT_EQ(ran.load(), 20);
  });
}

// The usual pairing: a Semaphore bounds the work, the Group's context
// stops the waiters once one task fails.
TEST_P(ErrGroupTest, WithSemaphore) {
  run_go(procs(), [] {
    rt::Semaphore sem(2);
    sem.acquire(2);  // nobody gets in until the failure
    auto [g, ctx] = rt::Group::with_context(rt::Context::background());
    std::atomic<int> gave_up{0};
    for (int i = 0; i < 6; i++) {
      g.go([&, ctx = ctx]() -> std::exception_ptr {
        ContextError e = sem.acquire(ctx, 1);
        if (e == ContextError::kNone) {
          sem.release(1);
          return error("acquired units that were never free");
        }
        gave_up++;
        return std::make_exception_ptr(std::runtime_error(rt::context_error_string(e)));
      });
    }
    rt::sleep(5ms);
    g.go([] { return error("root cause"); });
    std::string msg = message_of(g.wait());
    // The waiters fail only after the cancellation the root cause made.
    EXPECT_EQ(msg, "root cause");
    EXPECT_EQ(gave_up.load(), 6);
    sem.release(2);
    EXPECT_TRUE(sem.try_acquire(2));
  });
}

}  // namespace
