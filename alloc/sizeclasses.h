// Size classes: how small allocations are rounded and packed into spans.
//
// The table is computed at compile time by the same rules as Go's
// mksizeclasses: walk sizes in steps of the current alignment (8 bytes, then
// 16 from 32 B, size/8 from 128 B, 256 from 2 KiB); give each size the
// smallest run of 8 KiB pages whose tail waste is at most 1/8; merge a size
// into its predecessor when both use the same pages for the same number of
// objects; finally grow each class to the largest size (keeping 128-byte
// granularity) that still fits the same number of objects. The result is 68
// classes (class 0 stands for "large") up to 32 KiB, identical to Go's.
//
// Lookup: sizes up to 1024 B go through an 8-byte-step table, larger ones
// through a 128-byte-step table (both also computed here). Object index
// within a span is computed without division: idx = (off * magic) >> 32 with
// magic = 2^32/size + 1, exact for every offset inside the span (checked at
// compile time below).
//
// Span classes pair a size class with a scan/noscan bit (class<<1 | noscan),
// so pointer-free objects never share spans with objects the collector must
// scan. One extra span class, kTinySpanClass, holds the tiny allocator's
// 16-byte blocks: it has class 2's geometry but its own spans, because a
// tiny block holds several objects and must never be freed one object at a
// time.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace rt::alloc {

inline constexpr size_t kPageShift = 13;
inline constexpr size_t kPageSize = size_t{1} << kPageShift;  // 8 KiB
inline constexpr size_t kMaxSmallSize = 32 << 10;
inline constexpr size_t kSmallSizeDiv = 8;
inline constexpr size_t kSmallSizeMax = 1024;
inline constexpr size_t kLargeSizeDiv = 128;
inline constexpr size_t kNumSizeClasses = 68;
inline constexpr size_t kTinySize = 16;
inline constexpr size_t kTinySizeClass = 2;
inline constexpr size_t kMaxObjsPerSpan = 1024;

struct SizeClass {
  uint32_t size = 0;    // bytes per object
  uint32_t npages = 0;  // pages per span
  uint32_t nobjs = 0;   // objects per span
  uint32_t divmagic = 0;
};

namespace detail {

constexpr bool is_pow2(size_t x) { return x != 0 && (x & (x - 1)) == 0; }

constexpr std::array<SizeClass, kNumSizeClasses> make_size_classes() {
  std::array<SizeClass, kNumSizeClasses> out{};
  size_t n = 1;  // out[0] is the dummy "large" class
  size_t align = 8;
  for (size_t size = align; size <= kMaxSmallSize; size += align) {
    if (is_pow2(size)) {
      if (size >= 2048) {
        align = 256;
      } else if (size >= 128) {
        align = size / 8;
      } else if (size >= 32) {
        align = 16;
      }
    }
    size_t span = kPageSize;
    while (span % size > span / 8) span += kPageSize;
    size_t npages = span / kPageSize;
    if (n > 1 && out[n - 1].npages == npages && span / size == span / out[n - 1].size) {
      out[n - 1].size = static_cast<uint32_t>(size);
      continue;
    }
    if (n == kNumSizeClasses) throw "size class count changed";  // compile-time error
    out[n++] = SizeClass{static_cast<uint32_t>(size), static_cast<uint32_t>(npages), 0, 0};
  }
  if (n != kNumSizeClasses) throw "size class count changed";
  for (size_t i = 1; i < n; i++) {
    SizeClass& c = out[i];
    size_t span = size_t{c.npages} * kPageSize;
    size_t bigger = (span / (span / c.size)) & ~(kLargeSizeDiv - 1);
    if (bigger > c.size) c.size = static_cast<uint32_t>(bigger);
    c.nobjs = static_cast<uint32_t>(span / c.size);
    c.divmagic = static_cast<uint32_t>(~uint32_t{0} / c.size + 1);
  }
  return out;
}

}  // namespace detail

inline constexpr std::array<SizeClass, kNumSizeClasses> kSizeClasses = detail::make_size_classes();

namespace detail {

template <size_t N>
constexpr std::array<uint8_t, N> make_lookup(size_t first, size_t step) {
  std::array<uint8_t, N> t{};
  for (size_t i = 0; i < N; i++) {
    size_t size = first + i * step;
    for (size_t c = 1; c < kNumSizeClasses; c++) {
      if (kSizeClasses[c].size >= size) {
        t[i] = static_cast<uint8_t>(c);
        break;
      }
    }
  }
  return t;
}

// The multiply-shift division must be exact for every byte offset in a span.
constexpr bool divmagic_exact() {
  for (size_t c = 1; c < kNumSizeClasses; c++) {
    const SizeClass& sc = kSizeClasses[c];
    size_t span = size_t{sc.npages} * kPageSize;
    // Checking every object boundary and the byte before it covers all the
    // places where the quotient changes.
    for (size_t k = 0; k <= sc.nobjs; k++) {
      for (size_t off : {k * sc.size, k * sc.size + sc.size - 1}) {
        if (off > span) continue;
        if (((uint64_t{off} * sc.divmagic) >> 32) != off / sc.size) return false;
      }
    }
  }
  return true;
}
static_assert(divmagic_exact(), "32-bit division magic is not exact for some size class");

}  // namespace detail

inline constexpr auto kSizeToClass8 =
    detail::make_lookup<kSmallSizeMax / kSmallSizeDiv + 1>(0, kSmallSizeDiv);
inline constexpr auto kSizeToClass128 =
    detail::make_lookup<(kMaxSmallSize - kSmallSizeMax) / kLargeSizeDiv + 1>(kSmallSizeMax,
                                                                              kLargeSizeDiv);

// Size class for a small size (1 <= size <= kMaxSmallSize).
inline size_t size_to_class(size_t size) {
  if (size <= kSmallSizeMax - 8) return kSizeToClass8[(size + kSmallSizeDiv - 1) / kSmallSizeDiv];
  return kSizeToClass128[(size - kSmallSizeMax + kLargeSizeDiv - 1) / kLargeSizeDiv];
}

// Span classes.
using SpanClass = uint8_t;
inline constexpr size_t kNumSpanClasses = kNumSizeClasses * 2 + 1;
inline constexpr SpanClass kTinySpanClass = kNumSizeClasses * 2;
inline constexpr SpanClass make_span_class(size_t sizeclass, bool noscan) {
  return static_cast<SpanClass>(sizeclass << 1 | (noscan ? 1 : 0));
}
inline constexpr size_t span_class_size_class(SpanClass sc) {
  return sc == kTinySpanClass ? kTinySizeClass : sc >> 1;
}
inline constexpr bool span_class_noscan(SpanClass sc) { return sc == kTinySpanClass || (sc & 1); }

}  // namespace rt::alloc
