// The out-of-line half of rt::Slice (rt/slice.h): Go's growth rule over
// librt's size classes, makeslice's limits, and Go's bounds-error panics.
//
// Growth (go1.19's growslice): the new length is needed = len + added. If
// it exceeds double the old capacity, the capacity becomes needed; else
// below 256 elements it doubles, and from 256 on it grows by
// (cap + 3 * 256) / 4 (a smooth slide from 2x toward 1.25x) until it holds
// needed. The block is then rounded up to its size class (or to whole
// pages above 32 KiB) and the capacity becomes what fits. A scan block
// starts with the collector's 16-byte header, so its elements get the slot
// minus the header; pointer-free blocks have none, which gives Go's exact
// capacities.
//
// A block may not exceed the allocator's limit (alloc::kMaxAllocSize):
// growing past it panics "growslice: cap out of range", making one
// "makeslice: len/cap out of range", as in Go. Lengths are size_t here;
// a value with its top bit set is what a negative Go int becomes, and
// messages print it signed, as Go does.
#include <string>

#include "alloc/malloc.h"
#include "gc/heapobj.h"
#include "rt/panic.h"
#include "rt/slice.h"

namespace rt::detail {

alignas(16) char slice_zerobase[16];

namespace {

constexpr size_t kGrowThreshold = 256;

size_t header_bytes(bool scan) {
  return scan ? rt::collector::kHeaderSize : 0;
}

// The most elements of elem_size bytes one block can hold.
size_t max_elements(size_t elem_size, bool scan) {
  return (alloc::kMaxAllocSize - header_bytes(scan)) / elem_size;
}

bool negative(size_t x) {
  return static_cast<int64_t>(x) < 0;
}

std::string signed_text(size_t x) {
  return negative(x) ? std::to_string(static_cast<int64_t>(x)) : std::to_string(x);
}

[[noreturn, gnu::cold]] void runtime_panic(const std::string& what) {
  throw rt::Panic("runtime error: " + what);
}

}  // namespace

size_t slice_grow_cap(size_t old_cap, size_t old_len, size_t add, size_t elem_size, bool scan) {
  size_t limit = max_elements(elem_size, scan);
  if (add > limit || old_len > limit - add) runtime_panic("growslice: cap out of range");
  size_t needed = old_len + add;
  size_t cap = old_cap;
  size_t doubled = old_cap + old_cap;
  if (needed > doubled) {
    cap = needed;
  } else if (old_cap < kGrowThreshold) {
    cap = doubled;
  } else {
    while (cap < needed) cap += (cap + 3 * kGrowThreshold) / 4;
  }
  if (cap > limit) runtime_panic("growslice: cap out of range");
  size_t header = header_bytes(scan);
  size_t bytes = alloc::round_up_size(header + cap * elem_size);
  return (bytes - header) / elem_size;
}

void slice_check_make(size_t len, size_t cap, size_t elem_size, bool scan) {
  size_t limit = max_elements(elem_size, scan);
  if (len > limit) runtime_panic("makeslice: len out of range");
  if (cap > limit || len > cap) runtime_panic("makeslice: cap out of range");
}

void panic_index(size_t i, size_t len) {
  if (negative(i)) runtime_panic("index out of range [" + signed_text(i) + "]");
  runtime_panic("index out of range [" + std::to_string(i) + "] with length " +
                std::to_string(len));
}

void panic_slice_bounds(SliceBounds code, size_t x, size_t y) {
  std::string xs = signed_text(x), ys = std::to_string(y);
  // With a negative x Go leaves y out.
  bool neg = negative(x);
  std::string what = "slice bounds out of range ";
  switch (code) {
    case SliceBounds::kAcap:
      what += neg ? "[:" + xs + "]" : "[:" + xs + "] with capacity " + ys;
      break;
    case SliceBounds::kB:
      what += neg ? "[" + xs + ":]" : "[" + xs + ":" + ys + "]";
      break;
    case SliceBounds::k3Acap:
      what += neg ? "[::" + xs + "]" : "[::" + xs + "] with capacity " + ys;
      break;
    case SliceBounds::k3B:
      what += neg ? "[:" + xs + ":]" : "[:" + xs + ":" + ys + "]";
      break;
    case SliceBounds::k3C:
      what += neg ? "[" + xs + "::]" : "[" + xs + ":" + ys + ":]";
      break;
  }
  runtime_panic(what);
}

}  // namespace rt::detail
