// The layout of GC'd objects in the allocator's heap, and their lookup.
//
// An object made by rt::make sits in one allocator slot whose bit in the
// span's managed_bits is set; slots without it belong to raw allocate()
// users and are neither scanned nor swept.
//
// Type information: scan objects (types that are not trivially copyable)
// carry a 16-byte header at the start of their slot, {TypeInfo*, element
// count}, and the object starts 16 bytes in (so 16-byte alignment holds).
// Noscan objects (trivially copyable: they cannot hold a Ref) carry nothing:
// the sweeper only frees them. Cost: 16 bytes per scan object (a 16-byte
// node becomes a 32-byte slot); Go keeps small objects' type per span
// instead, which the concurrent collector may adopt for small size classes.
//
// Invariant: managed bit set => slot allocated, header written (scan),
// memory zeroed before construction, and - while a cycle is on (phase.h) -
// the mark bit of the cycle's bitmap set first (allocate black). gc_alloc_*
// set all of it inside one librt function, so no stop-the-world can observe
// a half-made object; the sweeper reads the managed bit before the mark
// bit, so it never mistakes a new object for a dead one.
#pragma once

#include <cstddef>
#include <cstdint>

#include "alloc/malloc.h"
#include "alloc/mheap.h"
#include "alloc/mspan.h"
#include "rt/gc.h"

namespace rt::collector {

struct ObjectHeader {
  const rt::detail::TypeInfo* type;
  uint64_t count;
};
inline constexpr size_t kHeaderSize = 16;
static_assert(sizeof(ObjectHeader) == kHeaderSize);

// Smallest slot a GC'd object takes.
inline constexpr size_t kMinObjectBytes = 16;
// Noscan objects made one at a time (rt::make) and smaller than this are
// packed into 16-byte tiny blocks (Go's maxTinySize): a goroutine's P
// carves them from its current block at their alignment. The block is one
// managed object: any pointer into it keeps all of it alive, and it is
// freed when none of its objects is reachable.
inline constexpr size_t kTinyBytes = 16;

inline size_t slot_index(const alloc::MSpan* s, uintptr_t p) {
  return s->is_large() ? 0 : s->object_index(p);
}
// acquire/release: a reader that sees a managed bit set also sees the
// header and the allocate-black mark written before it.
inline bool bit_test(const std::atomic<uint64_t>* bits, size_t idx) {
  return (bits[idx / 64].load(std::memory_order_acquire) >> (idx % 64)) & 1;
}
inline void bit_set(std::atomic<uint64_t>* bits, size_t idx) {
  bits[idx / 64].fetch_or(uint64_t{1} << (idx % 64), std::memory_order_release);
}
inline void bit_clear(std::atomic<uint64_t>* bits, size_t idx) {
  bits[idx / 64].fetch_and(~(uint64_t{1} << (idx % 64)), std::memory_order_relaxed);
}

// A managed object found from any address inside its slot.
struct Managed {
  uintptr_t slot = 0;  // slot start (the header, for scan objects)
  size_t slot_bytes = 0;
  alloc::MSpan* span = nullptr;
  size_t idx = 0;
  bool scan = false;
};
// Resolves an interior pointer to the managed object holding it; false for
// addresses outside the heap, in free slots, or in raw allocations.
//
// Every word a marker scans comes through here, so it looks the span up
// inline and tests only the managed bit: by the invariant above a set
// managed bit means an allocated slot (the sweeper and gc_discard clear it
// before the slot is freed; a span's bitmaps start zeroed), so the
// allocator's allocated / free-pending checks would add nothing.
inline bool find_managed(uintptr_t addr, Managed* out) {
  alloc::MSpan* s = alloc::MHeap::span_of(addr);
  if (!s || addr >= s->limit) return false;
  size_t idx = slot_index(s, addr);
  if (!bit_test(s->managed_bits, idx)) return false;
  bool large = s->is_large();
  out->slot = large ? s->start : s->object_base(idx);
  out->slot_bytes = large ? s->npages * alloc::kPageSize : s->elemsize;
  out->span = s;
  out->idx = idx;
  out->scan = !s->noscan();
  return true;
}

// The payload of a managed scan object: [*obj, *end).
inline void scan_object_bounds(const Managed& m, const rt::detail::TypeInfo** ti, uintptr_t* obj, uintptr_t* end) {
  const auto* h = reinterpret_cast<const ObjectHeader*>(m.slot);
  *ti = h->type;
  *obj = m.slot + kHeaderSize;
  *end = *obj + h->count * (*ti)->size;
}

// Calls f(word) for every word of [lo, hi) (inside the payload starting at
// obj) that may hold a heap pointer: the Ref words of a precise type, every
// word otherwise. Words are loaded relaxed: mutators may store meanwhile.
template <typename F>
void for_each_pointer_word(const rt::detail::TypeInfo* ti, uintptr_t obj, uintptr_t lo, uintptr_t hi, F&& f) {
  if (ti->state.load(std::memory_order_acquire) == rt::detail::TypeInfo::kPrecise) {
    const uint64_t* mask = ti->ptrmask.load(std::memory_order_acquire);
    size_t words = ti->size / 8;
    // A type smaller than a word holds no Ref (and would divide by zero
    // below): a 1-byte class with a user-written copy is a scan type too.
    if (words == 0) return;
    size_t i = ((lo - obj) / 8) % words;  // word index inside the element
    for (uintptr_t p = lo; p + 8 <= hi; p += 8) {
      if ((mask[i / 64] >> (i % 64)) & 1) f(__atomic_load_n(reinterpret_cast<const uintptr_t*>(p), __ATOMIC_RELAXED));
      if (++i == words) i = 0;
    }
  } else {
    for (uintptr_t p = (lo + 7) & ~uintptr_t{7}; p + 8 <= hi; p += 8)
      f(__atomic_load_n(reinterpret_cast<const uintptr_t*>(p), __ATOMIC_RELAXED));
  }
}

}  // namespace rt::collector
