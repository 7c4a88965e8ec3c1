// Reachability under the stop-the-world collector: what is unreachable is
// freed (destructor run exactly once) and what is reachable survives, for
// chains of Refs, cycles, arrays, interior pointers, objects held only by a
// Root, only by a parked goroutine's stack, only by the collecting
// goroutine's own stack; noscan objects are freed too; raw allocations are
// never touched.
#include <gtest/gtest.h>
#include <time.h>

#include <vector>

#include "alloc/malloc.h"
#include "gc_test_util.h"
#include "goroutine_fixture.h"
#include "rt/chan.h"

using namespace gctest;

namespace {

class GcReach : public gotest::ProcsTest {};
GOTEST_PROCS_SUITE(GcReach);

TEST_P(GcReach, UnreachableChainIsFreedOnce) {
  run_gc_test(procs(), [] {
    [[maybe_unused]] const int tag = new_tag();
    int64_t before = destroyed(tag);
    in_frame([&] {
      for (int c = 0; c < 100; c++) {  // 100 chains of 10
        Tracked* head = nullptr;
        for (int i = 0; i < 10; i++) {
          Tracked* t = rt::make<Tracked>(tag, i);
          t->next = head;
          head = t;
        }
      }
    });
    full_gc();
    int64_t freed = destroyed(tag) - before;
    EXPECT_LE(freed, 1000);
    EXPECT_GE(freed, 1000 - 10 * kFalseRetentionSlack);
    EXPECT_EQ(g_double_destroyed.load(), 0);
  });
}

TEST_P(GcReach, ChainFromRootSurvivesThenDies) {
  run_gc_test(procs(), [] {
    [[maybe_unused]] const int tag = new_tag();
    int64_t before = destroyed(tag);
    rt::Root<Tracked> root;
    in_frame([&] {
      for (int i = 0; i < 500; i++) {
        Tracked* t = rt::make<Tracked>(tag, i);
        t->next = root.get();
        root = t;
      }
    });
    for (int c = 0; c < 3; c++) full_gc();
    EXPECT_EQ(destroyed(tag) - before, 0);
    in_frame([&] {
      uint64_t sum = 0, n = 0;
      for (Tracked* t = root.get(); t; t = t->next.get()) {
        EXPECT_EQ(t->magic, Tracked::kAlive);
        sum += t->value;
        n++;
      }
      EXPECT_EQ(n, 500u);
      EXPECT_EQ(sum, 499u * 500 / 2);
    });
    root = nullptr;
    full_gc_until([&] { return destroyed(tag) - before >= 500; });
    EXPECT_EQ(destroyed(tag) - before, 500);
  });
}

TEST_P(GcReach, CyclesAreFreed) {
  run_gc_test(procs(), [] {
    [[maybe_unused]] const int tag = new_tag();
    int64_t before = destroyed(tag);
    in_frame([&] {
      for (int i = 0; i < 100; i++) {
        Tracked* a = rt::make<Tracked>(tag);
        Tracked* b = rt::make<Tracked>(tag);
        a->next = b;
        b->next = a;
        a->other = a;  // self loop
      }
    });
    full_gc_until([&] { return destroyed(tag) - before >= 200; });
    EXPECT_EQ(destroyed(tag) - before, 200);
  });
}

TEST_P(GcReach, ReachableCycleSurvives) {
  run_gc_test(procs(), [] {
    [[maybe_unused]] const int tag = new_tag();
    int64_t before = destroyed(tag);
    rt::Root<Tracked> root;
    in_frame([&] {
      Tracked* a = rt::make<Tracked>(tag, 1);
      Tracked* b = rt::make<Tracked>(tag, 2);
      a->next = b;
      b->next = a;
      root = b;
    });
    full_gc();
    EXPECT_EQ(destroyed(tag) - before, 0);
    in_frame([&] {
      EXPECT_EQ(root->next->value, 1u);
      EXPECT_EQ(root->next->next.get(), root.get());
    });
    // Dropped from a goroutine of its own: the body's frame never holds
    // the target (a stale copy there would keep it, conservatively).
    in_frame([&] { root.reset(); });
    full_gc_until([&] { return destroyed(tag) - before == 2; });
    EXPECT_EQ(destroyed(tag) - before, 2);
  });
}

TEST_P(GcReach, ArraysKeepElementsTargets) {
  run_gc_test(procs(), [] {
    [[maybe_unused]] const int tag = new_tag();
    int64_t before = destroyed(tag);
    rt::Root<rt::Ref<Tracked>> arr;
    in_frame([&] {
      rt::Ref<Tracked>* a = rt::make_array<rt::Ref<Tracked>>(300);
      for (int i = 0; i < 300; i++) a[i] = rt::make<Tracked>(tag, i);
      arr = a;
    });
    full_gc();
    EXPECT_EQ(destroyed(tag) - before, 0);
    in_frame([&] {
      for (int i = 0; i < 300; i++) ASSERT_EQ(arr.get()[i]->value, static_cast<uint64_t>(i));
      // Drop every other element: exactly those die.
      for (int i = 0; i < 300; i += 2) arr.get()[i] = nullptr;
    });
    full_gc_until([&] { return destroyed(tag) - before >= 150; });
    EXPECT_EQ(destroyed(tag) - before, 150);
    arr.reset();
    full_gc_until([&] { return destroyed(tag) - before >= 300; });
    EXPECT_EQ(destroyed(tag) - before, 300);
  });
}

TEST_P(GcReach, ArrayOfObjectsRunsEveryDestructor) {
  run_gc_test(procs(), [] {
    [[maybe_unused]] const int tag = new_tag();
    int64_t before = destroyed(tag);
    in_frame([&] {
      Tracked* a = rt::make_array<Tracked>(64);
      for (int i = 0; i < 64; i++) a[i].tag = tag;
      for (int i = 0; i < 63; i++) a[i].next = &a[i + 1];  // interior pointers
    });
    full_gc_until([&] { return destroyed(tag) - before >= 64; });
    EXPECT_EQ(destroyed(tag) - before, 64);
  });
}

TEST_P(GcReach, InteriorPointerKeepsObject) {
  run_gc_test(procs(), [] {
    [[maybe_unused]] const int tag = new_tag();
    int64_t before = destroyed(tag);
    rt::Root<Tracked> keep_last;
    in_frame([&] {
      Tracked* a = rt::make_array<Tracked>(16);
      for (int i = 0; i < 16; i++) {
        a[i].value = i;
        a[i].tag = tag;  // count these destructions apart
      }
      // Only a pointer to the last element (interior to the block) remains.
      keep_last = &a[15];
    });
    full_gc();
    EXPECT_EQ(destroyed(tag) - before, 0);
    in_frame([&] { EXPECT_EQ(keep_last->value, 15u); });
    keep_last.reset();
    full_gc_until([&] { return destroyed(tag) - before >= 16; });
    EXPECT_EQ(destroyed(tag) - before, 16);
  });
}

// Held only on a parked goroutine's stack.
[[gnu::noinline]] void hold_and_park(int tag, rt::Chan<int> ready, rt::Chan<int> release, rt::Chan<uint64_t> out) {
  Tracked* t = rt::make<Tracked>(tag, 77);
  t->next = rt::make<Tracked>(tag, 78);
  ready.send(1);
  release.recv();
  out.send(t->value + t->next->value);
  rt::keep_alive(t);
}

TEST_P(GcReach, ParkedGoroutineStackIsARoot) {
  run_gc_test(procs(), [] {
    [[maybe_unused]] const int tag = new_tag();
    int64_t before = destroyed(tag);
    auto ready = rt::make_chan<int>();
    auto release = rt::make_chan<int>();
    auto out = rt::make_chan<uint64_t>(1);
    rt::go([=] { hold_and_park(tag, ready, release, out); });
    ready.recv();
    for (int i = 0; i < 3; i++) full_gc();
    EXPECT_EQ(destroyed(tag) - before, 0);
    release.send(1);
    EXPECT_EQ(out.recv(), 155u);
  });
}

// A goroutine in a syscall scope keeps its object only in a callee-saved
// register (r12) while collections run: the scope saved that register in
// itself when it opened, so the scan of the goroutine's stack, which
// starts where the scope began, finds it.
[[gnu::noinline]] uintptr_t make_tracked_pair(int tag) {
  Tracked* t = rt::make<Tracked>(tag, 7);
  t->next = rt::make<Tracked>(tag, 8);
  return reinterpret_cast<uintptr_t>(t);
}

[[gnu::noinline]] uint64_t hold_in_register_through_scope(int tag, std::atomic<int>* in_scope,
                                                          std::atomic<bool>* collected) {
  register uintptr_t held asm("r12") = make_tracked_pair(tag);
  clear_stack();  // the only copy left is the register
  asm volatile("" : "+r"(held));
  {
    rt::SyscallScope scope;
    in_scope->store(1);
    while (!collected->load()) {
      struct timespec ts{0, 200'000};
      nanosleep(&ts, nullptr);
    }
  }
  asm volatile("" : "+r"(held));
  auto* t = reinterpret_cast<Tracked*>(held);
  return t->magic == Tracked::kAlive && t->next->magic == Tracked::kAlive ? t->value + t->next->value : 0;
}

TEST_P(GcReach, SyscallScopeSavesRegisters) {
  run_gc_test(procs(), [] {
    const int tag = new_tag();
    std::atomic<int> in_scope{0};
    std::atomic<bool> collected{false};
    auto out = rt::make_chan<uint64_t>(1);
    rt::go([&, out]() mutable { out.send(hold_in_register_through_scope(tag, &in_scope, &collected)); });
    while (!in_scope.load()) rt::sleep(std::chrono::microseconds(100));
    for (int i = 0; i < 3; i++) full_gc();
    EXPECT_EQ(destroyed(tag), 0);
    collected = true;
    EXPECT_EQ(out.recv(), 15u);
  });
}

TEST_P(GcReach, OwnStackIsARoot) {
  run_gc_test(procs(), [] {
    [[maybe_unused]] const int tag = new_tag();
    int64_t before = destroyed(tag);
    Tracked* t = rt::make<Tracked>(tag, 5);
    t->next = rt::make<Tracked>(tag, 6);
    full_gc();
    EXPECT_EQ(destroyed(tag) - before, 0);
    EXPECT_EQ(t->next->value, 6u);
    rt::keep_alive(t);
  });
}

TEST_P(GcReach, NoscanObjectsAreFreed) {
  run_gc_test(procs(), [] {
    [[maybe_unused]] const int tag = new_tag();
    struct Plain {
      uint64_t a[6];
    };
    uintptr_t addrs[64];
    in_frame([&] {
      for (auto& a : addrs) a = ~reinterpret_cast<uintptr_t>(rt::make<Plain>());  // hidden: not a heap address
    });
    rt::Root<Plain> kept(reinterpret_cast<Plain*>(~addrs[0]));
    full_gc();
    EXPECT_TRUE(is_live(reinterpret_cast<void*>(~addrs[0])));
    int live = 0;
    for (int i = 1; i < 64; i++) live += is_live(reinterpret_cast<void*>(~addrs[i]));
    EXPECT_EQ(live, 0);
  });
}

TEST_P(GcReach, RawAllocationsAreNotCollected) {
  run_gc_test(procs(), [] {
    [[maybe_unused]] const int tag = new_tag();
    uintptr_t hidden = ~reinterpret_cast<uintptr_t>(rt::alloc::allocate(48, rt::alloc::kScan));
    full_gc();
    rt::alloc::ObjectRef o;
    EXPECT_TRUE(rt::alloc::find_object(~hidden, &o));
    EXPECT_TRUE(rt::alloc::free_object(reinterpret_cast<void*>(~hidden)));
  });
}

TEST_P(GcReach, LargeObjectsAreFreed) {
  run_gc_test(procs(), [] {
    [[maybe_unused]] const int tag = new_tag();
    int64_t before = destroyed(tag);
    rt::Root<rt::Ref<Tracked>> big;
    in_frame([&] {
      auto* a = rt::make_array<rt::Ref<Tracked>>(20000);  // 160 KiB: a span of its own
      a[19999] = rt::make<Tracked>(tag, 9);
      big = a;
    });
    in_frame([&] {  // garbage
      rt::make_array<rt::Ref<Tracked>>(20000)[5] = rt::make<Tracked>(tag, 10);
    });
    full_gc_until([&] { return destroyed(tag) - before >= 1; });
    EXPECT_EQ(destroyed(tag) - before, 1);
    in_frame([&] { EXPECT_EQ(big.get()[19999]->value, 9u); });
    big.reset();
    full_gc_until([&] { return destroyed(tag) - before >= 2; });
    EXPECT_EQ(destroyed(tag) - before, 2);
  });
}

TEST_P(GcReach, PauseIsRecorded) {
  run_gc_test(procs(), [] {
    [[maybe_unused]] const int tag = new_tag();
    rt::GcStats a = rt::gc_stats();
    rt::gc();
    rt::GcStats b = rt::gc_stats();
    EXPECT_EQ(b.cycles, a.cycles + 1);
    EXPECT_GT(b.last_pause_ns, 0);
    EXPECT_EQ(b.pause_ns[(b.cycles - 1) % 256], b.last_pause_ns);
    EXPECT_GE(b.total_pause_ns, a.total_pause_ns + b.last_pause_ns);
    // A cycle's pauses: sweep termination, mark termination, and one more
    // per mark termination that restarted.
    int64_t pauses = 2 + static_cast<int64_t>(b.mark_termination_retries - a.mark_termination_retries);
    EXPECT_GE(b.max_pause_ns * pauses, b.last_pause_ns);
    EXPECT_LE(b.max_pause_ns, b.total_pause_ns);
    uint64_t in_hist = 0, in_hist_before = 0;
    for (int k = 0; k < rt::GcStats::kPauseBuckets; k++) {
      in_hist += b.pause_hist[k];
      in_hist_before += a.pause_hist[k];
    }
    EXPECT_EQ(in_hist - in_hist_before, static_cast<uint64_t>(pauses));
  });
}

}  // namespace
