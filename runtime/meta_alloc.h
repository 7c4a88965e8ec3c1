// Memory for the runtime's own structures (channels and their buffers,
// sync.Pool slots, span bitmaps): mimalloc's API, or, in a ThreadSanitizer
// build, the C allocator, which TSan intercepts. TSan must see a block
// freed and handed out again: mimalloc passes blocks between threads with
// atomic operations in its own, uninstrumented library, so without this the
// next owner's first writes would look like races with the last owner's
// accesses.
#pragma once

#include <cstddef>
#include <cstdlib>

#if !defined(RT_TSAN)
#include <mimalloc.h>
#endif

namespace rt::detail {

inline void* meta_malloc(size_t size) {
#if defined(RT_TSAN)
  return malloc(size);
#else
  return mi_malloc(size);
#endif
}

// `align` is a power of two.
inline void* meta_malloc_aligned(size_t size, size_t align) {
#if defined(RT_TSAN)
  void* p = nullptr;
  if (align < sizeof(void*)) align = sizeof(void*);
  return posix_memalign(&p, align, size ? size : 1) == 0 ? p : nullptr;
#else
  return mi_malloc_aligned(size, align);
#endif
}

inline void meta_free(void* p) {
#if defined(RT_TSAN)
  free(p);
#else
  mi_free(p);
#endif
}

}  // namespace rt::detail
