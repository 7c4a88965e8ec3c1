// ASan annotations for heap slots (no-ops in other builds).
//
// The collector poisons the slot of each object it frees (gc/sweep.cc,
// gc/heapobj.cc) before handing it back, so a use after free of a GC'd
// object is an ASan report instead of silent corruption. The allocator
// unpoisons a slot whenever it hands one out (mcache.h / mcache.cc) and a
// whole span when its pages go back to the page heap (mheap.cc), so poison
// never outlives the slot it was meant for.
#pragma once

#include <cstddef>

#if defined(RT_ASAN)
#include <sanitizer/asan_interface.h>
#endif

namespace rt::alloc {

inline void poison_range(const void* p, size_t n) {
#if defined(RT_ASAN)
  ASAN_POISON_MEMORY_REGION(p, n);
#else
  (void)p, (void)n;
#endif
}

inline void unpoison_range(const void* p, size_t n) {
#if defined(RT_ASAN)
  ASAN_UNPOISON_MEMORY_REGION(p, n);
#else
  (void)p, (void)n;
#endif
}

}  // namespace rt::alloc
