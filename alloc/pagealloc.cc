// The page allocator. See pagealloc.h for the algorithm and invariants.
#include "alloc/pagealloc.h"

#include <algorithm>
#include <bit>

#include "alloc/sizeclasses.h"
#include "alloc/sysmem.h"
#include "runtime/fatal.h"

namespace rt::alloc {

using rt::detail::fatal;
using rt::detail::FixedText;

namespace {

constexpr uint64_t kAll = ~uint64_t{0};

// Mask of bits [lo, hi) within one 64-bit word (0 <= lo < hi <= 64).
constexpr uint64_t bit_range(size_t lo, size_t hi) {
  uint64_t upto_hi = hi == 64 ? kAll : ((uint64_t{1} << hi) - 1);
  return upto_hi & ~((uint64_t{1} << lo) - 1);
}

// Merges n children; all cover child_pages pages except the last, which
// covers last_pages (less at the end of a partial tree).
PageAlloc::Summary merge(const PageAlloc::Summary* c, size_t n, uint32_t child_pages,
                         uint32_t last_pages) {
  auto size = [&](size_t k) { return k + 1 == n ? last_pages : child_pages; };
  PageAlloc::Summary s;
  size_t i = 0;
  for (; i < n && c[i].start == size(i); i++) s.start += size(i);
  if (i < n) s.start += c[i].start;
  size_t j = n;
  for (; j > 0 && c[j - 1].end == size(j - 1); j--) s.end += size(j - 1);
  if (j > 0) s.end += c[j - 1].end;
  uint32_t run = 0, best = 0;
  for (size_t k = 0; k < n; k++) {
    best = std::max(best, c[k].max);
    if (c[k].start == size(k)) {
      run += size(k);
    } else {
      best = std::max(best, run + c[k].start);
      run = c[k].end;
    }
  }
  s.max = std::max(best, run);
  return s;
}

}  // namespace

bool PageAlloc::init(uintptr_t base, size_t max_pages) {
  base_ = base;
  max_chunks_ = max_pages / kChunkPages;
  size_t words = max_chunks_ * kChunkWords;
  in_use_ = static_cast<uint64_t*>(sys_alloc_metadata(words * 8));
  released_ = static_cast<uint64_t*>(sys_alloc_metadata(words * 8));
  if (!in_use_ || !released_) return false;
  size_t n = max_chunks_;
  levels_ = 0;
  for (;;) {
    if (levels_ == kMaxLevels) return false;
    level_len_[levels_] = n;
    level_[levels_] = static_cast<Summary*>(sys_alloc_metadata(n * sizeof(Summary)));
    if (!level_[levels_]) return false;
    levels_++;
    if (n == 1) break;
    n = (n + kFanout - 1) / kFanout;
  }
  return true;
}

size_t PageAlloc::node_pages(int level) const {
  size_t pages = kChunkPages;
  for (int i = 0; i < level; i++) pages *= kFanout;
  return pages;
}

void PageAlloc::grow(size_t npages) {
  RT_ASSERT(npages % kChunkPages == 0);
  size_t first = grown_chunks_, count = npages / kChunkPages;
  RT_ASSERT(first + count <= max_chunks_);
  for (size_t c = first; c < first + count; c++) {
    for (size_t w = 0; w < kChunkWords; w++) {
      in_use_[c * kChunkWords + w] = 0;
      released_[c * kChunkWords + w] = kAll;
    }
  }
  grown_chunks_ += count;
  free_pages_ += npages;
  released_pages_ += npages;
  update_chunks(first, first + count - 1);
}

PageAlloc::Summary PageAlloc::leaf_summary(size_t chunk) const {
  const uint64_t* w = in_use_ + chunk * kChunkWords;
  Summary s;
  // start: free pages from the low end.
  size_t i = 0;
  while (i < kChunkWords && w[i] == 0) i++;
  s.start = static_cast<uint32_t>(i * 64 + (i < kChunkWords ? std::countr_zero(w[i]) : 0));
  if (s.start == kChunkPages) return Summary{kChunkPages, kChunkPages, kChunkPages};
  // end: free pages from the high end.
  size_t j = kChunkWords;
  while (j > 0 && w[j - 1] == 0) j--;
  s.end = static_cast<uint32_t>((kChunkWords - j) * 64 + std::countl_zero(w[j - 1]));
  // max: longest run of free pages. Whole words are handled at once; only
  // mixed words are walked bit by bit.
  uint32_t run = 0, best = 0;
  for (size_t k = 0; k < kChunkWords; k++) {
    uint64_t x = w[k];
    if (x == 0) {
      run += 64;
    } else if (x == kAll) {
      best = std::max(best, run);
      run = 0;
    } else {
      for (size_t b = 0; b < 64; b++) {
        if (x >> b & 1) {
          best = std::max(best, run);
          run = 0;
        } else {
          run++;
        }
      }
    }
  }

  s.max = std::max(best, run);
  return s;
}
void PageAlloc::update_chunks(size_t first_chunk, size_t last_chunk) {
  for (size_t c = first_chunk; c <= last_chunk; c++) level_[0][c] = leaf_summary(c);
  size_t lo = first_chunk, hi = last_chunk;
  for (int l = 1; l < levels_; l++) {
    lo /= kFanout;
    hi /= kFanout;
    uint32_t child_pages = static_cast<uint32_t>(node_pages(l - 1));
    for (size_t p = lo; p <= hi; p++) {
      size_t c0 = p * kFanout;
      size_t n = std::min(kFanout, level_len_[l - 1] - c0);
      // The last child of the tree's last node may cover fewer pages.
      size_t total = max_chunks_ * kChunkPages;
      size_t last_first = (c0 + n - 1) * child_pages;
      uint32_t last_pages = static_cast<uint32_t>(std::min<size_t>(child_pages, total - last_first));
      level_[l][p] = merge(level_[l - 1] + c0, n, child_pages, last_pages);
    }
  }
}

void PageAlloc::set_range(size_t first, size_t npages, bool in_use) {
  size_t end = first + npages;
  for (size_t p = first; p < end;) {
    size_t w = p / 64, lo = p % 64;
    size_t hi = std::min<size_t>(64, lo + (end - p));
    uint64_t mask = bit_range(lo, hi);
    if (in_use) {
      RT_ASSERT((in_use_[w] & mask) == 0);
      in_use_[w] |= mask;
    } else {
      if ((in_use_[w] & mask) != mask) {
        FixedText t;
        t << "free of free heap pages at " << reinterpret_cast<void*>(base_ + p * kPageSize);
        fatal(t);
      }
      in_use_[w] &= ~mask;
    }
    p += hi - lo;
  }
}

size_t PageAlloc::count_released_and_clear(size_t first, size_t npages) {
  size_t end = first + npages, count = 0;
  for (size_t p = first; p < end;) {
    size_t w = p / 64, lo = p % 64;
    size_t hi = std::min<size_t>(64, lo + (end - p));
    uint64_t mask = bit_range(lo, hi);
    count += std::popcount(released_[w] & mask);
    released_[w] &= ~mask;
    p += hi - lo;
  }
  return count;
}

size_t PageAlloc::search_leaf(size_t chunk, size_t npages) const {
  const uint64_t* w = in_use_ + chunk * kChunkWords;
  size_t run = 0, run_start = 0;
  for (size_t i = 0; i < kChunkPages; i++) {
    size_t k = i / 64;
    if ((i & 63) == 0 && w[k] == 0) {  // a whole free word
      if (run == 0) run_start = i;
      run += 64;
      if (run >= npages) return chunk * kChunkPages + run_start;
      i += 63;
      continue;
    }
    if (w[k] >> (i & 63) & 1) {
      run = 0;
    } else {
      if (run == 0) run_start = i;
      if (++run >= npages) return chunk * kChunkPages + run_start;
    }
  }
  fatal("page allocator: summary promised a free run the bitmap does not have");
}

size_t PageAlloc::search(int level, size_t idx, size_t npages) const {
  if (level == 0) return search_leaf(idx, npages);
  size_t child_pages = node_pages(level - 1);
  size_t c0 = idx * kFanout;
  size_t n = std::min(kFanout, level_len_[level - 1] - c0);
  size_t run = 0;
  for (size_t k = 0; k < n; k++) {
    const Summary& s = level_[level - 1][c0 + k];
    size_t child_first_page = (c0 + k) * child_pages;
    if (run + s.start >= npages) return child_first_page - run;
    if (s.max >= npages) return search(level - 1, c0 + k, npages);
    run = s.start == child_pages ? run + child_pages : s.end;
  }
  fatal("page allocator: summary promised a free run its children do not have");
}

uintptr_t PageAlloc::alloc(size_t npages, size_t* released_pages) {
  if (npages == 0 || root().max < npages) return 0;
  size_t first = search(levels_ - 1, 0, npages);
  set_range(first, npages, true);
  size_t rel = count_released_and_clear(first, npages);
  free_pages_ -= npages;
  released_pages_ -= rel;
  if (released_pages) *released_pages = rel;
  update_chunks(chunk_of(first), chunk_of(first + npages - 1));
  return base_ + first * kPageSize;
}

void PageAlloc::free(uintptr_t addr, size_t npages, bool released) {
  size_t first = (addr - base_) / kPageSize;
  set_range(first, npages, false);
  if (released) {
    size_t end = first + npages;
    for (size_t p = first; p < end;) {
      size_t w = p / 64, lo = p % 64;
      size_t hi = std::min<size_t>(64, lo + (end - p));
      released_[w] |= bit_range(lo, hi);
      p += hi - lo;
    }
    released_pages_ += npages;
  }
  free_pages_ += npages;
  update_chunks(chunk_of(first), chunk_of(first + npages - 1));
}

PageAlloc::CacheWindow PageAlloc::alloc_window() {
  CacheWindow cw;
  if (root().max == 0) return cw;
  size_t first = search(levels_ - 1, 0, 1);
  size_t w = first / 64;
  cw.base = base_ + w * 64 * kPageSize;
  cw.free = ~in_use_[w];
  cw.released = released_[w] & cw.free;
  in_use_[w] = kAll;
  released_[w] = 0;
  size_t nfree = std::popcount(cw.free);
  free_pages_ -= nfree;
  released_pages_ -= std::popcount(cw.released);
  update_chunks(w / kChunkWords, w / kChunkWords);
  return cw;
}

uintptr_t PageAlloc::take_for_scavenge(size_t max_pages, size_t* npages) {
  // Walk chunks downward from the hint, looking for a free page whose memory
  // is still resident.
  if (scavenge_hint_ == 0 || scavenge_hint_ > grown_chunks_) scavenge_hint_ = grown_chunks_;
  for (size_t pass = 0; pass < 2; pass++) {
    for (size_t c = scavenge_hint_; c > 0; c--) {
      size_t chunk = c - 1;
      if (level_[0][chunk].max == 0) continue;
      for (size_t k = kChunkWords; k > 0; k--) {
        size_t w = chunk * kChunkWords + k - 1;
        uint64_t cand = ~in_use_[w] & ~released_[w];
        if (cand == 0) continue;
        // Take the highest candidate run in this word, up to max_pages.
        size_t hi = 63 - std::countl_zero(cand);
        size_t lo = hi;
        while (lo > 0 && (cand >> (lo - 1) & 1) && hi - lo + 1 < max_pages) lo--;
        size_t first = w * 64 + lo, n = hi - lo + 1;
        set_range(first, n, true);
        free_pages_ -= n;
        update_chunks(chunk, chunk);
        scavenge_hint_ = c;
        *npages = n;
        return base_ + first * kPageSize;
      }
    }
    scavenge_hint_ = grown_chunks_;  // wrap around once
  }
  *npages = 0;
  return 0;
}

bool PageAlloc::page_in_use(uintptr_t addr) const {
  size_t p = (addr - base_) / kPageSize;
  if (p >= grown_chunks_ * kChunkPages) return false;
  return in_use_[p / 64] >> (p % 64) & 1;
}

}  // namespace rt::alloc
