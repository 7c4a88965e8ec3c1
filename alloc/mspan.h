// mspan: a run of pages holding objects of one span class (or one large
// object), and the bitmaps that say which of its slots are taken.
//
// Allocation state, as in Go's mheap.go/mbitmap.go:
// - alloc_bits: bit i set = slot i was allocated at the last sweep/reclaim.
// - freeindex: every slot below it is allocated (handed out since, or taken
//   before); allocation scans upward from it and never looks back.
// - alloc_cache: the complement of alloc_bits starting at freeindex, so the
//   next free slot is one count-trailing-zeros away (the fast path).
// - gc_marks[2]: the collector's mark bits, two bitmaps used by alternate
//   cycles (gc/phase.h); the allocator never reads them. The collector
//   frees dead objects through the explicit-free path below.
// - managed_bits: bit i set = slot i holds an object made by rt::make (the
//   collector owns it: gc/heapobj.h). Set atomically by the allocating
//   thread, cleared by the collector before it frees the slot; slots without
//   the bit (raw allocate() users) are never swept or scanned.
// - local_free / remote_free: explicit frees (the path used before the
//   collector, and by tests) by the owning cache and by other threads. A
//   reclaim folds them in: alloc_bits = (alloc_bits | slots below freeindex)
//   & ~freed, freeindex = 0.
//
// Ownership: while a span is cached by an mcache (owner != nullptr) only
// that cache's thread changes freeindex, alloc_cache, alloc_count and
// local_free; otherwise its mcentral's lock guards them. remote_free may be
// set by any thread, atomically. Fields that other threads read (freeindex,
// alloc_bits, alloc_count, state) are atomics accessed as the comments say.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>

#include "alloc/sizeclasses.h"

namespace rt::alloc {

class Cache;

enum class SpanState : uint8_t {
  kDead = 0,   // struct not describing any pages
  kInUse = 1,  // pages hold objects of spanclass
};

// Which mcentral list a span is on; guarded by that mcentral's lock.
enum class SpanList : uint8_t { kNone, kPartial, kFull };

struct MSpan {
  // --- identity: fixed while the span is in use -------------------------
  uintptr_t start = 0;
  size_t npages = 0;
  uintptr_t limit = 0;  // end of the last object
  uint32_t elemsize = 0;
  uint32_t divmagic = 0;  // object index = (offset * divmagic) >> 32
  uint16_t nelems = 0;
  uint16_t nwords = 0;  // 64-bit words per bitmap
  SpanClass spanclass = 0;
  // Published last (release) when the span is set up; read with acquire by
  // lookups from any thread.
  std::atomic<SpanState> state{SpanState::kDead};
  bool needzero = false;  // some slot memory may be dirty

  // --- list links: guarded by the lock of the list's owner -------------
  MSpan* next = nullptr;
  MSpan* prev = nullptr;
  SpanList list = SpanList::kNone;
  // The collector's list of spans its sweep emptied this cycle (gc/sweep.cc):
  // pushed by the one sweeper of the span, drained once the sweep is over.
  MSpan* emptied_next = nullptr;

  // --- allocation state (see the file comment for who may write) -------
  // release/acquire: a reader that sees a reset freeindex also sees the
  // alloc_bits the reset relied on.
  std::atomic<uint16_t> freeindex{0};
  std::atomic<uint16_t> alloc_count{0};
  uint16_t count_at_cache = 0;  // alloc_count when cached: stats delta base
  bool local_pending = false;   // owner freed something since last reclaim
  uint64_t alloc_cache = 0;
  std::atomic<uint64_t>* alloc_bits = nullptr;
  std::atomic<uint64_t>* gc_marks[2] = {nullptr, nullptr};
  std::atomic<uint64_t>* local_free = nullptr;
  std::atomic<uint64_t>* remote_free = nullptr;
  std::atomic<uint64_t>* managed_bits = nullptr;
  std::atomic<bool> remote_pending{false};
  // Remote frees between their bit store and their note_remote_free: while
  // non-zero the span must not go back to the heap (the freer still
  // touches it).
  std::atomic<uint32_t> remote_inflight{0};
  std::atomic<Cache*> owner{nullptr};
  // Sweep generation relative to the heap's (Go's encoding): -2 needs sweep,
  // -1 being swept, 0 swept, +1 cached before sweep, +3 swept then cached.
  std::atomic<uint32_t> sweepgen{0};

  size_t size_class() const { return span_class_size_class(spanclass); }
  bool noscan() const { return span_class_noscan(spanclass); }
  bool is_large() const { return size_class() == 0; }

  size_t object_index(uintptr_t p) const {
    return static_cast<size_t>((uint64_t{p - start} * divmagic) >> 32);
  }
  uintptr_t object_base(size_t idx) const { return start + idx * elemsize; }

  bool is_allocated(size_t idx) const {
    if (idx < freeindex.load(std::memory_order_acquire)) return true;
    return alloc_bits[idx / 64].load(std::memory_order_relaxed) >> (idx % 64) & 1;
  }

  // Fast path: the next free slot from alloc_cache, or -1 when the cache
  // word is exhausted (then next_free_index() takes over). Owner only.
  int64_t next_free_fast() {
    uint64_t cache = alloc_cache;
    if (cache == 0) return -1;
    size_t bit = std::countr_zero(cache);
    size_t fi = freeindex.load(std::memory_order_relaxed);
    size_t result = fi + bit;
    if (result >= nelems) return -1;
    size_t next = result + 1;
    if (next % 64 == 0 && next != nelems) return -1;
    alloc_cache = (cache >> bit) >> 1;  // two shifts: bit + 1 may be 64
    freeindex.store(static_cast<uint16_t>(next), std::memory_order_relaxed);
    alloc_count.store(static_cast<uint16_t>(alloc_count.load(std::memory_order_relaxed) + 1),
                      std::memory_order_relaxed);
    return static_cast<int64_t>(result);
  }

  // Slow path: scans alloc_bits from freeindex. Returns nelems if full.
  size_t next_free_index();
  // Loads alloc_cache for the 64-slot word that holds slot `index`.
  void refill_alloc_cache(size_t index);
  // Folds explicit frees into alloc_bits and restarts allocation at slot 0.
  // Caller owns the span (its cache, or its mcentral's lock). Returns the
  // number of slots freed.
  size_t reclaim();
  bool frees_pending() const {
    return local_pending || remote_pending.load(std::memory_order_relaxed);
  }
  // Whether slot idx was freed explicitly but not reclaimed yet.
  bool free_pending(size_t idx) const {
    uint64_t bit = uint64_t{1} << (idx % 64);
    return ((local_free[idx / 64].load(std::memory_order_relaxed) |
             remote_free[idx / 64].load(std::memory_order_relaxed)) &
            bit) != 0;
  }
  // Empty and nobody touching it: may go back to the heap.
  bool releasable() const {
    return alloc_count.load(std::memory_order_relaxed) == 0 && !frees_pending() &&
           remote_inflight.load(std::memory_order_acquire) == 0;
  }
};

}  // namespace rt::alloc
