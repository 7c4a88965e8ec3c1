// Sweeping. See sweep.h.
#include "gc/sweep.h"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstdint>
#include <cstring>

#include "alloc/malloc.h"
#include "alloc/mheap.h"
#include "alloc/poison.h"
#include "gc/heapobj.h"
#include "gc/pacer.h"
#include "gc/phase.h"
#include "sched/proc.h"

namespace rt::collector {

namespace {

// Set by sweep_begin before the phase lets allocators in (the phase store
// is seq_cst; so is the cursor), read by every sweeper.
std::atomic<uint32_t> g_epoch{0};
std::atomic<size_t> g_npages{0};
std::atomic<size_t> g_nchunks{0};
std::atomic<size_t> g_next_chunk{0};  // claim cursor
std::atomic<size_t> g_chunks_done{0};
std::atomic<uint64_t> g_live_bytes{0}, g_live_objects{0}, g_freed{0}, g_destroyed{0};
// Spans this sweep emptied (a Treiber stack through MSpan::emptied_next):
// sweepers push with release, sweep_finish takes the whole stack with
// acquire once every chunk is done, so no pop races a push (no ABA).
std::atomic<alloc::MSpan*> g_emptied{nullptr};

// Runs the destructor of a dead scan object and clears its header.
void destroy_dead(alloc::MSpan* s, size_t idx, SweepResult* r) {
  auto* h = reinterpret_cast<ObjectHeader*>(s->object_base(idx));
  if (h->type->destroy) {
    h->type->destroy(reinterpret_cast<char*>(h) + kHeaderSize, h->count);
    r->destroyed += h->count;
  }
  memset(h, 0, kHeaderSize);
}

void sweep_span(alloc::MSpan* s, uint32_t e, SweepResult* r) {
  size_t slot_bytes = s->is_large() ? s->npages * alloc::kPageSize : s->elemsize;
  std::atomic<uint64_t>* marks = marks_of(s, e);
  std::atomic<uint64_t>* next_marks = marks_of(s, e ^ 1);
  bool any_live = false, emptied_some = false;
  for (size_t w = 0; w < s->nwords; w++) {
    uint64_t managed = s->managed_bits[w].load(std::memory_order_acquire);
    uint64_t marked = marks[w].load(std::memory_order_relaxed);
    next_marks[w].store(0, std::memory_order_relaxed);
    uint64_t live = managed & marked;
    uint64_t dead = managed & ~marked;
    r->live_objects += std::popcount(live);
    r->live_bytes += std::popcount(live) * slot_bytes;
    any_live |= live != 0;
    if (!dead) continue;
    if (!s->noscan()) {
      for (uint64_t d = dead; d; d &= d - 1) destroy_dead(s, w * 64 + std::countr_zero(d), r);
    }
    s->managed_bits[w].fetch_and(~dead, std::memory_order_relaxed);
    r->freed_objects += std::popcount(dead);
    r->freed_bytes += std::popcount(dead) * slot_bytes;
    if (s->is_large()) {
      alloc::free_object(reinterpret_cast<void*>(s->start));
      continue;
    }
    // Poisoned while still ours: once freed, a slot may be handed out again.
    for (uint64_t d = dead; d; d &= d - 1)
      alloc::poison_range(reinterpret_cast<void*>(s->object_base(w * 64 + std::countr_zero(d))), s->elemsize);
    alloc::free_objects_in_word(s, w, dead);
    emptied_some = true;
  }
  // Emptied: noted, to go back to the heap when the sweep is over if it is
  // still empty then (sweep_finish).
  if (emptied_some && !any_live && !s->is_large()) {
    alloc::MSpan* head = g_emptied.load(std::memory_order_relaxed);
    do {
      s->emptied_next = head;
    } while (!g_emptied.compare_exchange_weak(head, s, std::memory_order_release, std::memory_order_relaxed));
  }
}

// Returns the spans the sweep emptied, and that nothing allocated from
// since, to the heap: their pages then count as free (the memory limit's
// goal and the scavenger see them) rather than as idle spans on mcentral
// lists until the heap must grow, as Go's sweeper frees a span it empties.
// Not during the sweep: the span walk would defer each release to its end,
// and meanwhile allocation could not reuse the span. Still inside the
// walk, so the span structs are not reused under us.
void release_emptied() {
  alloc::MSpan* s = g_emptied.exchange(nullptr, std::memory_order_acquire);
  while (s) {
    alloc::MSpan* next = s->emptied_next;
    s->emptied_next = nullptr;
    alloc::MHeap::get().central(s->spanclass).release_if_empty(s);
    sched::preempt_check();
    s = next;
  }
}

void sweep_chunk(size_t chunk, uint32_t e) {
  SweepResult r;
  uintptr_t base = alloc::g_heap_index.base;
  size_t first = chunk * kSweepChunkPages;
  size_t last = std::min(first + kSweepChunkPages, g_npages.load(std::memory_order_relaxed));
  for (size_t page = first; page < last; page++) {
    alloc::MSpan* s = alloc::g_heap_index.spans[page].load(std::memory_order_acquire);
    if (!s || s->start != base + page * alloc::kPageSize ||
        s->state.load(std::memory_order_acquire) != alloc::SpanState::kInUse)
      continue;
    sweep_span(s, e, &r);
    // A safe point per span: a chunk takes up to tens of microseconds,
    // longer than a stop-the-world may wait. Nothing here is tied to the P.
    sched::preempt_check();
  }
  g_live_bytes.fetch_add(r.live_bytes, std::memory_order_relaxed);
  g_live_objects.fetch_add(r.live_objects, std::memory_order_relaxed);
  g_freed.fetch_add(r.freed_objects, std::memory_order_relaxed);
  g_destroyed.fetch_add(r.destroyed, std::memory_order_relaxed);
  pacer::note_swept(r.freed_bytes);
  g_chunks_done.fetch_add(1, std::memory_order_release);
}

}  // namespace

void sweep_begin(uint32_t e) {
  size_t pages = 0;
  if (alloc::MHeap::initialized())
    pages = alloc::g_heap_index.grown.load(std::memory_order_acquire) >> alloc::kPageShift;
  // Close the cursor first: an allocator claiming now (phase kSweep, sweep
  // not begun) must fail whatever chunk count it then reads.
  g_next_chunk.store(SIZE_MAX / 2, std::memory_order_seq_cst);
  g_epoch.store(e, std::memory_order_relaxed);
  g_live_bytes.store(0, std::memory_order_relaxed);
  g_live_objects.store(0, std::memory_order_relaxed);
  g_freed.store(0, std::memory_order_relaxed);
  g_destroyed.store(0, std::memory_order_relaxed);
  g_chunks_done.store(0, std::memory_order_relaxed);
  g_npages.store(pages, std::memory_order_relaxed);
  g_nchunks.store((pages + kSweepChunkPages - 1) / kSweepChunkPages, std::memory_order_relaxed);
  // Release: a sweeper whose claim reads a value from here on sees the
  // fields above.
  g_next_chunk.store(0, std::memory_order_release);
}

size_t sweep_some(size_t max_chunks) {
  size_t done = 0;
  while (done < max_chunks) {
    size_t c = g_next_chunk.fetch_add(1, std::memory_order_acq_rel);
    if (c >= g_nchunks.load(std::memory_order_relaxed)) break;
    sweep_chunk(c, g_epoch.load(std::memory_order_relaxed));
    done++;
  }
  return done;
}

SweepResult sweep_finish() {
  while (sweep_some(1) != 0) sched::preempt_check();
  // Chunks other goroutines claimed may still be in progress.
  size_t n = g_nchunks.load(std::memory_order_relaxed);
  while (g_chunks_done.load(std::memory_order_acquire) < n) {
    if (sched::getg()) {
      sched::gosched();
    } else {
      sched_yield();
    }
  }
  release_emptied();
  SweepResult r;
  r.live_bytes = g_live_bytes.load(std::memory_order_relaxed);
  r.live_objects = g_live_objects.load(std::memory_order_relaxed);
  r.freed_objects = g_freed.load(std::memory_order_relaxed);
  r.destroyed = g_destroyed.load(std::memory_order_relaxed);
  return r;
}

}  // namespace rt::collector
