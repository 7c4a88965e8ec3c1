// The allocator's entry points: allocate, free explicitly, and find the
// object that an address points into.
//
// Routing, as in Go's mallocgc: size 0 returns the address of a shared
// zero-size object; pointer-free objects under 16 bytes go to the tiny
// allocator; objects up to 32 KiB are rounded to a size class and carved
// from the calling P's mcache; larger ones get a span of their own.
//
// Explicit free exists for the runtime's own tests and for workloads that
// manage memory by hand; the collector frees by sweeping. Tiny objects share
// a block with others and are never freed one at a time (free_object
// reports that by returning false).
#pragma once

#include <cstddef>
#include <cstdint>

#include <atomic>

#include "alloc/mcache.h"
#include "alloc/mheap.h"
#include "runtime/lock.h"

namespace rt::alloc {

enum AllocFlags : unsigned {
  kScan = 0,       // the object may hold heap pointers
  kNoScan = 1u << 0,  // the object holds no heap pointers
  kZero = 1u << 1,    // the memory must read as zero
};

// The largest request the allocator will even try (bigger ones cannot be
// page-rounded without overflow).
inline constexpr size_t kMaxAllocSize = size_t{1} << 47;

// Where every zero-size allocation points.
extern char g_zerobase[16];

void* alloc_slow(size_t size, unsigned flags, bool must);

// Called at the top of the allocation slow path, where no cache pointer is
// held yet: the scheduler installs its cooperative preemption check here.
extern void (*g_alloc_safepoint)();

// The inlined fast paths below run in the caller's code, where the
// preemption signal handler cannot recognise them as runtime code. They use
// the calling P's cache, so a goroutine must not be moved mid-way: they
// count as holding a runtime lock, which the handler respects.
struct NoAsyncPreempt {
  NoAsyncPreempt() {
    rt::detail::runtime_locks_inc();
    std::atomic_signal_fence(std::memory_order_seq_cst);
  }
  ~NoAsyncPreempt() {
    std::atomic_signal_fence(std::memory_order_seq_cst);
    rt::detail::runtime_locks_dec();
  }
};

// Allocates `size` bytes. Dies with "fatal error: out of memory" when the
// heap cannot grow.
inline void* allocate(size_t size, unsigned flags) {
  if (__builtin_expect(size - 1 < kMaxSmallSize, 1)) {  // 1 <= size <= 32 KiB
    bool noscan = flags & kNoScan;
    if (!(noscan && size < kTinySize)) {
      void* p;
      {
        NoAsyncPreempt pin;
        p = current_cache()->alloc_small(size, noscan, flags & kZero);
      }
      if (__builtin_expect(p != nullptr, 1)) return p;
    }
  }
  return alloc_slow(size, flags, /*must=*/true);
}

// Like allocate, but returns nullptr instead of dying.
void* try_allocate(size_t size, unsigned flags);

// The general explicit-free path: every check, every case.
bool free_slow(void* p);

// Frees an object returned by allocate. Returns false (and does nothing) for
// zero-size and tiny objects. Dies with a fatal error for a pointer that is
// not the start of a live heap object (double free, interior or foreign
// pointer).
//
// Fast path: a small object in a span that the calling thread's cache owns
// is marked in the span's local_free bitmap with plain loads and stores.
// Anything else (other thread's span, large object, any doubt) goes to
// free_slow, which also does the error reporting.
inline bool free_object(void* ptr) {
  NoAsyncPreempt pin;
  uintptr_t p = reinterpret_cast<uintptr_t>(ptr);
  uintptr_t off = p - g_heap_index.base;
  if (__builtin_expect(off < g_heap_index.grown.load(std::memory_order_relaxed), 1)) {
    MSpan* s = g_heap_index.spans[off >> kPageShift].load(std::memory_order_relaxed);
    Cache* c = t_cache;
    // owner == our cache implies: in use, small, and ours to write.
    if (__builtin_expect(s && c && s->owner.load(std::memory_order_relaxed) == c &&
                             s->spanclass != kTinySpanClass,
                         1)) {
      size_t idx = s->object_index(p);
      size_t w = idx / 64;
      uint64_t bit = uint64_t{1} << (idx % 64);
      uint64_t freed = s->local_free[w].load(std::memory_order_relaxed);
      bool allocated = idx < s->freeindex.load(std::memory_order_relaxed) ||
                       (s->alloc_bits[w].load(std::memory_order_relaxed) & bit);
      bool double_free =
          ((freed | s->remote_free[w].load(std::memory_order_relaxed)) & bit) != 0;
      if (__builtin_expect(s->object_base(idx) == p && allocated && !double_free, 1)) {
        s->local_free[w].store(freed | bit, std::memory_order_relaxed);
        s->local_pending = true;
        CacheStats::bump(c->stats.nfree[s->size_class()], 1);
        return true;
      }
    }
  }
  return free_slow(ptr);
}

// Frees the objects of small span s whose bits are set in word w of its
// bitmaps (all allocated, not tiny): the collector's sweep, one word at a
// time.
inline void free_objects_in_word(MSpan* s, size_t w, uint64_t bits) {
  NoAsyncPreempt pin;
  current_cache()->free_small_word(s, w, bits);
}

// What find_object reports about the object holding an address.
struct ObjectRef {
  uintptr_t base = 0;  // first byte of the object
  size_t size = 0;     // its slot size (elemsize) or, for large objects, its span bytes
  MSpan* span = nullptr;
};
// Resolves any address (interior pointers included) to the allocated object
// that contains it. False for addresses outside the heap, in free slots, or
// past a span's last object. Safe to call from any thread.
bool find_object(uintptr_t addr, ObjectRef* out);

// Slot size backing an allocation of `size` bytes (the size class size, or
// whole pages for large objects).
size_t round_up_size(size_t size);

}  // namespace rt::alloc
