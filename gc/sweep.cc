// Sweeping. See sweep.h.
#include "gc/sweep.h"

#include <bit>
#include <cstring>

#include "alloc/malloc.h"
#include "alloc/mheap.h"
#include "gc/heapobj.h"
#include "gc/phase.h"
#include "sched/proc.h"

namespace rt::collector {

namespace {

void free_dead(alloc::MSpan* s, size_t idx, SweepResult* r) {
  uintptr_t slot = s->object_base(idx);
  if (!s->noscan()) {
    auto* h = reinterpret_cast<ObjectHeader*>(slot);
    if (h->type->destroy) {
      h->type->destroy(reinterpret_cast<void*>(slot + kHeaderSize), h->count);
      r->destroyed += h->count;
    }
    memset(h, 0, kHeaderSize);
  }
  bit_clear(s->managed_bits, idx);
  alloc::free_object(reinterpret_cast<void*>(slot));
  r->freed_objects++;
}

}  // namespace

SweepResult sweep_heap(uint32_t e) {
  SweepResult r;
  if (!alloc::MHeap::initialized()) return r;
  size_t grown = alloc::g_heap_index.grown.load(std::memory_order_acquire);
  uintptr_t base = alloc::g_heap_index.base;
  for (size_t off = 0; off < grown; off += alloc::kPageSize) {
    alloc::MSpan* s = alloc::g_heap_index.spans[off >> alloc::kPageShift].load(std::memory_order_acquire);
    if (!s || s->start != base + off || s->state.load(std::memory_order_acquire) != alloc::SpanState::kInUse)
      continue;
    size_t slot_bytes = s->is_large() ? s->npages * alloc::kPageSize : s->elemsize;
    std::atomic<uint64_t>* marks = marks_of(s, e);
    std::atomic<uint64_t>* next_marks = marks_of(s, e ^ 1);
    for (size_t w = 0; w < s->nwords; w++) {
      uint64_t managed = s->managed_bits[w].load(std::memory_order_acquire);
      uint64_t marked = marks[w].load(std::memory_order_relaxed);
      next_marks[w].store(0, std::memory_order_relaxed);
      uint64_t live = managed & marked;
      r.live_objects += std::popcount(live);
      r.live_bytes += std::popcount(live) * slot_bytes;
      for (uint64_t d = managed & ~marked; d; d &= d - 1) free_dead(s, w * 64 + std::countr_zero(d), &r);
    }
    // A long sweep must not hold a P from the program's goroutines.
    if ((off >> alloc::kPageShift) % 64 == 63) sched::preempt_check();
  }
  return r;
}

}  // namespace rt::collector
