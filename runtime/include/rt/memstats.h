// Heap statistics, after Go's runtime.MemStats.
#pragma once

#include <cstddef>
#include <cstdint>

namespace rt {

// Per-size-class allocation counts (Go's MemStats.BySize).
struct SizeClassStats {
  uint32_t size = 0;     // largest object size in the class, bytes
  uint64_t mallocs = 0;  // objects allocated in the class (cumulative)
  uint64_t frees = 0;    // objects freed in the class (cumulative)
};

struct MemStats {
  // Bytes of allocated heap objects (reachable or not yet swept).
  uint64_t heap_alloc = 0;
  // Cumulative bytes allocated for heap objects.
  uint64_t total_alloc = 0;
  // Bytes of heap memory obtained from the OS (mapped read/write).
  uint64_t heap_sys = 0;
  // Bytes in idle (unused) spans: heap_sys - heap_inuse.
  uint64_t heap_idle = 0;
  // Bytes in in-use spans.
  uint64_t heap_inuse = 0;
  // Bytes of idle memory returned to the OS.
  uint64_t heap_released = 0;
  // Allocated heap objects: mallocs - frees.
  uint64_t heap_objects = 0;
  // Cumulative objects allocated / freed. Tiny objects packed into one
  // block count in both, as in Go, so heap_objects counts blocks.
  uint64_t mallocs = 0;
  uint64_t frees = 0;
  // Bytes of address space reserved for the heap.
  uint64_t heap_reserved = 0;
  // Total bytes the scavenger has returned to the OS.
  uint64_t scavenged_total = 0;
  // Index 0 is unused (large objects); 1..67 are the size classes.
  SizeClassStats by_size[68];
};

// Fills a snapshot of the heap statistics. Cheap (no stop-the-world): it
// sums per-cache counters. While other threads allocate, figures are exact
// up to the allocations in flight at the moment of the read.
MemStats read_mem_stats();

}  // namespace rt
