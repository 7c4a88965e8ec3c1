// GC'd objects: rt::make, rt::make_array, rt::gc, rt::keep_alive.
//
// rt::make<T>(args...) allocates a T on the GC heap and constructs it; the
// collector frees it (running its destructor) once nothing reaches it. What
// reaches an object: a Root, a goroutine's stack or registers (scanned
// conservatively, interior pointers included), or a Ref inside another
// reachable object.
//
// Pointer maps are learnt, not declared: while make<T> runs T's constructor,
// every Ref constructed inside the new object records its offset in a
// construction frame (gc/typeinfo.cc); the first construction fixes T's map,
// and a later one that finds a Ref elsewhere demotes T to conservative
// scanning. Trivially copyable types cannot contain a Ref (Ref's copy is
// not trivial): they are allocated noscan, without a header.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

#include "rt/ref.h"
#include "rt/root.h"

namespace rt {

namespace detail {

// Per-type descriptor, one per T (a function-local static).
struct TypeInfo {
  enum State : uint8_t { kUnknown = 0, kPrecise = 1, kConservative = 2 };
  size_t size;                            // sizeof(T)
  void (*destroy)(void* obj, size_t n);   // destroys n elements; null if trivial
  std::atomic<uint8_t> state{kUnknown};
  // Bit i set: word i of a T holds a Ref. Set once (CAS) by the first
  // finished construction, never freed.
  std::atomic<const uint64_t*> ptrmask{nullptr};
};

template <typename T>
void destroy_elements(void* obj, size_t n) {
  T* p = static_cast<T*>(obj);
  for (size_t i = 0; i < n; i++) p[i].~T();
}

template <typename T>
TypeInfo* type_info_of() {
  static TypeInfo ti{sizeof(T), std::is_trivially_destructible_v<T> ? nullptr : &destroy_elements<T>};
  return &ti;
}

// An object under construction (gc/typeinfo.cc): Refs constructed inside
// [base, base + size) record their word offsets in bits.
struct ConstructionFrame {
  uintptr_t base = 0;
  size_t size = 0;
  TypeInfo* type = nullptr;
  ConstructionFrame* prev = nullptr;
  uint64_t* bits = nullptr;  // inline_bits, or a heap block for big types
  uint64_t inline_bits[4] = {};
  bool saw_ref = false;
};
void construction_begin(ConstructionFrame* f, void* obj, TypeInfo* ti);
void construction_end(ConstructionFrame* f);    // merges f's map into the type's
void construction_abort(ConstructionFrame* f);  // the constructor threw

// Allocation (gc/heapobj.cc). Scan objects get a 16-byte header (type and
// element count) and zeroed memory; noscan objects neither.
void* gc_alloc_scan(TypeInfo* ti, size_t count);
void* gc_alloc_noscan(size_t bytes);
// A noscan object of bytes < 16 (a power-of-two align <= 8), packed into
// the calling P's tiny block. Never passed to gc_discard: it shares its
// block.
void* gc_alloc_tiny(size_t bytes, size_t align);
// gc_alloc_noscan for count elements of size bytes: a product past the
// heap's largest object is a fatal out-of-memory error, not a wrapped size.
void* gc_alloc_noscan_array(size_t count, size_t size);
// Gives back an object whose constructor threw.
void gc_discard(void* obj);

// Plain (non-goroutine) threads: a collection waits for threads inside
// make or a barriered store, and they wait for it (gc/gate.cc). No-ops on
// goroutines, which a stop-the-world stops anyway.
void plain_gate_enter();
void plain_gate_exit();
struct PlainGate {
  PlainGate() { plain_gate_enter(); }
  ~PlainGate() { plain_gate_exit(); }
  PlainGate(const PlainGate&) = delete;
  PlainGate& operator=(const PlainGate&) = delete;
};

template <typename T>
void construct_elements(T* p, size_t n, TypeInfo* ti) {
  size_t done = 0;
  try {
    for (; done < n; done++) {
      ConstructionFrame f;
      construction_begin(&f, p + done, ti);
      try {
        new (p + done) T();
      } catch (...) {
        construction_abort(&f);
        throw;
      }
      construction_end(&f);
    }
  } catch (...) {
    while (done > 0) p[--done].~T();
    gc_discard(p);
    throw;
  }
}

}  // namespace detail

// Allocates and constructs a T on the GC heap. T's alignment must be at
// most 16. On a plain thread, the result is protected only once stored in a
// Root (see make_root).
template <typename T, typename... Args>
T* make(Args&&... args) {
  static_assert(alignof(T) <= 16, "rt::make: over-aligned types are not supported");
  detail::PlainGate gate;
  if constexpr (std::is_trivially_copyable_v<T> && sizeof(T) < 16) {
    // Tiny: packed with others into a 16-byte block. A constructor that
    // throws leaves its bytes as garbage inside the block.
    void* p = detail::gc_alloc_tiny(sizeof(T), alignof(T));
    return new (p) T(std::forward<Args>(args)...);
  } else if constexpr (std::is_trivially_copyable_v<T>) {
    void* p = detail::gc_alloc_noscan(sizeof(T));
    try {
      return new (p) T(std::forward<Args>(args)...);
    } catch (...) {
      detail::gc_discard(p);
      throw;
    }
  } else {
    detail::TypeInfo* ti = detail::type_info_of<T>();
    void* p = detail::gc_alloc_scan(ti, 1);
    detail::ConstructionFrame f;
    detail::construction_begin(&f, p, ti);
    try {
      new (p) T(std::forward<Args>(args)...);
    } catch (...) {
      detail::construction_abort(&f);
      detail::gc_discard(p);
      throw;
    }
    detail::construction_end(&f);
    return static_cast<T*>(p);
  }
}

// n value-initialised Ts in one GC'd block; the collector keeps the whole
// block alive through a pointer to any element.
template <typename T>
T* make_array(size_t n) {
  static_assert(alignof(T) <= 16, "rt::make_array: over-aligned types are not supported");
  detail::PlainGate gate;
  if constexpr (std::is_trivially_copyable_v<T>) {
    void* p = detail::gc_alloc_noscan_array(n, sizeof(T));
    T* a = static_cast<T*>(p);
    for (size_t i = 0; i < n; i++) new (a + i) T();
    return a;
  } else {
    detail::TypeInfo* ti = detail::type_info_of<T>();
    T* a = static_cast<T*>(detail::gc_alloc_scan(ti, n));
    detail::construct_elements(a, n, ti);
    return a;
  }
}

// make, returning a Root: on a plain thread the object is rooted before any
// collection can run, which plain `Root r(make<T>())` does not promise.
template <typename T, typename... Args>
Root<T> make_root(Args&&... args) {
  detail::PlainGate gate;
  return Root<T>(make<T>(std::forward<Args>(args)...));
}

// Runs a full collection and returns when it is over (all unreachable
// objects freed, their destructors run). Callable from goroutines and
// plain threads, concurrently (calls queue).
void gc();

// Sets the heap growth percentage (Go's debug.SetGCPercent; RT_GOGC at
// start, 100 by default) and returns the previous one. A negative value
// turns automatic collection off (with no memory limit set, only rt::gc()
// collects); the next cycle's goal is marked + (marked + stacks + roots) x
// percent/100, at least 4 MiB x percent/100. Takes effect at the next
// allocation.
int set_gc_percent(int percent);

// Sets the soft memory limit in bytes (Go's debug.SetMemoryLimit; RT_MEMLIMIT
// at start, INT64_MAX = no limit by default) and returns the previous one;
// a negative argument only reads it. The collector runs as often as needed
// to keep the runtime's memory (heap, stacks and metadata, less what was
// released to the OS) under the limit, allocation returns free pages to
// the OS while above it, and the GC CPU limiter keeps the collector near
// half of the CPU when the live heap alone exceeds it. Works with
// set_gc_percent(-1): then cycles run only near the limit.
int64_t set_memory_limit(int64_t bytes);

// Keeps p's target alive up to this point (Go's runtime.KeepAlive).
template <typename T>
inline void keep_alive(T* p) {
  asm volatile("" : : "r"(p) : "memory");
}
template <typename T>
inline void keep_alive(const Ref<T>& r) {
  keep_alive(r.get());
}

// Collector statistics.
struct GcStats {
  // Histogram of single stop-the-world pauses: bucket k counts pauses of
  // [2^k, 2^(k+1)) nanoseconds (bucket 0 also holds shorter ones, the last
  // one longer ones).
  static constexpr int kPauseBuckets = 40;
  uint64_t cycles = 0;          // completed collections
  uint64_t freed_objects = 0;   // objects freed by all collections
  uint64_t destructors_run = 0; // destructor calls by the sweeper (elements)
  uint64_t live_bytes = 0;      // slot bytes marked by the last collection
  uint64_t marked_objects = 0;  // objects the last collection's marking shaded
  uint64_t marked_bytes = 0;    // their slot bytes (the next trigger's base)
  uint64_t trigger_bytes = 0;   // heap live at which the next cycle starts (0 = never)
  // Stop-the-world pauses, each from the stop request to the world running
  // again. A cycle stops the world twice (sweep termination, mark
  // termination), more if mark termination found work and restarted.
  int64_t last_pause_ns = 0;    // the last cycle's pauses, summed
  int64_t max_pause_ns = 0;     // the longest single pause of any cycle
  int64_t total_pause_ns = 0;
  int64_t pause_ns[256] = {};   // ring: cycle k's summed pauses at [(k - 1) % 256]
  uint64_t pause_hist[kPauseBuckets] = {};
  uint64_t mark_termination_retries = 0;  // restarts after finding late work
  uint64_t weak_cleared = 0;       // Weak pointers cleared (their targets died)
  uint64_t finalizers_queued = 0;  // finalizers found due (objects resurrected)
  uint64_t finalizers_run = 0;     // finalizers that have run
};
GcStats gc_stats();

}  // namespace rt
