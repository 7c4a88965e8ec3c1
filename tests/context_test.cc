// Context (<rt/context.h>) against Go's context package: the background
// root; cancelling a context cancels its whole subtree (done() closes,
// err() says kCanceled) but never its parent or siblings; deadlines and
// timeouts cancel with kDeadlineExceeded, a child never outlives its
// parent's deadline, and a deadline already past cancels at once; values
// are found up the chain, the nearest one wins; a child made from a
// cancelled parent starts cancelled; a cancelled or destroyed child leaves
// its parent's child set (checked through rt::detail::context_children,
// also for 1e5 children of one parent); cancellation racing with child
// creation and destruction; contexts shared with plain threads. Goroutine
// tests run under the default GOMAXPROCS, 1 and 2.
//
// The test code lives outside namespace rt (see goroutine_fixture.h).
#include <gtest/gtest.h>

#include <any>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "rt/chan.h"
#include "rt/context.h"
#include "rt/sched.h"
#include "rt/sync.h"
#include "rt/time.h"
#include "tests/chan_test_util.h"

namespace {

using namespace gotest;
using namespace std::chrono_literals;

using rt::ContextError;

class ContextTest : public ProcsTest {};
GOTEST_PROCS_SUITE(ContextTest);

constexpr auto kLiveness = 10s;

// done() is closed (a receive returns at once with ok == false).
bool is_done(const rt::Context& ctx) {
  rt::Unit u;
  return ctx.done().try_recv(u) == rt::Chan<rt::Unit>::TryRecv::kClosed;
}

// Key objects: their addresses are the keys.
const int kUserKey = 0;
const int kTraceKey = 0;
const int kMissingKey = 0;

TEST(ContextBasics, Background) {
  rt::Context bg = rt::Context::background();
  EXPECT_EQ(bg.err(), ContextError::kNone);
  EXPECT_TRUE(bg.done().is_nil()) << "the root can never be cancelled";
  EXPECT_FALSE(bg.deadline().has_value());
  EXPECT_EQ(bg.value(&kUserKey), nullptr);
  EXPECT_EQ(rt::Context::todo().impl(), bg.impl());
  EXPECT_EQ(rt::Context().impl(), bg.impl());
  EXPECT_EQ(rt::detail::context_children(bg), 0u);
  // A value child of the root is not cancelable either.
  rt::Context v = rt::with_value(bg, &kUserKey, 1);
  EXPECT_TRUE(v.done().is_nil());
  EXPECT_EQ(v.err(), ContextError::kNone);
  EXPECT_STREQ(rt::context_error_string(ContextError::kCanceled), "context canceled");
  EXPECT_STREQ(rt::context_error_string(ContextError::kDeadlineExceeded), "context deadline exceeded");
  EXPECT_STREQ(rt::context_error_string(ContextError::kNone), "");
  rt::CancelFunc none;
  none();  // a default CancelFunc does nothing
}

// The tree used below:
//   root ─┬─ a ─┬─ a1
//         │     └─ a2 (timeout 10 s)
//         └─ b ── bv (value) ── bv1
struct Tree {
  rt::Context root, a, a1, a2, b, bv, bv1;
  rt::CancelFunc cancel_root, cancel_a, cancel_a1, cancel_a2, cancel_b, cancel_bv1;
  Tree() {
    std::tie(root, cancel_root) = rt::with_cancel(rt::Context::background());
    std::tie(a, cancel_a) = rt::with_cancel(root);
    std::tie(a1, cancel_a1) = rt::with_cancel(a);
    std::tie(a2, cancel_a2) = rt::with_timeout(a, 10s);
    std::tie(b, cancel_b) = rt::with_cancel(root);
    bv = rt::with_value(b, &kUserKey, std::string("alice"));
    std::tie(bv1, cancel_bv1) = rt::with_cancel(bv);
  }
  std::vector<rt::Context*> all() { return {&root, &a, &a1, &a2, &b, &bv, &bv1}; }
};

TEST_P(ContextTest, CancelCancelsTheWholeSubtree) {
  run_go(procs(), [] {
    Tree t;
    for (auto* c : t.all()) {
      EXPECT_FALSE(is_done(*c));
      EXPECT_EQ(c->err(), ContextError::kNone);
    }
    EXPECT_EQ(rt::detail::context_children(t.root), 2u);
    EXPECT_EQ(rt::detail::context_children(t.a), 2u);
    EXPECT_EQ(rt::detail::context_children(t.bv), 1u) << "bv1 registers with b through the value";
    // A goroutine parked on each done() channel.
    std::atomic<int> woke{0};
    rt::WaitGroup wg;
    for (auto* c : t.all()) {
      wg.go([&woke, done = c->done()]() mutable {
        if (!done.recv2().second) woke++;
      });
    }
    // A value context's done() is its cancelable parent's channel: bv and
    // b share one, which two goroutines wait on (counted once per context).
    ASSERT_TRUE(wait_until([&] {
      int n = 0;
      for (auto* c : t.all()) n += waiting_receivers(c->done());
      return n == 9;
    }));
    EXPECT_TRUE(t.bv.done() == t.b.done());
    t.cancel_root();
    wg.wait();
    EXPECT_EQ(woke.load(), 7);
    for (auto* c : t.all()) {
      EXPECT_TRUE(is_done(*c));
      EXPECT_EQ(c->err(), ContextError::kCanceled);
    }
    EXPECT_EQ(rt::detail::context_children(t.root), 0u);
    // Idempotent, and a later cancel of a descendant changes nothing.
    t.cancel_root();
    t.cancel_a1();
    EXPECT_EQ(t.a1.err(), ContextError::kCanceled);
  });
}

TEST_P(ContextTest, CancelLeavesParentAndSiblingsAlone) {
  run_go(procs(), [] {
    Tree t;
    t.cancel_a();
    for (auto* c : {&t.a, &t.a1, &t.a2}) {
      EXPECT_TRUE(is_done(*c));
      EXPECT_EQ(c->err(), ContextError::kCanceled);
    }
    for (auto* c : {&t.root, &t.b, &t.bv, &t.bv1}) {
      EXPECT_FALSE(is_done(*c));
      EXPECT_EQ(c->err(), ContextError::kNone);
    }
    EXPECT_EQ(rt::detail::context_children(t.root), 1u) << "a left root's children";
    t.cancel_bv1();
    EXPECT_TRUE(is_done(t.bv1));
    EXPECT_FALSE(is_done(t.bv));
    EXPECT_FALSE(is_done(t.b));
    EXPECT_EQ(rt::detail::context_children(t.b), 0u);
    t.cancel_root();
    EXPECT_EQ(t.b.err(), ContextError::kCanceled);
    EXPECT_EQ(t.bv1.err(), ContextError::kCanceled) << "bv1 keeps the reason it was first cancelled for";
  });
}

// ---------------------------------------------------------------------------
// Deadlines

TEST_P(ContextTest, TimeoutCancelsWithDeadlineExceeded) {
  run_go(procs(), [] {
    rt::Time t0 = rt::Clock::now();
    auto [ctx, cancel] = rt::with_timeout(rt::Context::background(), 30ms);
    auto [child, cancel_child] = rt::with_cancel(ctx);
    ASSERT_TRUE(ctx.deadline().has_value());
    EXPECT_GE(*ctx.deadline() - t0, 30ms);
    EXPECT_LT(*ctx.deadline() - t0, kLiveness);
    EXPECT_EQ(child.deadline(), ctx.deadline()) << "a child inherits the deadline";
    EXPECT_EQ(ctx.err(), ContextError::kNone);
    auto [u, ok] = ctx.done().recv2();
    (void)u;
    EXPECT_FALSE(ok);
    EXPECT_GE(rt::Clock::now() - t0, 30ms) << "the deadline fired early";
    EXPECT_EQ(ctx.err(), ContextError::kDeadlineExceeded);
    EXPECT_EQ(child.err(), ContextError::kDeadlineExceeded) << "children get the parent's reason";
    EXPECT_TRUE(is_done(child));
    cancel();  // after the fact: the reason stays
    cancel_child();
    EXPECT_EQ(ctx.err(), ContextError::kDeadlineExceeded);
  });
}

TEST_P(ContextTest, CancelBeforeDeadline) {
  run_go(procs(), [] {
    auto [ctx, cancel] = rt::with_timeout(rt::Context::background(), 20ms);
    cancel();
    EXPECT_EQ(ctx.err(), ContextError::kCanceled);
    rt::sleep(50ms);
    EXPECT_EQ(ctx.err(), ContextError::kCanceled) << "the deadline fired after the cancel";
  });
}

TEST_P(ContextTest, DeadlineAlreadyPassed) {
  run_go(procs(), [] {
    auto [ctx, cancel] = rt::with_deadline(rt::Context::background(), rt::Clock::now() - 1s);
    EXPECT_TRUE(is_done(ctx));
    EXPECT_EQ(ctx.err(), ContextError::kDeadlineExceeded);
    auto [z, cancel_z] = rt::with_timeout(rt::Context::background(), 0ns);
    EXPECT_TRUE(is_done(z));
    EXPECT_EQ(z.err(), ContextError::kDeadlineExceeded);
  });
}

// A child asking for a later deadline than its parent's gets the parent's;
// an earlier one is its own and leaves the parent running.
TEST_P(ContextTest, ChildDeadlineNeverOutlivesParent) {
  run_go(procs(), [] {
    auto [parent, cancel_parent] = rt::with_timeout(rt::Context::background(), 60ms);
    auto [late, cancel_late] = rt::with_timeout(parent, 10s);
    EXPECT_EQ(late.deadline(), parent.deadline());
    auto [early, cancel_early] = rt::with_timeout(parent, 10ms);
    ASSERT_TRUE(early.deadline().has_value());
    EXPECT_LT(*early.deadline(), *parent.deadline());
    early.done().recv();
    EXPECT_EQ(early.err(), ContextError::kDeadlineExceeded);
    EXPECT_EQ(parent.err(), ContextError::kNone);
    EXPECT_EQ(late.err(), ContextError::kNone);
    rt::Time t0 = rt::Clock::now();
    late.done().recv();
    EXPECT_EQ(late.err(), ContextError::kDeadlineExceeded);
    EXPECT_EQ(parent.err(), ContextError::kDeadlineExceeded);
    EXPECT_LT(rt::Clock::now() - t0, kLiveness) << "late waited for its own 10 s";
  });
}

TEST_P(ContextTest, ManyDeadlinesAllFire) {
  run_go(procs(), [] {
    constexpr int kN = 500;
    std::mt19937 rng(3);
    std::vector<rt::Context> ctxs;
    std::vector<rt::CancelFunc> cancels;
    std::vector<rt::Time> due;
    for (int i = 0; i < kN; i++) {
      auto d = std::chrono::microseconds(rng() % 30000);
      due.push_back(rt::Clock::now() + d);
      auto [c, f] = rt::with_timeout(rt::Context::background(), d);
      ctxs.push_back(c);
      cancels.push_back(f);
    }
    // Half of another batch is cancelled and dropped before its deadline:
    // their timers must be stopped, not run on freed contexts.
    for (int i = 0; i < kN; i++) {
      auto [c, f] = rt::with_timeout(rt::Context::background(), std::chrono::microseconds(rng() % 2000));
      if (i % 2) f();
    }
    for (int i = 0; i < kN; i++) {
      ctxs[i].done().recv();
      EXPECT_GE(rt::Clock::now(), due[i]) << i;
      EXPECT_EQ(ctxs[i].err(), ContextError::kDeadlineExceeded) << i;
    }
  });
}

// ---------------------------------------------------------------------------
// Values

TEST_P(ContextTest, ValuesAreFoundUpTheChain) {
  run_go(procs(), [] {
    rt::Context bg = rt::Context::background();
    rt::Context user = rt::with_value(bg, &kUserKey, std::string("alice"));
    auto [c1, cancel1] = rt::with_cancel(user);
    rt::Context trace = rt::with_value(c1, &kTraceKey, 42);
    auto [c2, cancel2] = rt::with_timeout(trace, 10s);
    rt::Context shadow = rt::with_value(c2, &kUserKey, std::string("bob"));

    ASSERT_NE(c2.value_as<std::string>(&kUserKey), nullptr);
    EXPECT_EQ(*c2.value_as<std::string>(&kUserKey), "alice");
    ASSERT_NE(c2.value_as<int>(&kTraceKey), nullptr);
    EXPECT_EQ(*c2.value_as<int>(&kTraceKey), 42);
    EXPECT_EQ(*shadow.value_as<std::string>(&kUserKey), "bob") << "the nearest value wins";
    EXPECT_EQ(*shadow.value_as<int>(&kTraceKey), 42);
    EXPECT_EQ(c1.value(&kTraceKey), nullptr) << "values flow down, not up";
    EXPECT_EQ(shadow.value(&kMissingKey), nullptr);
    EXPECT_EQ(shadow.value(nullptr), nullptr);
    EXPECT_EQ(shadow.value_as<int>(&kUserKey), nullptr) << "wrong type";
    const std::any* raw = shadow.value(&kTraceKey);
    ASSERT_NE(raw, nullptr);
    EXPECT_EQ(std::any_cast<int>(*raw), 42);
    // Values survive cancellation; a value child of a cancelled context is
    // done too.
    cancel1();
    EXPECT_EQ(*shadow.value_as<std::string>(&kUserKey), "bob");
    EXPECT_TRUE(is_done(shadow));
    EXPECT_EQ(shadow.err(), ContextError::kCanceled);
    rt::Context later = rt::with_value(c1, &kMissingKey, 1.5);
    EXPECT_TRUE(is_done(later));
    EXPECT_EQ(*later.value_as<double>(&kMissingKey), 1.5);
  });
}

// ---------------------------------------------------------------------------
// Children of cancelled parents; detaching

TEST_P(ContextTest, ChildOfCancelledParentStartsCancelled) {
  run_go(procs(), [] {
    auto [p, cancel] = rt::with_cancel(rt::Context::background());
    cancel();
    auto [c, cancel_c] = rt::with_cancel(p);
    EXPECT_TRUE(is_done(c));
    EXPECT_EQ(c.err(), ContextError::kCanceled);
    auto [d, cancel_d] = rt::with_timeout(rt::with_value(p, &kUserKey, 1), 10s);
    EXPECT_TRUE(is_done(d));
    EXPECT_EQ(d.err(), ContextError::kCanceled);
    EXPECT_EQ(rt::detail::context_children(p), 0u);

    auto [e, cancel_e] = rt::with_deadline(rt::Context::background(), rt::Clock::now() - 1ms);
    auto [f, cancel_f] = rt::with_cancel(e);
    EXPECT_EQ(f.err(), ContextError::kDeadlineExceeded);
  });
}

// A cancelled child leaves its parent's child set at once, even while the
// child itself is still referenced; a destroyed child leaves it too.
TEST_P(ContextTest, CancelledAndDestroyedChildrenDetach) {
  run_go(procs(), [] {
    auto [parent, cancel_parent] = rt::with_cancel(rt::Context::background());
    // 1e5 children created and cancelled one after another.
    for (int i = 0; i < 100000; i++) {
      auto [c, cancel] = i % 2 ? rt::with_cancel(parent) : rt::with_timeout(parent, 10s);
      cancel();
      if (i % 10000 == 0) {
        EXPECT_EQ(rt::detail::context_children(parent), 0u) << i;
      }
    }
    EXPECT_EQ(rt::detail::context_children(parent), 0u);
    // Kept alive after the cancel.
    std::vector<std::pair<rt::Context, rt::CancelFunc>> kept;
    for (int i = 0; i < 1000; i++) kept.push_back(rt::with_cancel(parent));
    EXPECT_EQ(rt::detail::context_children(parent), 1000u);
    for (int i = 0; i < 500; i++) kept[i].second();
    EXPECT_EQ(rt::detail::context_children(parent), 500u);
    // Destroyed without a cancel.
    kept.erase(kept.begin() + 500, kept.end());
    EXPECT_EQ(rt::detail::context_children(parent), 0u);
    // Through a value layer, and grandchildren register with their own
    // nearest cancelable ancestor.
    rt::Context v = rt::with_value(parent, &kUserKey, 1);
    {
      auto [c, cancel_c] = rt::with_cancel(v);
      auto [g, cancel_g] = rt::with_cancel(c);
      EXPECT_EQ(rt::detail::context_children(parent), 1u);
      EXPECT_EQ(rt::detail::context_children(v), 1u);
      EXPECT_EQ(rt::detail::context_children(c), 1u);
      cancel_g();
      EXPECT_EQ(rt::detail::context_children(c), 0u);
      EXPECT_EQ(rt::detail::context_children(parent), 1u);
    }
    EXPECT_EQ(rt::detail::context_children(parent), 0u);
    // The parent still works after all that.
    auto [last, cancel_last] = rt::with_cancel(parent);
    cancel_parent();
    EXPECT_EQ(last.err(), ContextError::kCanceled);
  });
}

// ---------------------------------------------------------------------------
// Concurrency

// Goroutines create, wait on, cancel and drop children of one parent while
// the parent is cancelled under them: everything ends cancelled, nobody
// hangs, and the parent's child set is empty.
TEST_P(ContextTest, CancelRacesWithChildrenComingAndGoing) {
  run_go(procs(), [] {
    for (int round = 0; round < 20; round++) {
      auto [parent, cancel_parent] = rt::with_cancel(rt::Context::background());
      std::atomic<int> finished{0};
      rt::WaitGroup wg;
      for (int g = 0; g < 8; g++) {
        wg.go([&, g] {
          for (int i = 0;; i++) {
            auto [c, cancel] = (i + g) % 3 ? rt::with_cancel(parent) : rt::with_timeout(parent, 1ms);
            auto [gc, cancel_gc] = rt::with_cancel(c);
            if (i % 2) cancel();
            if (parent.err() != ContextError::kNone) {
              // The parent's cancellation reaches the grandchild.
              gc.done().recv();
              if (gc.err() != ContextError::kNone) finished++;
              return;
            }
            if (i % 64 == 0) rt::gosched();
          }
        });
      }
      rt::sleep(std::chrono::microseconds(200 * (round % 5)));
      cancel_parent();
      wg.wait();
      EXPECT_EQ(finished.load(), 8);
      EXPECT_EQ(rt::detail::context_children(parent), 0u);
    }
  });
}

// A plain thread cancels; goroutines wait. Then goroutines cancel and a
// thread waits.
TEST_P(ContextTest, SharedWithPlainThreads) {
  run_go(procs(), [] {
    auto [ctx, cancel] = rt::with_cancel(rt::Context::background());
    std::atomic<int> woke{0};
    rt::WaitGroup wg;
    for (int i = 0; i < 4; i++) {
      wg.go([&, c = ctx] {
        c.done().recv();
        if (c.err() == ContextError::kCanceled) woke++;
      });
    }
    std::vector<std::thread> threads;
    threads.emplace_back([&, cf = cancel] {
      std::this_thread::sleep_for(10ms);
      cf();
    });
    join_all(threads);
    wg.wait();
    EXPECT_EQ(woke.load(), 4);

    auto [ctx2, cancel2] = rt::with_timeout(rt::Context::background(), 10s);
    std::atomic<bool> thread_saw{false};
    threads.emplace_back([&, c = ctx2] {
      c.done().recv();  // blocks the thread
      thread_saw = c.err() == ContextError::kCanceled;
    });
    ASSERT_TRUE(wait_until([&, c = ctx2] { return waiting_receivers(c.done()) == 1; }));
    rt::go([cf = cancel2] { cf(); });
    join_all(threads);
    EXPECT_TRUE(thread_saw.load());
  });
}

// The usual shape: a worker selects on its work and on ctx.done().
TEST_P(ContextTest, WorkerStopsOnCancel) {
  run_go(procs(), [] {
    auto [ctx, cancel] = rt::with_cancel(rt::Context::background());
    auto jobs = rt::make_chan<int>();
    int handled = 0;
    ContextError why = ContextError::kNone;
    rt::WaitGroup wg;
    wg.go([&, ctx = ctx] {
      for (;;) {
        bool stop = false;
        rt::select(rt::recv_case(jobs, [&](int) { handled++; }), rt::recv_case(ctx.done(), [&] {
                     stop = true;
                     why = ctx.err();
                   }));
        if (stop) return;
      }
    });
    for (int i = 0; i < 100; i++) jobs.send(i);
    cancel();
    wg.wait();
    EXPECT_EQ(handled, 100);
    EXPECT_EQ(why, ContextError::kCanceled);
    EXPECT_FALSE(jobs.try_send(1)) << "the worker is gone";
  });
}

}  // namespace
