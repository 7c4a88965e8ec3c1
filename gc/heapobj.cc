// Allocation and lookup of GC'd objects. See heapobj.h for the layout.
#include "gc/heapobj.h"

#include <cstring>

#include "alloc/mheap.h"
#include "gc/collector.h"
#include "runtime/fatal.h"

namespace rt::collector {

namespace {

[[noreturn, gnu::cold, gnu::noinline]] void too_big(size_t count, size_t size) {
  rt::detail::FixedText t;
  t << "rt::make_array: " << uint64_t{count} << " elements of " << uint64_t{size}
    << " bytes overflow the heap";
  rt::detail::fatal(t);
}

alloc::MSpan* span_of_slot(void* slot) {
  return alloc::MHeap::get().span_of(reinterpret_cast<uintptr_t>(slot));
}

}  // namespace

bool find_managed(uintptr_t addr, Managed* out) {
  alloc::ObjectRef o;
  if (!alloc::find_object(addr, &o)) return false;
  size_t idx = slot_index(o.span, addr);
  if (!bit_test(o.span->managed_bits, idx)) return false;
  out->slot = o.base;
  out->slot_bytes = o.size;
  out->span = o.span;
  out->idx = idx;
  out->scan = !o.span->noscan();
  return true;
}

}  // namespace rt::collector

namespace rt::detail {

using rt::collector::ObjectHeader;

void* gc_alloc_scan(TypeInfo* ti, size_t count) {
  if (count != 0 && ti->size > (alloc::kMaxAllocSize - rt::collector::kHeaderSize) / count)
    rt::collector::too_big(count, ti->size);
  size_t bytes = rt::collector::kHeaderSize + ti->size * count;
  rt::collector::account_allocation(bytes);  // may run a cycle: before the object exists
  // From here to the return nothing can stop the world: this is librt code
  // (no asynchronous preemption) and allocate's only safe point comes
  // before it takes a slot.
  void* slot = alloc::allocate(bytes, alloc::kScan | alloc::kZero);
  auto* h = static_cast<ObjectHeader*>(slot);
  h->type = ti;
  h->count = count;
  alloc::MSpan* s = rt::collector::span_of_slot(slot);
  rt::collector::bit_set(s->managed_bits, rt::collector::slot_index(s, reinterpret_cast<uintptr_t>(slot)));
  return static_cast<char*>(slot) + rt::collector::kHeaderSize;
}

void* gc_alloc_noscan(size_t bytes) {
  if (bytes < rt::collector::kMinObjectBytes) bytes = rt::collector::kMinObjectBytes;
  rt::collector::account_allocation(bytes);
  void* slot = alloc::allocate(bytes, alloc::kNoScan);
  alloc::MSpan* s = rt::collector::span_of_slot(slot);
  rt::collector::bit_set(s->managed_bits, rt::collector::slot_index(s, reinterpret_cast<uintptr_t>(slot)));
  return slot;
}

void gc_discard(void* obj) {
  rt::collector::Managed m;
  if (!rt::collector::find_managed(reinterpret_cast<uintptr_t>(obj), &m))
    fatal("rt::gc: discarding an object that is not a live GC'd object");
  if (m.scan) memset(reinterpret_cast<void*>(m.slot), 0, rt::collector::kHeaderSize);
  rt::collector::bit_clear(m.span->managed_bits, m.idx);
  alloc::free_object(reinterpret_cast<void*>(m.slot));
}

}  // namespace rt::detail
