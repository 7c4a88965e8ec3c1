// The page allocator: which 8 KiB pages of the heap are free, and which free
// pages have been released to the OS.
//
// Go's design (mpagealloc.go), scaled to one contiguous heap reservation:
// - a bitmap with one bit per page (1 = in use), sharded into chunks of 512
//   pages (4 MiB); a second bitmap marks free pages whose memory was released
//   (scavenged) to the OS;
// - over the chunks, a radix tree of summaries with fan-out 8. A summary is
//   (start, max, end): the free run at the low end of its range, the longest
//   free run anywhere in it, and the free run at the high end. A parent's
//   summary is computed from its 8 children's.
// Allocation is address-ordered first fit: descend from the root, scanning 8
// children per level, carrying the free run that reaches each child's low
// edge so runs that span children (and chunks) are found; inside a leaf
// chunk the bitmap is scanned. Cost: O(8 * levels + 512 / 64) per search, and
// an update touches one path per chunk changed.
//
// Invariants (all state is guarded by the heap lock; see mheap.h):
// - Pages past the grown prefix are never free: their summaries are zero.
// - released_ bit set => page is free (cleared when the page is allocated).
// - free_pages_ and released_pages_ count exactly the bits they name.
#pragma once

#include <cstddef>
#include <cstdint>

namespace rt::alloc {

inline constexpr size_t kChunkPages = 512;  // one bitmap chunk: 4 MiB of heap
inline constexpr size_t kChunkWords = kChunkPages / 64;

class PageAlloc {
 public:
  struct Summary {
    uint32_t start = 0, max = 0, end = 0;
  };

  // Takes charge of the page range [base, base + max_pages pages). Nothing is
  // free until grow(). max_pages must be a multiple of kChunkPages. Returns
  // false if metadata could not be mapped.
  bool init(uintptr_t base, size_t max_pages);
  // Makes the next `npages` pages (a multiple of kChunkPages) past the grown
  // prefix free. Fresh memory is not resident, so it counts as released.
  void grow(size_t npages);

  // First fit of `npages` contiguous free pages. Returns their address and
  // how many of them were released to the OS (they read as zero), or 0.
  uintptr_t alloc(size_t npages, size_t* released_pages);
  // Returns in-use pages to the free pool; `released` says whether their
  // memory was handed back to the OS first.
  void free(uintptr_t addr, size_t npages, bool released = false);

  // A 64-page aligned window for a per-P page cache: the window of the
  // first free page, with all of its free pages taken (marked in use here).
  struct CacheWindow {
    uintptr_t base = 0;    // 0 if the heap has no free page
    uint64_t free = 0;     // bit i: page i of the window is now the cache's
    uint64_t released = 0; // bit i: page i was released to the OS
  };
  CacheWindow alloc_window();

  // Finds up to `max_pages` contiguous free, unreleased pages, highest
  // address first, and marks them in use so nobody allocates them while the
  // caller releases their memory without the lock; the caller then returns
  // them with free(addr, n, /*released=*/true). Returns 0 if none.
  uintptr_t take_for_scavenge(size_t max_pages, size_t* npages);

  bool page_in_use(uintptr_t addr) const;
  size_t free_pages() const { return free_pages_; }
  size_t released_pages() const { return released_pages_; }
  size_t grown_pages() const { return grown_chunks_ * kChunkPages; }
  Summary root() const { return level_[levels_ - 1][0]; }

 private:
  static constexpr int kMaxLevels = 12;
  static constexpr size_t kFanout = 8;

  size_t chunk_of(size_t page) const { return page / kChunkPages; }
  void set_range(size_t first_page, size_t npages, bool in_use);
  size_t count_released_and_clear(size_t first_page, size_t npages);
  void update_chunks(size_t first_chunk, size_t last_chunk);
  Summary leaf_summary(size_t chunk) const;
  size_t node_pages(int level) const;
  // Returns the page index of the first fit inside node (level, idx).
  size_t search(int level, size_t idx, size_t npages) const;
  size_t search_leaf(size_t chunk, size_t npages) const;

  uintptr_t base_ = 0;
  size_t max_chunks_ = 0;
  size_t grown_chunks_ = 0;
  uint64_t* in_use_ = nullptr;    // 1 bit per page, 1 = in use
  uint64_t* released_ = nullptr;  // 1 bit per page, 1 = free and released
  int levels_ = 0;
  size_t level_len_[kMaxLevels] = {};
  Summary* level_[kMaxLevels] = {};  // level 0: one summary per chunk
  size_t free_pages_ = 0;
  size_t released_pages_ = 0;
  size_t scavenge_hint_ = 0;  // chunk index + 1 to start the downward scavenge search
};

}  // namespace rt::alloc
