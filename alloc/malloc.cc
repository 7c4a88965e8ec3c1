// Allocation entry points: see malloc.h.
#include "alloc/malloc.h"

#include "runtime/fatal.h"

namespace rt::alloc {

alignas(16) char g_zerobase[16];

namespace {
void no_safepoint() {}
}  // namespace
void (*g_alloc_safepoint)() = no_safepoint;

namespace {

[[noreturn, gnu::noinline, gnu::cold]] void bad_free(const void* ptr, const char* why) {
  rt::detail::FixedText t;
  t << "free of " << ptr << ", " << why;
  rt::detail::fatal(t);
}

[[noreturn, gnu::noinline, gnu::cold]] void out_of_memory(size_t size) {
  rt::detail::FixedText t;
  t << "out of memory: cannot allocate " << uint64_t{size} << "-byte block (heap in use "
    << uint64_t{MHeap::initialized() ? MHeap::get().page_stats().inuse : 0} << " bytes)";
  rt::detail::fatal(t);
}

}  // namespace

void* alloc_slow(size_t size, unsigned flags, bool must) {
  void* p = nullptr;
  bool noscan = flags & kNoScan;
  if (size == 0) return g_zerobase;
  g_alloc_safepoint();  // may switch goroutines: no cache pointer held yet
  NoAsyncPreempt pin;
  if (size <= kMaxSmallSize) {
    Cache* c = current_cache();
    p = (noscan && size < kTinySize) ? c->alloc_tiny(size) : c->alloc_small(size, noscan, flags & kZero);
  } else if (size <= kMaxAllocSize) {
    p = current_cache()->alloc_large(size, noscan, flags & kZero);
  }
  if (!p && must) out_of_memory(size);
  return p;
}

void* try_allocate(size_t size, unsigned flags) { return alloc_slow(size, flags, /*must=*/false); }

bool free_slow(void* ptr) {
  uintptr_t p = reinterpret_cast<uintptr_t>(ptr);
  if (ptr == nullptr || ptr == g_zerobase) return false;
  MSpan* s = MHeap::initialized() ? MHeap::get().span_of(p) : nullptr;
  if (!s) bad_free(ptr, "which is not in the heap");
  if (s->spanclass == kTinySpanClass) return false;
  size_t idx = s->is_large() ? 0 : s->object_index(p);
  if (p >= s->limit || s->object_base(idx) != p || !s->is_allocated(idx))
    bad_free(ptr, "which is not the start of an allocated object");
  Cache* c = current_cache();
  if (s->is_large()) {
    c->free_large(s);
  } else {
    c->free_small(s, idx);
  }
  return true;
}

bool find_object(uintptr_t addr, ObjectRef* out) {
  if (!MHeap::initialized()) return false;
  MSpan* s = MHeap::get().span_of(addr);
  if (!s || addr >= s->limit) return false;
  size_t idx = s->is_large() ? 0 : s->object_index(addr);
  if (!s->is_allocated(idx) || (!s->is_large() && s->free_pending(idx))) return false;
  out->base = s->object_base(idx);
  out->size = s->is_large() ? s->npages * kPageSize : s->elemsize;
  out->span = s;
  return true;
}

size_t round_up_size(size_t size) {
  if (size == 0) return 0;
  if (size <= kMaxSmallSize) return kSizeClasses[size_to_class(size)].size;
  return (size + kPageSize - 1) & ~(kPageSize - 1);
}

}  // namespace rt::alloc
