// mheap: see mheap.h.
#include "alloc/mheap.h"

#include <sched.h>

#include <bit>
#include <new>

#include "alloc/mcache.h"
#include "alloc/poison.h"
#include "alloc/scavenger.h"
#include "alloc/sysmem.h"
#include "runtime/fatal.h"
#include "runtime/meta_alloc.h"

namespace rt::alloc {

using rt::detail::LockGuard;

std::atomic<MHeap*> MHeap::instance_{nullptr};

namespace {
rt::detail::Lock g_init_lock;
alignas(MHeap) unsigned char g_heap_storage[sizeof(MHeap)];
constexpr size_t kMaxReserve = size_t{1} << 40;  // 1 TiB
constexpr size_t kMinReserve = size_t{4} << 30;  // 4 GiB
constexpr size_t kSpanSlab = 64 << 10;
}  // namespace

MHeap& MHeap::init_slow() {
  LockGuard g(g_init_lock);
  if (MHeap* h = instance_.load(std::memory_order_acquire)) return *h;
  MHeap* h = new (g_heap_storage) MHeap();
  if (!h->init())
    rt::detail::fatal("runtime: out of memory: cannot reserve address space for the heap (4 GiB at least)");
  instance_.store(h, std::memory_order_release);
  start_scavenger();
  return *h;
}

bool MHeap::init() {
  for (size_t size = kMaxReserve; size >= kMinReserve; size /= 2) {
    void* p = sys_reserve(size, kArenaBytes);
    if (p) {
      base_ = reinterpret_cast<uintptr_t>(p);
      reserved_bytes_ = size;
      break;
    }
  }
  if (!base_) return false;
  size_t pages = reserved_bytes_ / kPageSize;
  spans_ = static_cast<std::atomic<MSpan*>*>(sys_alloc_metadata(pages * sizeof(std::atomic<MSpan*>)));
  if (!spans_ || !pages_.init(base_, pages)) return false;
  g_heap_index.base = base_;
  g_heap_index.spans = spans_;
  for (size_t i = 0; i < kNumSpanClasses; i++) central_[i].init(static_cast<SpanClass>(i));
  return true;
}

bool MHeap::grow_locked(size_t npages) {
  size_t bytes = (npages * kPageSize + kArenaBytes - 1) & ~(kArenaBytes - 1);
  size_t grown = grown_bytes_.load(std::memory_order_relaxed);
  if (bytes < npages || grown + bytes > reserved_bytes_ || grown + bytes < grown) return false;
  if (!sys_map(reinterpret_cast<void*>(base_ + grown), bytes)) return false;
  pages_.grow(bytes / kPageSize);
  if (grown == 0) {
    // The heap's first page is never handed out: the base address is a
    // common value in the runtime's own frames, and the collector scans
    // stacks conservatively, so an object there would be kept alive by
    // stale copies of the base for good.
    size_t released = 0;
    uintptr_t first = pages_.alloc(1, &released);
    if (first != base_) rt::detail::fatal("runtime: the heap's first page was not its base");
  }
  grown_bytes_.store(grown + bytes, std::memory_order_release);
  return true;
}

MSpan* MHeap::alloc_span_struct() {
  LockGuard g(lock_);
  if (!span_pool_) {
    // Carve a fresh slab. Slabs are never unmapped: type-stable memory.
    auto* slab = static_cast<unsigned char*>(sys_alloc_metadata(kSpanSlab));
    if (!slab) rt::detail::fatal("runtime: out of memory for span metadata");
    span_meta_bytes_ += kSpanSlab;
    for (size_t off = 0; off + sizeof(MSpan) <= kSpanSlab; off += sizeof(MSpan)) {
      MSpan* s = new (slab + off) MSpan();
      s->next = span_pool_;
      span_pool_ = s;
    }
  }
  MSpan* s = span_pool_;
  span_pool_ = s->next;
  s->next = nullptr;
  return s;
}

void MHeap::free_span_struct(MSpan* s) {
  LockGuard g(lock_);
  s->next = span_pool_;
  span_pool_ = s;
}

void MHeap::setup_span(MSpan* s, uintptr_t base, size_t npages, SpanClass sc, bool needzero) {
  size_t cls = span_class_size_class(sc);
  s->start = base;
  s->npages = npages;
  s->spanclass = sc;
  s->needzero = needzero;
  if (cls == 0) {
    s->nelems = 1;
    s->elemsize = static_cast<uint32_t>(std::min<size_t>(npages * kPageSize, UINT32_MAX));
    s->divmagic = 0;  // object index is always 0
    s->limit = base + npages * kPageSize;
  } else {
    const SizeClass& c = kSizeClasses[cls];
    s->nelems = static_cast<uint16_t>(c.nobjs);
    s->elemsize = c.size;
    s->divmagic = c.divmagic;
    s->limit = base + size_t{c.nobjs} * c.size;
  }
  s->nwords = static_cast<uint16_t>((s->nelems + 63) / 64);
  // Six bitmaps in one block: alloc, local_free, remote_free, managed and
  // the collector's two mark bitmaps.
  void* mem = rt::detail::meta_malloc(size_t{6} * s->nwords * sizeof(std::atomic<uint64_t>));
  if (!mem) rt::detail::fatal("runtime: out of memory for span bitmaps");
  auto* bits = static_cast<std::atomic<uint64_t>*>(mem);
  for (size_t i = 0; i < size_t{6} * s->nwords; i++) new (&bits[i]) std::atomic<uint64_t>(0);
  s->alloc_bits = bits;
  s->local_free = bits + s->nwords;
  s->remote_free = bits + 2 * s->nwords;
  s->managed_bits = bits + 3 * s->nwords;
  s->gc_marks[0] = bits + 4 * s->nwords;
  s->gc_marks[1] = bits + 5 * s->nwords;
  s->freeindex.store(0, std::memory_order_relaxed);
  s->alloc_count.store(0, std::memory_order_relaxed);
  s->count_at_cache = 0;
  s->local_pending = false;
  s->remote_pending.store(false, std::memory_order_relaxed);
  s->owner.store(nullptr, std::memory_order_relaxed);
  s->sweepgen.store(sweepgen(), std::memory_order_relaxed);
  s->list = SpanList::kNone;
  s->next = s->prev = nullptr;
  s->refill_alloc_cache(0);
}

void MHeap::publish_span(MSpan* s) {
  // Fields first, then state, then the table: a lookup that finds the span
  // through the table (acquire) sees it fully set up.
  s->state.store(SpanState::kInUse, std::memory_order_release);
  size_t first = (s->start - base_) >> kPageShift;
  for (size_t i = 0; i < s->npages; i++) spans_[first + i].store(s, std::memory_order_release);
  inuse_pages_.fetch_add(s->npages, std::memory_order_relaxed);
}

MSpan* MHeap::alloc_span(size_t npages, SpanClass sc, Cache* cache) {
  uintptr_t base = 0;
  size_t released = 0;
  MSpan* s = nullptr;
  if (cache && npages < PageCache::kMaxPages) {
    base = cache->page_cache().alloc(npages, &released);
    if (base) {
      s = cache->take_span_struct();
      cached_pages_.fetch_sub(npages, std::memory_order_relaxed);
      cached_released_pages_.fetch_sub(released, std::memory_order_relaxed);
    }
  }
  if (!base) {
    for (int attempt = 0; !base; attempt++) {
      LockGuard g(lock_);
      base = pages_.alloc(npages, &released);
      if (base) break;
      if (attempt == 0) {
        // Before growing, give back spans that explicit frees emptied
        // (mcentral locks come before the heap lock: drop ours first).
        lock_.unlock();
        free_empty_spans();
        lock_.lock();
        continue;
      }
      if (!grow_locked(npages)) return nullptr;
      base = pages_.alloc(npages, &released);
      if (!base) return nullptr;
    }
    s = cache ? cache->take_span_struct() : alloc_span_struct();
  }
  setup_span(s, base, npages, sc, released < npages);
  publish_span(s);
  return s;
}

void MHeap::free_span(MSpan* s) {
  releases_inflight_.fetch_add(1, std::memory_order_seq_cst);
  if (span_walkers_.load(std::memory_order_seq_cst) != 0) {
    {
      LockGuard g(lock_);
      s->next = deferred_free_;
      deferred_free_ = s;
    }
    releases_inflight_.fetch_sub(1, std::memory_order_release);
    return;
  }
  s->state.store(SpanState::kDead, std::memory_order_release);
  size_t first = (s->start - base_) >> kPageShift;
  for (size_t i = 0; i < s->npages; i++) spans_[first + i].store(nullptr, std::memory_order_release);
  unpoison_range(reinterpret_cast<void*>(s->start), s->npages * kPageSize);
  rt::detail::meta_free(s->alloc_bits);
  s->alloc_bits = s->local_free = s->remote_free = s->managed_bits = s->gc_marks[0] = s->gc_marks[1] = nullptr;
  inuse_pages_.fetch_sub(s->npages, std::memory_order_relaxed);
  {
    LockGuard g(lock_);
    pages_.free(s->start, s->npages);
    s->next = span_pool_;
    span_pool_ = s;
  }
  releases_inflight_.fetch_sub(1, std::memory_order_release);
}

void MHeap::begin_span_walk() {
  span_walkers_.fetch_add(1, std::memory_order_seq_cst);
  while (releases_inflight_.load(std::memory_order_seq_cst) != 0) sched_yield();
}

void MHeap::end_span_walk() {
  if (span_walkers_.fetch_sub(1, std::memory_order_seq_cst) != 1) return;
  MSpan* list;
  {
    LockGuard g(lock_);
    list = deferred_free_;
    deferred_free_ = nullptr;
  }
  while (list) {
    MSpan* next = list->next;
    list->next = nullptr;
    free_span(list);
    list = next;
  }
}

PageAlloc::CacheWindow MHeap::alloc_window() {
  LockGuard g(lock_);
  PageAlloc::CacheWindow cw = pages_.alloc_window();
  if (!cw.base && grow_locked(1)) cw = pages_.alloc_window();
  cached_pages_.fetch_add(std::popcount(cw.free), std::memory_order_relaxed);
  cached_released_pages_.fetch_add(std::popcount(cw.released), std::memory_order_relaxed);
  return cw;
}

void MHeap::free_window(uintptr_t base, uint64_t free, uint64_t released) {
  LockGuard g(lock_);
  cached_pages_.fetch_sub(std::popcount(free), std::memory_order_relaxed);
  cached_released_pages_.fetch_sub(std::popcount(released & free), std::memory_order_relaxed);
  // Return maximal runs of pages that agree on being released.
  while (free) {
    size_t i = std::countr_zero(free);
    bool rel = released >> i & 1;
    size_t j = i;
    while (j < 64 && (free >> j & 1) && ((released >> j & 1) == rel)) j++;
    pages_.free(base + i * kPageSize, j - i, rel);
    uint64_t mask = (j == 64 ? ~uint64_t{0} : ((uint64_t{1} << j) - 1)) & ~((uint64_t{1} << i) - 1);
    free &= ~mask;
  }
}

size_t MHeap::free_empty_spans() {
  size_t n = 0;
  for (size_t i = 0; i < kNumSpanClasses; i++) n += central_[i].free_empty_spans();
  return n;
}

size_t MHeap::scavenge(size_t max_bytes) {
  free_empty_spans();  // their pages can be released too
  size_t done = 0;
  constexpr size_t kBatchPages = (64 << 10) / kPageSize;  // Go's 64 KiB quantum
  while (done < max_bytes) {
    size_t n = 0;
    uintptr_t addr;
    {
      LockGuard g(lock_);
      addr = pages_.take_for_scavenge(kBatchPages, &n);
    }
    if (!addr) break;
    sys_release(reinterpret_cast<void*>(addr), n * kPageSize);
    {
      LockGuard g(lock_);
      pages_.free(addr, n, /*released=*/true);
    }
    done += n * kPageSize;
  }
  return done;
}

MHeap::PageStats MHeap::page_stats() const {
  LockGuard g(lock_);
  PageStats st;
  st.sys = grown_bytes_.load(std::memory_order_relaxed);
  st.inuse = inuse_pages_.load(std::memory_order_relaxed) * kPageSize;
  st.free = pages_.free_pages() * kPageSize;
  st.released = pages_.released_pages() * kPageSize;
  st.cached = cached_pages_.load(std::memory_order_relaxed) * kPageSize;
  st.cached_released = cached_released_pages_.load(std::memory_order_relaxed) * kPageSize;
  st.reserved = reserved_bytes_;
  st.span_meta = span_meta_bytes_;
  return st;
}

}  // namespace rt::alloc
