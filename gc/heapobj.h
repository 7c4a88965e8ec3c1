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
// Invariant: managed bit set => slot allocated, header written (scan) and
// memory zeroed before construction. gc_alloc_* set all of it inside one
// librt function, so no stop-the-world can observe a half-made object.
#pragma once

#include <cstddef>
#include <cstdint>

#include "alloc/malloc.h"
#include "alloc/mspan.h"
#include "rt/gc.h"

namespace rt::collector {

struct ObjectHeader {
  const rt::detail::TypeInfo* type;
  uint64_t count;
};
inline constexpr size_t kHeaderSize = 16;
static_assert(sizeof(ObjectHeader) == kHeaderSize);

// Smallest slot a GC'd object takes: no tiny-allocator packing, so every
// object can be freed alone.
inline constexpr size_t kMinObjectBytes = 16;

inline size_t slot_index(const alloc::MSpan* s, uintptr_t p) {
  return s->is_large() ? 0 : s->object_index(p);
}
inline bool bit_test(const std::atomic<uint64_t>* bits, size_t idx) {
  return (bits[idx / 64].load(std::memory_order_relaxed) >> (idx % 64)) & 1;
}
inline void bit_set(std::atomic<uint64_t>* bits, size_t idx) {
  bits[idx / 64].fetch_or(uint64_t{1} << (idx % 64), std::memory_order_relaxed);
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
bool find_managed(uintptr_t addr, Managed* out);

// Bytes allocated by make since the last cycle (flushed per thread).
void note_cycle_done(uint64_t live_bytes);

}  // namespace rt::collector
