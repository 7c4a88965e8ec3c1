// mcache: a P's private allocation cache (one per OS thread until the
// scheduler binds caches to Ps).
//
// For each span class it holds one span to carve objects from; the fast path
// is next_free_fast() on that span, with no lock and no atomic read-modify-
// write. When a span runs out, refill() first reclaims it in place if it has
// explicit frees pending, else hands it back to its mcentral and takes
// another. It also holds the tiny allocator's current 16-byte block, a page
// cache (pagecache.h) and a few span structs, so most span allocations need
// no heap lock, and its share of the heap statistics.
//
// Statistics follow Go's scheme: objects are counted per span when a cached
// span is flushed (alloc_count - count_at_cache), never per allocation.
// Counters are atomics written only by the owner thread with relaxed
// load+store (plain moves on x86) and read by anyone.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "alloc/mspan.h"
#include "alloc/pagecache.h"
#include "alloc/poison.h"
#include "alloc/sizeclasses.h"

namespace rt::alloc {

struct CacheStats {
  std::atomic<uint64_t> nmalloc[kNumSizeClasses] = {};  // small objects handed out (flushed)
  std::atomic<uint64_t> nfree[kNumSizeClasses] = {};    // small objects freed by this thread
  std::atomic<uint64_t> tiny_allocs{0};  // objects packed into existing tiny blocks
  std::atomic<uint64_t> large_alloc{0}, large_alloc_bytes{0};
  std::atomic<uint64_t> large_free{0}, large_free_bytes{0};

  // Owner-only increment: no locked instruction needed.
  static void bump(std::atomic<uint64_t>& c, uint64_t n) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
};

class Cache {
 public:
  Cache();

  // Small object of `size` bytes (1..kMaxSmallSize). nullptr if out of memory.
  void* alloc_small(size_t size, bool noscan, bool zero) {
    SpanClass spc = make_span_class(size_to_class(size), noscan);
    MSpan* s = alloc_[spc].load(std::memory_order_relaxed);
    int64_t idx = s->next_free_fast();
    if (__builtin_expect(idx < 0, 0)) return alloc_from_new_slot(spc, zero);
    void* p = reinterpret_cast<void*>(s->object_base(static_cast<size_t>(idx)));
    unpoison_range(p, s->elemsize);
    if (zero && s->needzero) memset(p, 0, s->elemsize);
    return p;
  }
  // Pointer-free object smaller than kTinySize, packed with others into a
  // 16-byte block. Always zeroed.
  void* alloc_tiny(size_t size);
  // Object larger than kMaxSmallSize: a span of its own.
  void* alloc_large(size_t size, bool noscan, bool zero);

  // Explicit free of a small object in span `s` (slot idx), called on the
  // thread that owns this cache.
  void free_small(MSpan* s, size_t idx);
  // Frees every slot whose bit is set in `bits`, of bitmap word w of small
  // span s (the collector's sweep frees a word's dead objects at once:
  // one atomic OR instead of one per object). The caller guarantees that
  // each is an allocated object.
  void free_small_word(MSpan* s, size_t w, uint64_t bits);
  void free_large(MSpan* s);

  // Hands every span, the page cache and spare span structs back.
  void release_all();

  PageCache& page_cache() { return pcache_; }
  MSpan* take_span_struct();
  MSpan* cached_span(SpanClass spc) const { return alloc_[spc].load(std::memory_order_relaxed); }

  CacheStats stats;
  Cache* next_all = nullptr;  // registry link (guarded by the registry lock)
  bool in_use = false;        // guarded by the registry lock

 private:
  void* alloc_from_new_slot(SpanClass spc, bool zero);
  MSpan* refill(SpanClass spc);
  void flush_count(MSpan* s);

  std::atomic<MSpan*> alloc_[kNumSpanClasses];  // never null: &empty span
  uintptr_t tiny_ = 0;
  size_t tiny_offset_ = 0;
  PageCache pcache_;
  static constexpr size_t kStash = 16;
  MSpan* stash_[kStash] = {};
  size_t nstash_ = 0;
};

// The calling thread's cache, created on first use and given back when the
// thread exits.
inline thread_local Cache* t_cache = nullptr;
Cache* attach_thread_cache();
inline Cache* current_cache() {
  Cache* c = t_cache;
  return __builtin_expect(c != nullptr, 1) ? c : attach_thread_cache();
}
// Binds `c` as the calling thread's cache (the scheduler does this when an M
// acquires a P); returns the previous one.
Cache* set_current_cache(Cache* c);

// Cache registry: every cache ever made, for statistics and reuse.
Cache* acquire_cache();
void release_cache(Cache* c);
template <typename F>
void for_each_cache(F&& f);
void lock_cache_registry();
void unlock_cache_registry();
Cache* cache_registry_head();

template <typename F>
void for_each_cache(F&& f) {
  lock_cache_registry();
  for (Cache* c = cache_registry_head(); c; c = c->next_all) f(*c);
  unlock_cache_registry();
}

}  // namespace rt::alloc
