// mheap: the page heap under every mcache and mcentral.
//
// The heap is one contiguous reservation of address space (up to 1 TiB,
// halved until the kernel agrees), mapped read/write in 64 MiB arenas as it
// grows, lowest addresses first. Contiguity makes address -> span an O(1)
// table lookup: spans_[(p - base) >> kPageShift]. That table, like the page
// allocator's bitmaps, is reserved for the whole range with MAP_NORESERVE,
// so only the parts covering grown arenas ever become resident.
//
// Spans come from the page allocator (pagealloc.h) under the heap lock, or,
// for spans of fewer than 16 pages, from the caller's page cache
// (pagecache.h) without it, as in Go's mheap.allocSpan.
//
// Lock order: an mcentral's lock may be held when taking the heap lock,
// never the reverse.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "alloc/mcentral.h"
#include "alloc/mspan.h"
#include "alloc/pagealloc.h"
#include "alloc/sizeclasses.h"
#include "runtime/lock.h"

namespace rt::alloc {

inline constexpr size_t kArenaBytes = size_t{64} << 20;
inline constexpr size_t kArenaPages = kArenaBytes / kPageSize;

// Where the heap is, in globals of their own so the hot paths (explicit
// free, find_object) reach the span table in two loads. Set once by the
// heap's init (base, spans) and grown monotonically under the heap lock.
struct HeapIndex {
  uintptr_t base = 0;
  std::atomic<MSpan*>* spans = nullptr;
  std::atomic<size_t> grown{0};  // bytes of the reservation mapped so far
};
inline HeapIndex g_heap_index;

class MHeap {
 public:
  // The process's heap, set up on first use and never destroyed (objects may
  // be freed by thread-exit handlers after static destructors ran).
  static MHeap& get() {
    MHeap* h = instance_.load(std::memory_order_acquire);
    return h ? *h : init_slow();
  }
  static bool initialized() { return instance_.load(std::memory_order_acquire) != nullptr; }

  // Allocates a span of `npages` pages for span class `sc`, set up and
  // published. `cache` (may be null) supplies a page cache and span structs.
  // Returns nullptr when the reservation is exhausted.
  MSpan* alloc_span(size_t npages, SpanClass sc, Cache* cache);
  // Returns an in-use span's pages to the page allocator (deferred while a
  // span walk is on).
  void free_span(MSpan* s);

  // A walk over every in-use span by a thread that owns none of them (the
  // collector's sweeper): between begin and end no span struct is freed or
  // reused and no bitmap released; spans freed meanwhile wait and go back
  // at the last end_span_walk. Dekker handshake, seq_cst on both sides:
  // free_span counts itself in flight, then checks for walkers; a walker
  // counts itself, then waits until no release is in flight.
  void begin_span_walk();
  void end_span_walk();

  // The in-use span holding address p, or nullptr. Safe from any thread,
  // and before the heap exists (the index is then empty): static, so a
  // lookup never sets the heap up.
  static MSpan* span_of(uintptr_t p) {
    uintptr_t off = p - g_heap_index.base;
    if (off >= g_heap_index.grown.load(std::memory_order_acquire)) return nullptr;
    MSpan* s = g_heap_index.spans[off >> kPageShift].load(std::memory_order_acquire);
    if (!s || s->state.load(std::memory_order_acquire) != SpanState::kInUse) return nullptr;
    if (p < s->start || p >= s->start + s->npages * kPageSize) return nullptr;
    return s;
  }
  bool contains(uintptr_t p) const { return p - base_ < reserved_bytes_; }

  MCentral& central(SpanClass sc) { return central_[sc]; }
  uint32_t sweepgen() const { return sweepgen_.load(std::memory_order_acquire); }

  // Page cache support (pagecache.h): a 64-page window, and giving one back.
  PageAlloc::CacheWindow alloc_window();
  void free_window(uintptr_t base, uint64_t free, uint64_t released);

  // Span structs: from a type-stable pool (never unmapped, so a racing
  // lookup never reads freed memory).
  MSpan* alloc_span_struct();
  void free_span_struct(MSpan* s);

  // Returns spans emptied by explicit frees, of every class, to the pages.
  size_t free_empty_spans();

  // Scavenging: releases up to `max_bytes` of free resident pages to the OS,
  // in batches, without holding the lock across madvise. Returns bytes.
  size_t scavenge(size_t max_bytes);

  struct PageStats {
    size_t sys = 0;       // bytes of heap mapped read/write
    size_t inuse = 0;     // bytes in in-use spans
    size_t free = 0;      // bytes free in the page allocator
    size_t released = 0;  // free bytes released to the OS
    size_t cached = 0;    // free bytes held by page caches
    size_t cached_released = 0;  // ... of which released to the OS
    size_t reserved = 0;  // bytes of address space reserved
    size_t span_meta = 0; // bytes mapped for span structs (MemStats.sys)
  };
  PageStats page_stats() const;
  uintptr_t base() const { return base_; }

 private:
  MHeap() = default;
  static MHeap& init_slow();
  bool init();
  bool grow_locked(size_t npages);
  void setup_span(MSpan* s, uintptr_t base, size_t npages, SpanClass sc, bool needzero);
  void publish_span(MSpan* s);

  static std::atomic<MHeap*> instance_;

  // Constant after init.
  uintptr_t base_ = 0;
  size_t reserved_bytes_ = 0;
  std::atomic<MSpan*>* spans_ = nullptr;  // one entry per reserved page
  std::atomic<size_t>& grown_bytes_ = g_heap_index.grown;  // written under lock_

  mutable rt::detail::Lock lock_;
  PageAlloc pages_;               // guarded by lock_
  MSpan* span_pool_ = nullptr;    // free span structs; guarded by lock_
  size_t span_meta_bytes_ = 0;    // span struct slabs mapped; guarded by lock_
  std::atomic<size_t> inuse_pages_{0};
  std::atomic<size_t> cached_pages_{0};           // free pages in page caches
  std::atomic<size_t> cached_released_pages_{0};  // ... released to the OS
  std::atomic<uint32_t> sweepgen_{0};
  std::atomic<uint32_t> span_walkers_{0};
  std::atomic<uint32_t> releases_inflight_{0};
  MSpan* deferred_free_ = nullptr;  // released during a walk; guarded by lock_
  MCentral central_[kNumSpanClasses];
};

}  // namespace rt::alloc
