// Allocation and lookup of GC'd objects. See heapobj.h for the layout.
#include "gc/heapobj.h"

#include <cstring>

#include "alloc/mheap.h"
#include "alloc/poison.h"
#include "gc/collector.h"
#include "gc/gate.h"
#include "gc/phase.h"
#include "runtime/fatal.h"
#include "sched/proc.h"

namespace rt::collector {

namespace {

[[noreturn, gnu::cold, gnu::noinline]] void too_big(size_t count, size_t size) {
  rt::detail::FixedText t;
  t << "out of memory: rt::make_array: " << uint64_t{count} << " elements of " << uint64_t{size}
    << " bytes overflow the heap";
  rt::detail::fatal(t);
}

// Marks the new object black if a cycle is on, then publishes it as
// managed (release: header and mark first).
void publish_managed(void* slot) {
  // The slot was just allocated: its span is in use and in the table
  // (published before the allocator handed it to this thread), so the
  // lookup needs none of span_of's checks.
  auto a = reinterpret_cast<uintptr_t>(slot);
  alloc::MSpan* s = alloc::g_heap_index.spans[(a - alloc::g_heap_index.base) >> alloc::kPageShift].load(
      std::memory_order_relaxed);
  size_t idx = slot_index(s, a);
  uint32_t st = g_gcstate.load(std::memory_order_relaxed);
  if (st & 3) marks_of(s, (st >> 2) & 1)[idx / 64].fetch_or(uint64_t{1} << (idx % 64), std::memory_order_relaxed);
  bit_set(s->managed_bits, idx);
}

}  // namespace

}  // namespace rt::collector

namespace rt::detail {

using rt::collector::ObjectHeader;

void* gc_alloc_scan(TypeInfo* ti, size_t count) {
  if (count != 0 && ti->size > (alloc::kMaxAllocSize - rt::collector::kHeaderSize) / count)
    rt::collector::too_big(count, ti->size);
  size_t bytes = rt::collector::kHeaderSize + ti->size * count;
  // Safe points (preemption, assists) come before the object exists.
  rt::sched::preempt_check();
  rt::collector::account_allocation(bytes, /*scan=*/true);
  // From here to the return nothing can stop the world: this is librt code
  // (no asynchronous preemption) and allocate's only safe point comes
  // before it takes a slot.
  void* slot = alloc::allocate(bytes, alloc::kScan | alloc::kZero);
  auto* h = static_cast<ObjectHeader*>(slot);
  h->type = ti;
  h->count = count;
  rt::collector::publish_managed(slot);
  return static_cast<char*>(slot) + rt::collector::kHeaderSize;
}

void* gc_alloc_noscan(size_t bytes) {
  if (bytes < rt::collector::kMinObjectBytes) bytes = rt::collector::kMinObjectBytes;
  rt::sched::preempt_check();
  rt::collector::account_allocation(bytes, /*scan=*/false);
  void* slot = alloc::allocate(bytes, alloc::kNoScan);
  rt::collector::publish_managed(slot);
  return slot;
}

void* gc_alloc_tiny(size_t bytes, size_t align) {
  using namespace rt::collector;
  rt::sched::preempt_check();
  // From the P's block when it is of this cycle and the object fits at its
  // alignment. Nothing from here to the return is a safe point, so the P
  // and the cycle count cannot change under it. Plain threads (and
  // syscall scopes, whose P may be taken) get a block of their own.
  bool on_p = stopped_by_the_world();
  if (on_p) {
    rt::sched::P* p = rt::sched::current_m()->p;
    if (p->gc_tiny != 0 && p->gc_tiny_cycle == g_cycle_starts.load(std::memory_order_relaxed)) {
      size_t off = (p->gc_tiny_off + align - 1) & ~(align - 1);
      if (off + bytes <= kTinyBytes) {
        p->gc_tiny_off = static_cast<uint32_t>(off + bytes);
        return reinterpret_cast<void*>(p->gc_tiny + off);
      }
    }
  }
  // A new block (the only allocation the pacer sees; its assist or wait
  // may move this goroutine to another P: the P is read again after).
  account_allocation(kTinyBytes, /*scan=*/false);
  void* slot = alloc::allocate(kTinyBytes, alloc::kNoScan);
  publish_managed(slot);
  if (on_p) {
    rt::sched::P* p = rt::sched::current_m()->p;
    p->gc_tiny = reinterpret_cast<uintptr_t>(slot);
    p->gc_tiny_off = static_cast<uint32_t>(bytes);
    p->gc_tiny_cycle = g_cycle_starts.load(std::memory_order_relaxed);
  }
  return slot;
}

void* gc_alloc_noscan_array(size_t count, size_t size) {
  // Checked before multiplying: a wrapped count * size would hand back a
  // small block that the caller then fills with count elements.
  if (count != 0 && size > alloc::kMaxAllocSize / count) rt::collector::too_big(count, size);
  return gc_alloc_noscan(count * size);
}

void gc_discard(void* obj) {
  rt::collector::Managed m;
  if (!rt::collector::find_managed(reinterpret_cast<uintptr_t>(obj), &m))
    fatal("rt::gc: discarding an object that is not a live GC'd object");
  if (m.scan) memset(reinterpret_cast<void*>(m.slot), 0, rt::collector::kHeaderSize);
  rt::collector::bit_clear(m.span->managed_bits, m.idx);
  if (!m.span->is_large()) alloc::poison_range(reinterpret_cast<void*>(m.slot), m.slot_bytes);
  alloc::free_object(reinterpret_cast<void*>(m.slot));
}

}  // namespace rt::detail
