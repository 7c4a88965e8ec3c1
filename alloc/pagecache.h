// Per-P page cache: a 64-page aligned window of free pages, so small spans
// (fewer than 16 pages) are carved without taking the heap lock, as in Go's
// mpagecache.go. Owned by one mcache; refilled from the heap when empty and
// returned whole when the cache is flushed.
#pragma once

#include <cstddef>
#include <cstdint>

namespace rt::alloc {

class PageCache {
 public:
  static constexpr size_t kPages = 64;
  static constexpr size_t kMaxPages = kPages / 4;  // larger spans go to the heap

  // `npages` contiguous pages from the window (refilling an empty window
  // from the heap first). Sets *released to how many of them were released
  // to the OS. Returns 0 if the window cannot serve the request.
  uintptr_t alloc(size_t npages, size_t* released);
  // Gives the window back to the heap.
  void flush();
  bool empty() const { return free_ == 0; }

 private:
  uintptr_t base_ = 0;
  uint64_t free_ = 0;      // bit i: page i of the window is free
  uint64_t released_ = 0;  // bit i: page i is released to the OS
};

}  // namespace rt::alloc
