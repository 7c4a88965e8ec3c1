// MemStats: sums the heap's page counters and every cache's object counters;
// the stack allocator's and the collector's figures are copied in.
#include "rt/memstats.h"

#include "alloc/mcache.h"
#include "alloc/mheap.h"
#include "alloc/scavenger.h"
#include "gc/gcaccount.h"
#include "sched/stack.h"

namespace rt {

MemStats read_mem_stats() {
  using namespace rt::alloc;
  MemStats m;
  uint64_t large_alloc = 0, large_alloc_bytes = 0, large_free = 0, large_free_bytes = 0;
  uint64_t tiny = 0;
  for (size_t c = 0; c < kNumSizeClasses; c++) m.by_size[c].size = kSizeClasses[c].size;
  auto relaxed = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  for_each_cache([&](Cache& c) {
    for (size_t k = 1; k < kNumSizeClasses; k++) {
      m.by_size[k].mallocs += relaxed(c.stats.nmalloc[k]);
      m.by_size[k].frees += relaxed(c.stats.nfree[k]);
    }
    // Objects handed out from spans still cached, not yet flushed.
    for (size_t spc = 0; spc < kNumSpanClasses; spc++) {
      MSpan* s = c.cached_span(static_cast<SpanClass>(spc));
      if (s->nelems == 0) continue;
      uint16_t now = s->alloc_count.load(std::memory_order_relaxed);
      if (now > s->count_at_cache) m.by_size[s->size_class()].mallocs += now - s->count_at_cache;
    }
    tiny += relaxed(c.stats.tiny_allocs);
    large_alloc += relaxed(c.stats.large_alloc);
    large_alloc_bytes += relaxed(c.stats.large_alloc_bytes);
    large_free += relaxed(c.stats.large_free);
    large_free_bytes += relaxed(c.stats.large_free_bytes);
  });
  for (size_t k = 1; k < kNumSizeClasses; k++) {
    const SizeClassStats& b = m.by_size[k];
    m.mallocs += b.mallocs;
    m.frees += b.frees;
    m.total_alloc += b.mallocs * b.size;
    m.heap_alloc += (b.mallocs - b.frees) * b.size;
  }
  m.mallocs += large_alloc + tiny;
  m.frees += large_free + tiny;
  m.total_alloc += large_alloc_bytes;
  m.heap_alloc += large_alloc_bytes - large_free_bytes;
  m.heap_objects = m.mallocs - m.frees;
  if (MHeap::initialized()) {
    MHeap::PageStats st = MHeap::get().page_stats();
    m.heap_sys = st.sys;
    m.heap_inuse = st.inuse;
    m.heap_idle = st.sys - st.inuse;
    m.heap_released = st.released + st.cached_released;
    m.heap_reserved = st.reserved;
    m.scavenged_total = scavenged_total();
    m.sys = st.span_meta;
  }
  rt::sched::StackStats ss = rt::sched::stack_stats();
  m.stack_inuse = ss.in_use_bytes;
  m.stack_sys = ss.in_use_bytes + ss.pooled_bytes;
  m.sys += m.heap_sys + m.stack_sys;
  rt::collector::fill_gc_memstats(&m);
  return m;
}

}  // namespace rt
