// The tiny allocator for GC'd objects: noscan objects under 16 bytes made
// one at a time are packed, at their alignment, into the P's 16-byte
// block; the block lives while any of its objects is reachable and is
// freed once none is; a new cycle starts a new block (an object carved
// while marking must be allocated black); finalizers may be set on a tiny
// object and run once its block is unreachable.
#include <gtest/gtest.h>

#include <cstdint>

#include "gc/collector.h"
#include "gc/heapobj.h"
#include "rt/finalizer.h"
#include "rt/ref.h"
#include "rt/sched.h"
#include "gc_test_util.h"

using namespace gctest;

namespace {

struct Three {
  uint8_t a, b, c;
};
static_assert(sizeof(Three) == 3 && alignof(Three) == 1);

// Not instrumented by ASan: its locals (the Managed, which names the
// block) must stay on the real stack, not in a fake frame that a stale
// word could keep the collector scanning.
__attribute__((no_sanitize("address"))) uintptr_t block_of(const void* p) {
  rt::collector::Managed m;
  EXPECT_TRUE(rt::collector::find_managed(reinterpret_cast<uintptr_t>(p), &m));
  EXPECT_FALSE(m.scan);
  EXPECT_EQ(m.slot_bytes, rt::collector::kTinyBytes);
  return m.slot;
}

TEST(GcTiny, ObjectsUnder16BytesShareABlockAtTheirAlignment) {
  run_gc_test(1, [] {
    // A fresh block first (whatever the P held may be nearly full).
    rt::make<uint64_t>(1);
    rt::make<uint64_t>(2);
    auto* a = rt::make<uint32_t>(7);
    auto* b = rt::make<uint8_t>(8);
    auto* c = rt::make<uint32_t>(9);  // 4-aligned: skips 3 bytes after b
    auto* d = rt::make<uint32_t>(10);
    EXPECT_EQ(*a, 7u);
    EXPECT_EQ(*b, 8u);
    EXPECT_EQ(*c, 9u);
    EXPECT_EQ(*d, 10u);
    uintptr_t ua = reinterpret_cast<uintptr_t>(a);
    if (block_of(a) == ua) {  // a opened a block: the rest follow in it
      EXPECT_EQ(reinterpret_cast<uintptr_t>(b), ua + 4);
      EXPECT_EQ(reinterpret_cast<uintptr_t>(c), ua + 8);
      EXPECT_EQ(reinterpret_cast<uintptr_t>(d), ua + 12);
      EXPECT_EQ(block_of(d), ua);
    }
    for (const void* p : {static_cast<const void*>(a), static_cast<const void*>(b), static_cast<const void*>(c),
                          static_cast<const void*>(d)})
      EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % alignof(uint32_t) == 0 || p == b, true);
    // 16 bytes or more are not tiny.
    struct Sixteen {
      uint64_t x, y;
    };
    auto* s = rt::make<Sixteen>();
    auto* t = rt::make<Sixteen>();
    EXPECT_NE(block_of(s), block_of(t));
  });
}

// Addresses the test keeps on its own stack are masked: the stack is
// scanned conservatively, and a plain address would keep the block alive.
constexpr uintptr_t kMask = 0x5555555555555555ULL;

// is_live for a masked address, without ASan's fake frames (see block_of).
__attribute__((no_sanitize("address"), noinline)) bool live_masked(uintptr_t masked) {
  rt::collector::Managed m;
  return rt::collector::find_managed(masked ^ kMask, &m);
}

// Marking inside the pause (gcstoptheworld): after a concurrent cycle the
// mark worker's parked stack keeps stale words naming what it scanned
// last, which in a heap this small is often this block (see
// gc_slice_test.cc's exact_death_counts).
TEST(GcTiny, OneReachableObjectKeepsItsBlockAndTheBlockDiesWithTheLast) {
  rt::collector::set_debug_modes(1, -1);
  run_gc_test(1, [] {
    rt::Root<Three> keep;
    uintptr_t block = 0;           // masked
    uintptr_t first = 0;           // masked
    bool same_block = false;
    in_frame([&] {
      rt::make<uint64_t>(0);  // start a block
      rt::make<uint64_t>(0);
      Three* f = rt::make<Three>(Three{1, 2, 3});
      Three* last = nullptr;
      for (int i = 1; i < 4; i++) last = rt::make<Three>(Three{static_cast<uint8_t>(i), 0, 0});
      same_block = block_of(last) == block_of(f);
      block = block_of(f) ^ kMask;
      first = reinterpret_cast<uintptr_t>(f) ^ kMask;
      keep = last;  // the last one only
    });
    for (int i = 0; i < 3; i++) full_gc();
    in_frame([&] {
      ASSERT_TRUE(is_live(keep.get()));
      EXPECT_EQ(keep->a, 3);
    });
    if (same_block) {
      // The dead neighbours are kept with it: their bytes are intact. (In
      // a frame of its own: the unmasked address must not stay in ours.)
      in_frame([&] {
        const auto* f = reinterpret_cast<const Three*>(first ^ kMask);
        EXPECT_TRUE(live_masked(first));
        EXPECT_EQ(f->a, 1);
        EXPECT_EQ(f->c, 3);
      });
    }
    keep.reset();
    full_gc_until([&] { return !live_masked(block); }, 6);
    EXPECT_FALSE(live_masked(block)) << "the block outlived all its objects";
  });
  rt::collector::set_debug_modes(0, -1);
}

// Tiny objects made while cycles run back to back, under gccheckmark
// (each cycle re-marked stop-the-world; any reachable object left white
// aborts): objects carved while the collector marks must stay reachable
// through their block, and the values held (on the stack only) stay
// intact. A new cycle starts a new block, as Go's does at sweep
// termination, so no object of this cycle lands in an older, unmarked
// block that only an already-scanned stack might reach.
TEST(GcTiny, ObjectsCarvedWhileMarkingSurvive) {
  rt::collector::set_debug_modes(0, 1);
  run_gc_test(2, [] {
    constexpr int kHeld = 64;
    uint64_t bad = 0;
    with_cycles_back_to_back([&] {
      uint8_t* held[kHeld] = {};
      for (uint32_t i = 0; i < 1'000'000; i++) {
        uint8_t*& slot = held[i % kHeld];
        if (slot && *slot != static_cast<uint8_t>((i - kHeld) * 7)) bad++;
        slot = rt::make<uint8_t>(static_cast<uint8_t>(i * 7));
        if (i % 4 == 0) rt::make<uint16_t>(1);  // garbage between them
      }
      for (uint8_t* p : held) rt::keep_alive(p);
    });
    EXPECT_EQ(bad, 0u);
  });
  rt::collector::set_debug_modes(0, 0);
}

TEST(GcTiny, FinalizerOnATinyObjectRunsOnceItsBlockIsUnreachable) {
  run_gc_test(1, [] {
    static std::atomic<int> ran{0};
    ran = 0;
    in_frame([] {
      rt::make<uint64_t>(0);
      rt::make<uint64_t>(0);
      rt::make<uint32_t>(1);
      auto* inner = rt::make<uint32_t>(2);  // not its block's first byte
      rt::set_finalizer(inner, [](uint32_t* p) {
        if (*p == 2) ran++;
      });
    });
    for (int i = 0; i < 8 && ran.load() == 0; i++) {
      full_gc();
      rt::sleep(std::chrono::milliseconds(2));  // the finalizer goroutine runs it
    }
    EXPECT_EQ(ran.load(), 1);
  });
}

}  // namespace
