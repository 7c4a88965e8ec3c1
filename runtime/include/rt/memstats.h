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

  // Goroutine stacks: bytes of the stacks goroutines hold, and that plus
  // the pooled stacks kept for reuse (stacks are committed lazily by the
  // OS, so these are address-space figures, as Go's are span figures).
  uint64_t stack_inuse = 0;
  uint64_t stack_sys = 0;
  // Bytes obtained from the OS: heap_sys + stack_sys + the runtime
  // metadata counted so far (span structures). Tables reserved up front
  // for the whole heap reservation, only touched pages of which cost
  // memory, are left out.
  uint64_t sys = 0;

  // Garbage collection, with Go's meanings.
  // The heap goal of the next cycle, bytes (UINT64_MAX with RT_GOGC=off).
  uint64_t next_gc = 0;
  // When the last cycle ended (its mark termination), nanoseconds since
  // the Unix epoch; 0 before the first cycle.
  uint64_t last_gc = 0;
  // Cumulative stop-the-world pause time of all cycles, nanoseconds.
  uint64_t pause_total_ns = 0;
  // Rings of the recent cycles' summed pauses and their end times (Unix
  // nanoseconds): the most recent at [(num_gc + 255) % 256].
  uint64_t pause_ns[256] = {};
  uint64_t pause_end[256] = {};
  uint32_t num_gc = 0;         // completed cycles
  uint32_t num_forced_gc = 0;  // of which started by rt::gc()
  // Fraction of the available CPU time (GOMAXPROCS x wall time since the
  // process started) used by the collector: mark workers, assists, and
  // each pause times GOMAXPROCS.
  double gc_cpu_fraction = 0;
  // Index 0 is unused (large objects); 1..67 are the size classes.
  SizeClassStats by_size[68];
};

// Fills a snapshot of the heap statistics. Cheap (no stop-the-world): it
// sums per-cache counters. While other threads allocate, figures are exact
// up to the allocations in flight at the moment of the read.
MemStats read_mem_stats();

}  // namespace rt
