// Per-P page cache. See pagecache.h.
#include "alloc/pagecache.h"

#include <bit>

#include "alloc/mheap.h"

namespace rt::alloc {

uintptr_t PageCache::alloc(size_t npages, size_t* released) {
  if (free_ == 0) {
    PageAlloc::CacheWindow cw = MHeap::get().alloc_window();
    if (!cw.base) return 0;
    base_ = cw.base;
    free_ = cw.free;
    released_ = cw.released;
  }
  // Find npages consecutive free pages: m has bit i set iff pages
  // i .. i+npages-1 are all free.
  uint64_t m = free_;
  for (size_t k = 1; k < npages && m; k++) m &= free_ >> k;
  if (m == 0) return 0;
  size_t i = std::countr_zero(m);
  uint64_t mask = (npages == 64 ? ~uint64_t{0} : ((uint64_t{1} << npages) - 1)) << i;
  *released = std::popcount(released_ & mask);
  free_ &= ~mask;
  released_ &= ~mask;
  return base_ + i * kPageSize;
}

void PageCache::flush() {
  if (free_ != 0) MHeap::get().free_window(base_, free_, released_);
  base_ = 0;
  free_ = released_ = 0;
}

}  // namespace rt::alloc
