// Sweeping. See sweep.h.
#include "gc/sweep.h"

#include <bit>
#include <cstring>

#include "alloc/malloc.h"
#include "alloc/mheap.h"
#include "gc/heapobj.h"

namespace rt::collector {

SweepResult find_dead(std::vector<DeadObject>* dead) {
  SweepResult r;
  if (!alloc::MHeap::initialized()) return r;
  size_t grown = alloc::g_heap_index.grown.load(std::memory_order_acquire);
  uintptr_t base = alloc::g_heap_index.base;
  for (size_t off = 0; off < grown; off += alloc::kPageSize) {
    alloc::MSpan* s = alloc::g_heap_index.spans[off >> alloc::kPageShift].load(std::memory_order_acquire);
    if (!s || s->start != base + off || s->state.load(std::memory_order_acquire) != alloc::SpanState::kInUse)
      continue;
    size_t slot_bytes = s->is_large() ? s->npages * alloc::kPageSize : s->elemsize;
    for (size_t w = 0; w < s->nwords; w++) {
      uint64_t managed = s->managed_bits[w].load(std::memory_order_relaxed);
      uint64_t marked = s->mark_bits[w].exchange(0, std::memory_order_relaxed);
      uint64_t live = managed & marked;
      r.live_objects += std::popcount(live);
      r.live_bytes += std::popcount(live) * slot_bytes;
      for (uint64_t d = managed & ~marked; d; d &= d - 1) {
        size_t idx = w * 64 + std::countr_zero(d);
        dead->push_back(DeadObject{s->object_base(idx), s, idx});
      }
    }
  }
  return r;
}

uint64_t free_dead(const std::vector<DeadObject>& dead) {
  uint64_t destroyed = 0;
  for (const DeadObject& d : dead) {
    if (!d.span->noscan()) {
      auto* h = reinterpret_cast<ObjectHeader*>(d.slot);
      if (h->type->destroy) {
        h->type->destroy(reinterpret_cast<void*>(d.slot + kHeaderSize), h->count);
        destroyed += h->count;
      }
      memset(h, 0, kHeaderSize);
    }
    bit_clear(d.span->managed_bits, d.idx);
    alloc::free_object(reinterpret_cast<void*>(d.slot));
  }
  return destroyed;
}

}  // namespace rt::collector
