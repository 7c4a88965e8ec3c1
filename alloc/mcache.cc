// mcache: see mcache.h.
#include "alloc/mcache.h"

#include <bit>

#include <new>

#include "alloc/mcentral.h"
#include "alloc/mheap.h"
#include "runtime/fatal.h"
#include "runtime/lock.h"

namespace rt::alloc {

namespace {

// The span every empty cache slot points at: no free slots, so the fast path
// falls through to refill(). Shared by all caches and never written (both
// allocation paths return before writing when nelems is 0).
MSpan g_empty_span;

rt::detail::Lock g_registry_lock;
Cache* g_registry = nullptr;  // guarded by g_registry_lock

// Gives the thread's cache back when the thread exits.
struct ThreadCacheOwner {
  Cache* cache = nullptr;
  ~ThreadCacheOwner() {
    if (cache) {
      if (t_cache == cache) t_cache = nullptr;
      release_cache(cache);
    }
  }
};
thread_local ThreadCacheOwner t_owner;

}  // namespace

Cache::Cache() {
  for (auto& a : alloc_) a.store(&g_empty_span, std::memory_order_relaxed);
}

void Cache::flush_count(MSpan* s) {
  uint16_t now = s->alloc_count.load(std::memory_order_relaxed);
  if (now > s->count_at_cache) {
    CacheStats::bump(stats.nmalloc[s->size_class()], now - s->count_at_cache);
  }
  s->count_at_cache = now;
}

MSpan* Cache::refill(SpanClass spc) {
  MHeap& heap = MHeap::get();
  MSpan* s = alloc_[spc].load(std::memory_order_relaxed);
  if (s != &g_empty_span) {
    flush_count(s);
    // Reuse in place when explicit frees made room: no lock at all.
    if (s->frees_pending()) {
      s->reclaim();
      if (s->alloc_count.load(std::memory_order_relaxed) < s->nelems) return s;
    }
    alloc_[spc].store(&g_empty_span, std::memory_order_relaxed);
    heap.central(spc).uncache_span(s);
  }
  s = heap.central(spc).cache_span(this);
  if (!s) return nullptr;
  alloc_[spc].store(s, std::memory_order_relaxed);
  return s;
}

void* Cache::alloc_from_new_slot(SpanClass spc, bool zero) {
  MSpan* s = alloc_[spc].load(std::memory_order_relaxed);
  size_t idx = s->next_free_index();
  if (idx >= s->nelems) {
    s = refill(spc);
    if (!s) return nullptr;
    idx = s->next_free_index();
    RT_ASSERT(idx < s->nelems);
  }
  void* p = reinterpret_cast<void*>(s->object_base(idx));
  unpoison_range(p, s->elemsize);
  if (zero && s->needzero) memset(p, 0, s->elemsize);
  return p;
}

void* Cache::alloc_tiny(size_t size) {
  size_t off = tiny_offset_;
  // Align the sub-object as its size suggests, as Go does.
  if ((size & 7) == 0) {
    off = (off + 7) & ~size_t{7};
  } else if ((size & 3) == 0) {
    off = (off + 3) & ~size_t{3};
  } else if ((size & 1) == 0) {
    off = (off + 1) & ~size_t{1};
  }
  if (tiny_ != 0 && off + size <= kTinySize) {
    tiny_offset_ = off + size;
    CacheStats::bump(stats.tiny_allocs, 1);
    return reinterpret_cast<void*>(tiny_ + off);
  }
  MSpan* s = alloc_[kTinySpanClass].load(std::memory_order_relaxed);
  int64_t fast = s->next_free_fast();
  void* block;
  if (fast >= 0) {
    block = reinterpret_cast<void*>(s->object_base(static_cast<size_t>(fast)));
  } else {
    block = alloc_from_new_slot(kTinySpanClass, false);
    if (!block) return nullptr;
  }
  unpoison_range(block, kTinySize);
  memset(block, 0, kTinySize);
  // Keep whichever block has more room left.
  if (tiny_ == 0 || size < tiny_offset_) {
    tiny_ = reinterpret_cast<uintptr_t>(block);
    tiny_offset_ = size;
  }
  return block;
}

void* Cache::alloc_large(size_t size, bool noscan, bool zero) {
  size_t npages = (size + kPageSize - 1) >> kPageShift;
  MSpan* s = MHeap::get().alloc_span(npages, make_span_class(0, noscan), this);
  if (!s) return nullptr;
  s->limit = s->start + size;
  s->freeindex.store(1, std::memory_order_release);
  s->alloc_count.store(1, std::memory_order_relaxed);
  CacheStats::bump(stats.large_alloc, 1);
  CacheStats::bump(stats.large_alloc_bytes, npages * kPageSize);
  void* p = reinterpret_cast<void*>(s->start);
  if (zero && s->needzero) memset(p, 0, size);
  return p;
}

[[noreturn, gnu::noinline, gnu::cold]] static void double_free(MSpan* s, size_t idx) {
  rt::detail::FixedText t;
  t << "double free of object " << reinterpret_cast<void*>(s->object_base(idx));
  rt::detail::fatal(t);
}

void Cache::free_small(MSpan* s, size_t idx) {
  size_t w = idx / 64;
  uint64_t bit = uint64_t{1} << (idx % 64);
  if (s->owner.load(std::memory_order_relaxed) == this) {
    // Our own span: no other thread writes local_free.
    uint64_t old = s->local_free[w].load(std::memory_order_relaxed);
    if ((old | s->remote_free[w].load(std::memory_order_relaxed)) & bit) double_free(s, idx);
    s->local_free[w].store(old | bit, std::memory_order_relaxed);
    s->local_pending = true;
    CacheStats::bump(stats.nfree[s->size_class()], 1);
    return;
  }
  if (s->local_free[w].load(std::memory_order_relaxed) & bit) double_free(s, idx);
  // Announce ourselves first: until we are done the span must not be
  // released (see MSpan::remote_inflight).
  s->remote_inflight.fetch_add(1, std::memory_order_acq_rel);
  // seq_cst: see MSpan::reclaim's re-check of remote frees.
  uint64_t old = s->remote_free[w].fetch_or(bit);
  if (old & bit) {
    s->remote_inflight.fetch_sub(1, std::memory_order_release);
    double_free(s, idx);
  }
  CacheStats::bump(stats.nfree[s->size_class()], 1);
  if (!s->remote_pending.load(std::memory_order_relaxed) && !s->remote_pending.exchange(true)) {
    MHeap::get().central(s->spanclass).note_remote_free(s);
  }
  s->remote_inflight.fetch_sub(1, std::memory_order_release);
}

void Cache::free_small_word(MSpan* s, size_t w, uint64_t bits) {
  uint64_t n = static_cast<uint64_t>(std::popcount(bits));
  if (s->owner.load(std::memory_order_relaxed) == this) {
    uint64_t old = s->local_free[w].load(std::memory_order_relaxed);
    uint64_t twice = (old | s->remote_free[w].load(std::memory_order_relaxed)) & bits;
    if (twice) double_free(s, w * 64 + static_cast<size_t>(std::countr_zero(twice)));
    s->local_free[w].store(old | bits, std::memory_order_relaxed);
    s->local_pending = true;
    CacheStats::bump(stats.nfree[s->size_class()], n);
    return;
  }
  uint64_t twice = s->local_free[w].load(std::memory_order_relaxed) & bits;
  if (twice) double_free(s, w * 64 + static_cast<size_t>(std::countr_zero(twice)));
  // As free_small: announced in flight, seq_cst OR (MSpan::reclaim).
  s->remote_inflight.fetch_add(1, std::memory_order_acq_rel);
  uint64_t old = s->remote_free[w].fetch_or(bits);
  if (old & bits) {
    s->remote_inflight.fetch_sub(1, std::memory_order_release);
    double_free(s, w * 64 + static_cast<size_t>(std::countr_zero(old & bits)));
  }
  CacheStats::bump(stats.nfree[s->size_class()], n);
  if (!s->remote_pending.load(std::memory_order_relaxed) && !s->remote_pending.exchange(true)) {
    MHeap::get().central(s->spanclass).note_remote_free(s);
  }
  s->remote_inflight.fetch_sub(1, std::memory_order_release);
}

void Cache::free_large(MSpan* s) {
  CacheStats::bump(stats.large_free, 1);
  CacheStats::bump(stats.large_free_bytes, s->npages * kPageSize);
  MHeap::get().free_span(s);
}

MSpan* Cache::take_span_struct() {
  if (nstash_ == 0) {
    MHeap& heap = MHeap::get();
    while (nstash_ < kStash / 2) stash_[nstash_++] = heap.alloc_span_struct();
  }
  return stash_[--nstash_];
}

void Cache::release_all() {
  MHeap& heap = MHeap::get();
  for (size_t spc = 0; spc < kNumSpanClasses; spc++) {
    MSpan* s = alloc_[spc].load(std::memory_order_relaxed);
    if (s == &g_empty_span) continue;
    flush_count(s);
    alloc_[spc].store(&g_empty_span, std::memory_order_relaxed);
    heap.central(static_cast<SpanClass>(spc)).uncache_span(s);
  }
  tiny_ = 0;
  tiny_offset_ = 0;
  pcache_.flush();
  while (nstash_ > 0) heap.free_span_struct(stash_[--nstash_]);
}

void lock_cache_registry() { g_registry_lock.lock(); }
void unlock_cache_registry() { g_registry_lock.unlock(); }
Cache* cache_registry_head() { return g_registry; }

Cache* acquire_cache() {
  {
    rt::detail::LockGuard g(g_registry_lock);
    for (Cache* c = g_registry; c; c = c->next_all) {
      if (!c->in_use) {
        c->in_use = true;
        return c;
      }
    }
  }
  // Caches live forever (their counters are part of the heap's totals), so
  // plain new is fine: this happens once per concurrently live thread or P.
  Cache* c = new Cache();
  rt::detail::LockGuard g(g_registry_lock);
  c->in_use = true;
  c->next_all = g_registry;
  g_registry = c;
  return c;
}

void release_cache(Cache* c) {
  if (MHeap::initialized()) c->release_all();
  rt::detail::LockGuard g(g_registry_lock);
  c->in_use = false;
}

Cache* attach_thread_cache() {
  Cache* c = acquire_cache();
  t_owner.cache = c;
  t_cache = c;
  return c;
}

Cache* set_current_cache(Cache* c) {
  Cache* old = t_cache;
  t_cache = c;
  return old;
}

}  // namespace rt::alloc
