// rt::Slice<T>: Go's slice, a {pointer, len, cap} view of a GC'd backing
// array.
//
// The header is a value (24 bytes, copied freely): the array pointer in an
// rt::Ref<T>, then len and cap. Because the pointer is a Ref, a Slice is
// scanned and barriered wherever a Ref is: inside a GC'd object its word
// joins the enclosing type's learnt pointer map and every store of it
// passes the write barrier; on a goroutine's stack it is scanned
// conservatively. Anywhere else a Ref may not live (a plain thread's stack,
// globals, malloc'd memory, a channel buffer, an rt::go capture) use
// rt::RootSlice<T>: the same slice with its pointer in an rt::Root<T>.
// Both are BasicSlice<T, Holder>; they convert into each other.
//
// The backing array is one GC'd block of cap elements, every one of them
// constructed (Go's zeroed memory is C++'s value initialisation): trivially
// copyable Ts make a pointer-free (noscan) block; others a scan block whose
// header counts all cap elements, so the sweeper destroys each of them once
// the block dies. A slice may point at any element of its array: the
// collector resolves interior pointers to the block. As in Go, a slice
// expression whose result has capacity 0 keeps the old pointer instead of
// advancing it, so no slice ever points one past its array (where the next
// slot begins), and an empty non-nil slice that owns no array points at a
// static zero base, which the collector ignores.
//
// Growth (append past cap): Go's rule (runtime.growslice, go1.19) - the
// new capacity is double the old below 256 elements, then grows by
// (cap + 768) / 4 until it holds the new length (or is the new length when
// that exceeds double), and is rounded up to fill the allocator's size
// class. For pointer-free Ts that is Go's exact sequence; a scan block
// also holds its 16-byte header, so its capacity is what fits in the slot
// beside the header.
//
// Element copies (growth, append of a slice, copy) go through T's own copy
// constructor or assignment, so every Ref inside an element is stored by
// rt::detail::ref_store and shaded like any other store: this is the bulk
// barrier (Go's typedmemmove / bulkBarrierPreWrite) done one Ref at a time.
// A raw word-range hook would need T's pointer map, which is learnt and
// may be unknown or conservative when the copy runs, and would skip the
// copy semantics of T's other members; the per-Ref call is only paid when
// elements are copied. Pointer-free Ts are moved with memmove.
//
// Out-of-range indexes and slice expressions throw rt::Panic with Go's
// runtime error text ("runtime error: index out of range [5] with length
// 3"). Like Go's slices, a Slice shared between goroutines needs their
// synchronisation; the collector only needs the barrier, which every
// pointer store has.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <type_traits>
#include <utility>

#include "rt/gc.h"
#include "rt/ref.h"
#include "rt/root.h"

namespace rt {

template <typename T, typename Holder>
class BasicSlice;

// A slice on a goroutine's stack or inside a GC'd object.
template <typename T>
using Slice = BasicSlice<T, Ref<T>>;
// A slice held from outside the GC heap (its array pointer is a Root).
template <typename T>
using RootSlice = BasicSlice<T, Root<T>>;

namespace detail {

// gc/slice.cc: the out-of-line half (Go's growth rule over librt's size
// classes, Go's bounds-error texts).
size_t slice_grow_cap(size_t old_cap, size_t old_len, size_t add, size_t elem_size, bool scan);
void slice_check_make(size_t len, size_t cap, size_t elem_size, bool scan);
[[noreturn]] void panic_index(size_t i, size_t len);
// Which check of a slice expression failed (Go's boundsErrorCode).
enum class SliceBounds : uint8_t {
  kAcap,   // s[:x], x > cap
  kB,      // s[x:y], x > y
  k3Acap,  // s[::x], x > cap
  k3B,     // s[:x:y], x > y
  k3C,     // s[x:y:], x > y
};
[[noreturn]] void panic_slice_bounds(SliceBounds code, size_t x, size_t y);
// What empty non-nil slices without an array point at (Go's zerobase).
extern char slice_zerobase[];

template <typename T>
inline constexpr bool slice_scan_v = !std::is_trivially_copyable_v<T>;

template <typename T, typename V>
struct is_slice_of : std::false_type {};
template <typename T, typename H>
struct is_slice_of<T, BasicSlice<T, H>> : std::true_type {};

// A new backing array of cap elements: the first n copy-constructed from
// src, the rest value-initialised. The caller holds the plain-thread gate
// until the array is stored in its result.
template <typename T>
T* slice_array(size_t cap, const T* src, size_t n) {
  static_assert(alignof(T) <= 16, "rt::Slice: over-aligned types are not supported");
  if constexpr (!slice_scan_v<T>) {
    T* a = static_cast<T*>(gc_alloc_noscan_array(cap, sizeof(T)));
    if (n) memcpy(static_cast<void*>(a), src, n * sizeof(T));
    for (size_t i = n; i < cap; i++) new (a + i) T();
    return a;
  } else {
    // make_array's construction, with copies first: each element is built
    // inside its own construction frame, so its Refs are recorded in T's
    // pointer map and their stores (copy constructors included) pass the
    // barrier.
    TypeInfo* ti = type_info_of<T>();
    T* a = static_cast<T*>(gc_alloc_scan(ti, cap));
    size_t done = 0;
    try {
      for (; done < cap; done++) {
        ConstructionFrame f;
        construction_begin(&f, a + done, ti);
        try {
          if (done < n)
            new (a + done) T(src[done]);
          else
            new (a + done) T();
        } catch (...) {
          construction_abort(&f);
          throw;
        }
        construction_end(&f);
      }
    } catch (...) {
      while (done > 0) a[--done].~T();
      gc_discard(a);
      throw;
    }
    return a;
  }
}

// dst[0..n) = src[0..n), correct when the ranges overlap (memmove's rule).
template <typename T>
void slice_copy_elements(T* dst, const T* src, size_t n) {
  if (n == 0 || dst == src) return;
  if constexpr (!slice_scan_v<T>) {
    memmove(static_cast<void*>(dst), src, n * sizeof(T));
  } else if (reinterpret_cast<uintptr_t>(dst) < reinterpret_cast<uintptr_t>(src)) {
    for (size_t i = 0; i < n; i++) dst[i] = src[i];
  } else {
    for (size_t i = n; i-- > 0;) dst[i] = src[i];
  }
}

// Builds slices from their parts; the only way to make a non-nil one.
struct SliceAccess {
  template <typename T, typename H>
  static BasicSlice<T, H> parts(T* p, size_t len, size_t cap) {
    return BasicSlice<T, H>(p, len, cap, 0);
  }

  template <typename T, typename H>
  static BasicSlice<T, H> make(size_t len, size_t cap) {
    slice_check_make(len, cap, sizeof(T), slice_scan_v<T>);
    if (cap == 0) return parts<T, H>(reinterpret_cast<T*>(slice_zerobase), 0, 0);
    PlainGate gate;
    return parts<T, H>(slice_array<T>(cap, nullptr, 0), len, cap);
  }

  // s with its length grown by add: in place while cap allows, else over a
  // new array holding copies of s's elements.
  template <typename T, typename H>
  static BasicSlice<T, H> extend(const BasicSlice<T, H>& s, size_t add) {
    size_t len = s.len_;
    if (add <= s.cap_ - len) return parts<T, H>(s.data(), len + add, s.cap_);
    size_t cap = slice_grow_cap(s.cap_, len, add, sizeof(T), slice_scan_v<T>);
    PlainGate gate;
    return parts<T, H>(slice_array<T>(cap, s.data(), len), len + add, cap);
  }
};

}  // namespace detail

template <typename T, typename Holder>
class BasicSlice {
  static_assert(std::is_same_v<Holder, Ref<T>> || std::is_same_v<Holder, Root<T>>,
                "rt::BasicSlice: the holder is rt::Ref<T> (Slice) or rt::Root<T> (RootSlice)");
  static_assert(!std::is_const_v<T> && !std::is_volatile_v<T> && !std::is_reference_v<T>,
                "rt::Slice: elements are plain object types");

 public:
  using value_type = T;
  using element_type = T;
  using size_type = size_t;
  using iterator = T*;

  // The nil slice.
  BasicSlice() noexcept = default;
  BasicSlice(std::nullptr_t) noexcept {}  // NOLINT: implicit, `s = nullptr`
  BasicSlice(const BasicSlice& o) noexcept : ptr_(o.data()), len_(o.len_), cap_(o.cap_) {}
  template <typename H2>
    requires(!std::is_same_v<H2, Holder>)
  BasicSlice(const BasicSlice<T, H2>& o) noexcept  // NOLINT: Slice <-> RootSlice
      : ptr_(o.data()), len_(o.len()), cap_(o.cap()) {}
  ~BasicSlice() = default;

  BasicSlice& operator=(const BasicSlice& o) noexcept {
    assign(o.data(), o.len_, o.cap_);
    return *this;
  }
  template <typename H2>
    requires(!std::is_same_v<H2, Holder>)
  BasicSlice& operator=(const BasicSlice<T, H2>& o) noexcept {
    assign(o.data(), o.len(), o.cap());
    return *this;
  }
  BasicSlice& operator=(std::nullptr_t) noexcept {
    assign(nullptr, 0, 0);
    return *this;
  }

  size_t len() const noexcept { return len_; }
  size_t cap() const noexcept { return cap_; }
  // nil, as opposed to empty: make_slice<T>(0) and s.slice(i, i) of a
  // non-nil s are empty but not nil.
  bool is_nil() const noexcept { return data() == nullptr; }
  T* data() const noexcept { return ptr_.get(); }
  T* begin() const noexcept { return data(); }
  T* end() const noexcept { return data() + len_; }

  // s[i]; i >= len panics.
  T& operator[](size_t i) const {
    if (i >= len_) [[unlikely]]
      detail::panic_index(i, len_);
    return data()[i];
  }

  // s[lo:]
  BasicSlice slice(size_t lo) const {
    if (lo > len_) [[unlikely]]
      detail::panic_slice_bounds(detail::SliceBounds::kB, lo, len_);
    return sub(lo, len_, cap_);
  }
  // s[lo:hi]: hi may reach past len up to cap.
  BasicSlice slice(size_t lo, size_t hi) const {
    if (hi > cap_) [[unlikely]]
      detail::panic_slice_bounds(detail::SliceBounds::kAcap, hi, cap_);
    if (lo > hi) [[unlikely]]
      detail::panic_slice_bounds(detail::SliceBounds::kB, lo, hi);
    return sub(lo, hi, cap_);
  }
  // s[lo:hi:max]: the result's capacity is max - lo.
  BasicSlice slice(size_t lo, size_t hi, size_t max) const {
    if (max > cap_) [[unlikely]]
      detail::panic_slice_bounds(detail::SliceBounds::k3Acap, max, cap_);
    if (hi > max) [[unlikely]]
      detail::panic_slice_bounds(detail::SliceBounds::k3B, hi, max);
    if (lo > hi) [[unlikely]]
      detail::panic_slice_bounds(detail::SliceBounds::k3C, lo, hi);
    return sub(lo, hi, max);
  }

  // Slices compare only with nil, as in Go.
  friend bool operator==(const BasicSlice& s, std::nullptr_t) noexcept { return s.is_nil(); }

 private:
  friend struct detail::SliceAccess;
  BasicSlice(T* p, size_t len, size_t cap, int) noexcept : ptr_(p), len_(len), cap_(cap) {}

  void assign(T* p, size_t len, size_t cap) noexcept {
    ptr_ = p;
    len_ = len;
    cap_ = cap;
  }
  BasicSlice sub(size_t lo, size_t hi, size_t max) const {
    size_t cap = max - lo;
    // A result without capacity keeps the old pointer: lo may be the
    // array's end, and a pointer there would keep the next slot alive.
    return BasicSlice(cap ? data() + lo : data(), hi - lo, cap, 0);
  }

  Holder ptr_;
  size_t len_ = 0;
  size_t cap_ = 0;
};

// make([]T, len) and make([]T, len, cap): every element value-initialised.
// len > cap panics ("makeslice: cap out of range").
template <typename T>
[[nodiscard]] Slice<T> make_slice(size_t len, size_t cap) {
  return detail::SliceAccess::make<T, Ref<T>>(len, cap);
}
template <typename T>
[[nodiscard]] Slice<T> make_slice(size_t len) {
  return make_slice<T>(len, len);
}
// make_slice, returning a RootSlice: the way for plain threads (the array
// is rooted before any collection can run).
template <typename T>
[[nodiscard]] RootSlice<T> make_root_slice(size_t len, size_t cap) {
  return detail::SliceAccess::make<T, Root<T>>(len, cap);
}
template <typename T>
[[nodiscard]] RootSlice<T> make_root_slice(size_t len) {
  return make_root_slice<T>(len, len);
}

// append(s, v...): the values assigned after s's elements, in s's array
// while its capacity allows (other slices of that array see them), else in
// a new array (see growth above). append(s) returns s.
template <typename T, typename H, typename... Vs>
  requires((std::is_assignable_v<T&, Vs &&> && ...) &&
           !(sizeof...(Vs) == 1 && (detail::is_slice_of<T, std::remove_cvref_t<Vs>>::value && ...)))
[[nodiscard]] BasicSlice<T, H> append(const BasicSlice<T, H>& s, Vs&&... vs) {
  if constexpr (sizeof...(Vs) == 0) {
    return s;
  } else {
    BasicSlice<T, H> r = detail::SliceAccess::extend(s, sizeof...(Vs));
    T* p = r.data() + s.len();
    size_t i = 0;
    ((p[i++] = std::forward<Vs>(vs)), ...);
    return r;
  }
}

// append(s, t...): t's elements after s's; t may overlap s's array.
template <typename T, typename H, typename H2>
[[nodiscard]] BasicSlice<T, H> append(const BasicSlice<T, H>& s, const BasicSlice<T, H2>& t) {
  size_t n = t.len();
  if (n == 0) return s;
  BasicSlice<T, H> r = detail::SliceAccess::extend(s, n);
  detail::slice_copy_elements(r.data() + s.len(), t.data(), n);
  return r;
}

// copy(dst, src): min(len(dst), len(src)) elements, overlap-safe; returns
// how many.
template <typename T, typename H1, typename H2>
size_t copy(const BasicSlice<T, H1>& dst, const BasicSlice<T, H2>& src) {
  size_t n = dst.len() < src.len() ? dst.len() : src.len();
  detail::slice_copy_elements(dst.data(), src.data(), n);
  return n;
}

}  // namespace rt
