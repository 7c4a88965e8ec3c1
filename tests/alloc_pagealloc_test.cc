// The page allocator on its own: first-fit order, runs that cross chunk
// boundaries, fragmentation and coalescing, the summary tree against a
// brute-force bitmap model under random alloc/free sequences, released-page
// accounting, page-cache windows and scavenge takes.
//
// PageAlloc only keeps metadata about the pages it manages and never reads
// or writes the pages themselves, so these tests hand it fake addresses.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <random>
#include <vector>

#include "alloc/pagealloc.h"
#include "alloc/sizeclasses.h"

namespace rt::alloc {
namespace {

constexpr uintptr_t kFakeBase = uintptr_t{0x5a} << 40;  // never dereferenced

uintptr_t page_addr(size_t page) { return kFakeBase + page * kPageSize; }
size_t page_index(uintptr_t addr) { return (addr - kFakeBase) / kPageSize; }

// A PageAlloc with `grown_chunks` of `max_chunks` chunks made free.
struct Heap {
  PageAlloc pa;
  Heap(size_t max_chunks, size_t grown_chunks) {
    EXPECT_TRUE(pa.init(kFakeBase, max_chunks * kChunkPages));
    if (grown_chunks) pa.grow(grown_chunks * kChunkPages);
  }
  size_t alloc(size_t n, size_t* rel = nullptr) {
    size_t r = 0;
    uintptr_t a = pa.alloc(n, &r);
    if (rel) *rel = r;
    return a == 0 ? SIZE_MAX : page_index(a);
  }
  void free(size_t page, size_t n, bool released = false) {
    pa.free(page_addr(page), n, released);
  }
};

// A plain bitmap with first fit by linear scan: the reference model.
struct Model {
  std::vector<bool> used;  // true = in use (pages past the grown prefix are "used")
  std::vector<bool> released;
  size_t grown = 0;
  explicit Model(size_t max_pages) : used(max_pages, true), released(max_pages, false) {}
  void grow(size_t n) {
    for (size_t p = grown; p < grown + n; p++) {
      used[p] = false;
      released[p] = true;
    }
    grown += n;
  }
  size_t first_fit(size_t n) const {
    size_t run = 0;
    for (size_t p = 0; p < grown; p++) {
      if (used[p]) {
        run = 0;
        continue;
      }
      if (++run == n) return p + 1 - n;
    }
    return SIZE_MAX;
  }
  size_t alloc(size_t n, size_t* rel) {
    size_t p0 = first_fit(n);
    if (p0 == SIZE_MAX) return p0;
    *rel = 0;
    for (size_t p = p0; p < p0 + n; p++) {
      used[p] = true;
      *rel += released[p];
      released[p] = false;
    }
    return p0;
  }
  void free(size_t p0, size_t n, bool rel) {
    for (size_t p = p0; p < p0 + n; p++) {
      used[p] = false;
      released[p] = rel;
    }
  }
  size_t free_count() const {
    size_t n = 0;
    for (size_t p = 0; p < grown; p++) n += !used[p];
    return n;
  }
  size_t released_count() const {
    size_t n = 0;
    for (size_t p = 0; p < grown; p++) n += released[p];
    return n;
  }
  PageAlloc::Summary summary() const {
    PageAlloc::Summary s;
    size_t total = used.size();
    size_t p = 0;
    while (p < total && !used[p]) p++;
    s.start = static_cast<uint32_t>(p);
    p = total;
    while (p > 0 && !used[p - 1]) p--;
    s.end = static_cast<uint32_t>(total - p);
    size_t run = 0, best = 0;
    for (size_t q = 0; q < total; q++) {
      run = used[q] ? 0 : run + 1;
      best = std::max(best, run);
    }
    s.max = static_cast<uint32_t>(best);
    return s;
  }
};

TEST(PageAlloc, NothingFreeBeforeGrow) {
  Heap h(4, 0);
  EXPECT_EQ(h.pa.free_pages(), 0u);
  EXPECT_EQ(h.pa.grown_pages(), 0u);
  EXPECT_EQ(h.alloc(1), SIZE_MAX);
  EXPECT_EQ(h.pa.root().max, 0u);
  h.pa.grow(kChunkPages);
  EXPECT_EQ(h.pa.grown_pages(), kChunkPages);
  EXPECT_EQ(h.pa.free_pages(), kChunkPages);
  EXPECT_EQ(h.pa.root().max, kChunkPages);
  EXPECT_EQ(h.alloc(0), SIZE_MAX);  // zero pages is not a request
  EXPECT_EQ(h.alloc(kChunkPages + 1), SIZE_MAX);
  EXPECT_EQ(h.alloc(kChunkPages), 0u);
  EXPECT_EQ(h.pa.free_pages(), 0u);
}

TEST(PageAlloc, FirstFitOrder) {
  Heap h(4, 4);
  EXPECT_EQ(h.alloc(1), 0u);
  EXPECT_EQ(h.alloc(1), 1u);
  EXPECT_EQ(h.alloc(3), 2u);
  EXPECT_EQ(h.alloc(2), 5u);
  EXPECT_EQ(h.pa.free_pages(), 4 * kChunkPages - 7);
  h.free(1, 1);
  h.free(5, 2);
  // A one-page hole at 1 and a two-page hole at 5: first fit takes the lowest
  // hole that is big enough.
  EXPECT_EQ(h.alloc(2), 5u);
  EXPECT_EQ(h.alloc(1), 1u);
  EXPECT_EQ(h.alloc(1), 7u);
  EXPECT_TRUE(h.pa.page_in_use(page_addr(0)));
  EXPECT_TRUE(h.pa.page_in_use(page_addr(7)));
  EXPECT_FALSE(h.pa.page_in_use(page_addr(8)));
  EXPECT_FALSE(h.pa.page_in_use(page_addr(4 * kChunkPages)));  // past the grown prefix
}

TEST(PageAlloc, RunsSpanningChunkBoundaries) {
  Heap h(16, 16);
  EXPECT_EQ(h.alloc(700), 0u);     // chunks 0-1
  EXPECT_EQ(h.alloc(5000), 700u);  // chunks 1-11
  EXPECT_EQ(h.alloc(400), 5700u);  // crosses into chunk 11 -> 12
  EXPECT_EQ(h.pa.free_pages(), 16 * kChunkPages - 6100);
  PageAlloc::Summary r = h.pa.root();
  EXPECT_EQ(r.start, 0u);
  EXPECT_EQ(r.end, 16 * kChunkPages - 6100);
  EXPECT_EQ(r.max, 16 * kChunkPages - 6100);
  for (size_t p : {size_t{0}, size_t{511}, size_t{512}, size_t{699}, size_t{700}, size_t{5699},
                   size_t{6099}})
    EXPECT_TRUE(h.pa.page_in_use(page_addr(p))) << p;
  EXPECT_FALSE(h.pa.page_in_use(page_addr(6100)));
  // Free the middle run: its hole starts inside chunk 1 and ends in chunk 11.
  h.free(700, 5000);
  EXPECT_EQ(h.pa.root().start, 0u);
  EXPECT_EQ(h.pa.root().max, 5000u);
  EXPECT_EQ(h.pa.root().end, 16 * kChunkPages - 6100);
  EXPECT_EQ(h.alloc(5000), 700u);
  h.free(700, 5000);
  // Neither the hole nor the tail holds 5001 pages.
  EXPECT_EQ(h.alloc(5001), SIZE_MAX);
  // Smaller runs fill the hole first, then the tail.
  EXPECT_EQ(h.alloc(2000), 700u);
  EXPECT_EQ(h.alloc(3001), SIZE_MAX);
  EXPECT_EQ(h.alloc(3000), 2700u);
  EXPECT_EQ(h.alloc(2092), 6100u);
  EXPECT_EQ(h.pa.free_pages(), 0u);
  // The whole heap in one request, once everything is back.
  h.free(0, 700);
  h.free(2700, 3000);
  h.free(700, 2000);
  h.free(6100, 2092);
  h.free(5700, 400);
  EXPECT_EQ(h.pa.free_pages(), 16 * kChunkPages);
  EXPECT_EQ(h.pa.root().max, 16 * kChunkPages);
  EXPECT_EQ(h.alloc(16 * kChunkPages), 0u);
}

TEST(PageAlloc, HoleStraddlingChunkBoundary) {
  Heap h(2, 2);
  for (size_t p = 0; p < 2 * kChunkPages; p++) ASSERT_EQ(h.alloc(1), p);
  EXPECT_EQ(h.alloc(1), SIZE_MAX);
  EXPECT_EQ(h.pa.root().max, 0u);
  // Pages 500..530 (31 pages) straddle the boundary between chunk 0 and 1.
  for (size_t p = 500; p <= 530; p++) h.free(p, 1);
  EXPECT_EQ(h.pa.root().max, 31u);
  EXPECT_EQ(h.alloc(32), SIZE_MAX);
  EXPECT_EQ(h.alloc(31), 500u);
}

TEST(PageAlloc, FragmentationThenCoalescing) {
  Heap h(8, 8);
  std::vector<size_t> runs;
  for (int i = 0; i < 64; i++) runs.push_back(h.alloc(64));
  for (int i = 0; i < 64; i++) ASSERT_EQ(runs[i], size_t(i) * 64);
  EXPECT_EQ(h.pa.free_pages(), 0u);
  // Free every other run: the heap is full of 64-page holes.
  for (int i = 0; i < 64; i += 2) h.free(runs[i], 64);
  EXPECT_EQ(h.pa.free_pages(), 32 * 64u);
  EXPECT_EQ(h.pa.root().max, 64u);
  EXPECT_EQ(h.pa.root().start, 64u);
  EXPECT_EQ(h.alloc(65), SIZE_MAX);
  EXPECT_EQ(h.alloc(64), 0u);
  h.free(0, 64);
  // Free the rest: holes merge across words and chunks into one run.
  for (int i = 1; i < 64; i += 2) h.free(runs[i], 64);
  EXPECT_EQ(h.pa.free_pages(), 8 * kChunkPages);
  PageAlloc::Summary r = h.pa.root();
  EXPECT_EQ(r.start, 8 * kChunkPages);
  EXPECT_EQ(r.max, 8 * kChunkPages);
  EXPECT_EQ(r.end, 8 * kChunkPages);
  EXPECT_EQ(h.alloc(8 * kChunkPages), 0u);
}

// Random allocs and frees, compared step by step with the bitmap model:
// same first-fit answer, same released count, same counters and summary.
void random_against_model(size_t max_chunks, size_t grown_chunks, size_t grow_later,
                          uint32_t seed, int steps, bool check_end = true) {
  Heap h(max_chunks, grown_chunks);
  Model m(max_chunks * kChunkPages);
  m.grow(grown_chunks * kChunkPages);
  std::mt19937 rng(seed);
  struct Run {
    size_t page, n;
  };
  std::vector<Run> live;
  for (int step = 0; step < steps; step++) {
    if (step == steps / 2 && grow_later) {
      h.pa.grow(grow_later * kChunkPages);
      m.grow(grow_later * kChunkPages);
    }
    bool do_alloc = live.empty() || rng() % 100 < 55;
    if (do_alloc) {
      size_t n;
      uint32_t k = rng() % 100;
      if (k < 60) {
        n = 1 + rng() % 8;
      } else if (k < 90) {
        n = 1 + rng() % 128;
      } else {
        n = 1 + rng() % 1500;
      }
      size_t rel_h = 0, rel_m = 0;
      size_t got = h.alloc(n, &rel_h);
      size_t want = m.alloc(n, &rel_m);
      ASSERT_EQ(got, want) << "step " << step << " alloc " << n;
      if (got != SIZE_MAX) {
        ASSERT_EQ(rel_h, rel_m) << "step " << step;
        live.push_back({got, n});
      }
    } else {
      size_t i = rng() % live.size();
      Run r = live[i];
      live[i] = live.back();
      live.pop_back();
      bool rel = rng() % 4 == 0;
      h.free(r.page, r.n, rel);
      m.free(r.page, r.n, rel);
    }
    ASSERT_EQ(h.pa.free_pages(), m.free_count()) << "step " << step;
    ASSERT_EQ(h.pa.released_pages(), m.released_count()) << "step " << step;
    if (step % 16 == 0) {
      PageAlloc::Summary got = h.pa.root(), want = m.summary();
      ASSERT_EQ(got.start, want.start) << "step " << step;
      ASSERT_EQ(got.max, want.max) << "step " << step;
      if (check_end) {
        ASSERT_EQ(got.end, want.end) << "step " << step;
      }
    }
  }
}

TEST(PageAlloc, RandomAgainstModelOneLevel) { random_against_model(1, 1, 0, 1, 3000); }
TEST(PageAlloc, RandomAgainstModelTwoLevels) { random_against_model(8, 6, 2, 2, 4000); }
TEST(PageAlloc, RandomAgainstModelThreeLevels) { random_against_model(24, 16, 4, 3, 4000); }

TEST(PageAlloc, RandomAgainstModelPartialTree) {
  // 74 chunks: the last node of every level has fewer than 8 children.
  // Allocation answers, start and max must match; `end` is checked by
  // PartialTreeFullyFreeSummary.
  random_against_model(74, 70, 4, 4, 3000, /*check_end=*/false);
}

TEST(PageAlloc, PartialTreeFullyFreeSummary) {
  // Root summary of a tree whose last nodes are partial, with the whole
  // range free: one run covering everything.
  Heap h(74, 74);
  PageAlloc::Summary r = h.pa.root();
  EXPECT_EQ(r.start, 74 * kChunkPages);
  EXPECT_EQ(r.max, 74 * kChunkPages);
  EXPECT_EQ(r.end, 74 * kChunkPages);
}

TEST(PageAlloc, ReleasedAccounting) {
  Heap h(4, 2);
  // Fresh pages count as released.
  EXPECT_EQ(h.pa.free_pages(), 2 * kChunkPages);
  EXPECT_EQ(h.pa.released_pages(), 2 * kChunkPages);
  size_t rel = 99;
  EXPECT_EQ(h.alloc(10, &rel), 0u);
  EXPECT_EQ(rel, 10u);
  EXPECT_EQ(h.pa.released_pages(), 2 * kChunkPages - 10);
  // Freed without release: reused pages report zero released.
  h.free(0, 10, false);
  EXPECT_EQ(h.pa.released_pages(), 2 * kChunkPages - 10);
  EXPECT_EQ(h.pa.free_pages(), 2 * kChunkPages);
  EXPECT_EQ(h.alloc(10, &rel), 0u);
  EXPECT_EQ(rel, 0u);
  // Freed as released.
  h.free(0, 10, true);
  EXPECT_EQ(h.pa.released_pages(), 2 * kChunkPages);
  EXPECT_EQ(h.alloc(20, &rel), 0u);
  EXPECT_EQ(rel, 20u);
  // A mix: 5 released and 15 not.
  h.free(0, 5, true);
  h.free(5, 15, false);
  EXPECT_EQ(h.pa.released_pages(), 2 * kChunkPages - 20 + 5);
  EXPECT_EQ(h.alloc(20, &rel), 0u);
  EXPECT_EQ(rel, 5u);
  // A run straddling old (unreleased) and fresh (released) pages.
  h.free(0, 20, false);
  EXPECT_EQ(h.alloc(30, &rel), 0u);
  EXPECT_EQ(rel, 10u);
  // Growing adds released pages.
  h.pa.grow(kChunkPages);
  EXPECT_EQ(h.pa.released_pages(), 3 * kChunkPages - 30);
  EXPECT_EQ(h.pa.free_pages(), 3 * kChunkPages - 30);
}

TEST(PageAlloc, AllocWindowTakesTheFirstFreeWord) {
  Heap h(2, 1);
  EXPECT_EQ(h.alloc(3), 0u);
  size_t free_before = h.pa.free_pages();
  PageAlloc::CacheWindow cw = h.pa.alloc_window();
  EXPECT_EQ(cw.base, page_addr(0));
  EXPECT_EQ(cw.free, ~uint64_t{0} << 3);
  EXPECT_EQ(cw.released, cw.free);  // fresh pages
  EXPECT_EQ(h.pa.free_pages(), free_before - 61);
  EXPECT_EQ(h.pa.released_pages(), free_before - 61);
  for (size_t p = 0; p < 64; p++) EXPECT_TRUE(h.pa.page_in_use(page_addr(p)));
  // The window's pages are taken: the next allocation goes past it.
  EXPECT_EQ(h.alloc(1), 64u);
  // Give the window back the way the heap does, run by run.
  h.free(3, 61, true);
  EXPECT_EQ(h.pa.free_pages(), free_before - 1);
  EXPECT_EQ(h.alloc(61), 3u);
}

TEST(PageAlloc, AllocWindowMixedWord) {
  Heap h(2, 1);
  EXPECT_EQ(h.alloc(70), 0u);  // pages 0..69: word 0 full, word 1 starts at 70
  EXPECT_EQ(h.alloc(4), 70u);  // pages 70..73
  h.free(70, 2, false);        // 70, 71: free, resident
  // Word 1 now: 64..69 in use, 70..71 free resident, 72..73 in use,
  // 74..127 free and released.
  PageAlloc::CacheWindow cw = h.pa.alloc_window();
  EXPECT_EQ(cw.base, page_addr(64));
  uint64_t want_free = (uint64_t{3} << 6) | (~uint64_t{0} << 10);
  EXPECT_EQ(cw.free, want_free);
  EXPECT_EQ(cw.released, ~uint64_t{0} << 10);
  EXPECT_EQ(cw.released & ~cw.free, 0u);
  EXPECT_EQ(h.alloc(1), 128u);
}

TEST(PageAlloc, AllocWindowOnFullHeap) {
  Heap h(1, 1);
  EXPECT_EQ(h.alloc(kChunkPages), 0u);
  PageAlloc::CacheWindow cw = h.pa.alloc_window();
  EXPECT_EQ(cw.base, 0u);
  EXPECT_EQ(cw.free, 0u);
  EXPECT_EQ(h.pa.free_pages(), 0u);
}

TEST(PageAlloc, TakeForScavengeOnlyFreeUnreleasedPages) {
  Heap h(4, 2);
  size_t n = 123;
  // Everything free is still released from growth: nothing to take.
  EXPECT_EQ(h.pa.take_for_scavenge(16, &n), 0u);
  EXPECT_EQ(n, 0u);
  // Pages 0..99 become free and resident; 100..139 stay in use.
  EXPECT_EQ(h.alloc(140), 0u);
  h.free(0, 100, false);
  std::vector<bool> seen(2 * kChunkPages, false);
  size_t taken = 0;
  uintptr_t prev = UINTPTR_MAX;
  for (int i = 0; i < 100; i++) {
    uintptr_t a = h.pa.take_for_scavenge(16, &n);
    if (a == 0) break;
    EXPECT_GE(n, 1u);
    EXPECT_LE(n, 16u);
    EXPECT_LT(a, prev) << "highest addresses first";
    prev = a;
    size_t p0 = page_index(a);
    // A run never crosses a 64-page bitmap word.
    EXPECT_EQ(p0 / 64, (p0 + n - 1) / 64);
    for (size_t p = p0; p < p0 + n; p++) {
      EXPECT_LT(p, 100u) << "took a page that was in use or released";
      EXPECT_FALSE(seen[p]) << "took page " << p << " twice";
      seen[p] = true;
      EXPECT_TRUE(h.pa.page_in_use(page_addr(p))) << "taken pages are marked in use";
    }
    taken += n;
    h.pa.free(a, n, /*released=*/true);
  }
  EXPECT_EQ(taken, 100u);
  EXPECT_EQ(h.pa.take_for_scavenge(16, &n), 0u);
  EXPECT_EQ(h.pa.released_pages(), h.pa.free_pages());
  EXPECT_EQ(h.pa.free_pages(), 2 * kChunkPages - 40);
  // The first take from the top of pages 0..99 is 84..99.
  Heap g(1, 1);
  EXPECT_EQ(g.alloc(100), 0u);
  g.free(0, 100, false);
  uintptr_t a = g.pa.take_for_scavenge(16, &n);
  EXPECT_EQ(a, page_addr(84));
  EXPECT_EQ(n, 16u);
  EXPECT_EQ(g.pa.free_pages(), kChunkPages - 16);
  // Taken pages cannot be allocated while the caller releases them.
  EXPECT_EQ(g.alloc(100), 100u);
  g.pa.free(a, n, true);
  size_t rel = 0;
  EXPECT_EQ(g.alloc(84, &rel), 0u);
  EXPECT_EQ(rel, 0u);
  EXPECT_EQ(g.alloc(16, &rel), 84u);
  EXPECT_EQ(rel, 16u);
}

TEST(PageAlloc, TakeForScavengeAcrossChunks) {
  // Resident free pages in several chunks are all found.
  Heap h(4, 4);
  EXPECT_EQ(h.alloc(4 * kChunkPages), 0u);
  h.free(10, 5, false);
  h.free(kChunkPages + 300, 3, false);
  h.free(3 * kChunkPages + 511, 1, false);
  size_t n = 0, total = 0;
  std::vector<size_t> firsts;
  while (uintptr_t a = h.pa.take_for_scavenge(64, &n)) {
    firsts.push_back(page_index(a));
    total += n;
    h.pa.free(a, n, true);
  }
  EXPECT_EQ(total, 9u);
  EXPECT_EQ(firsts, (std::vector<size_t>{3 * kChunkPages + 511, kChunkPages + 300, 10}));
}

TEST(PageAllocDeathTest, FreeOfFreePagesIsFatal) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        Heap h(1, 1);
        size_t p = h.alloc(4);
        h.free(p, 4);
        h.free(p, 4);
      },
      testing::ExitedWithCode(2), "fatal error: free of free heap pages");
}

}  // namespace
}  // namespace rt::alloc
