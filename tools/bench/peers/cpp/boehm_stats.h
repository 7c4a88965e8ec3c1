// Pause and heap statistics for the Boehm GC peers, from Boehm's own event
// hooks: every stop-the-world (GC_EVENT_PRE_STOP_WORLD to
// GC_EVENT_POST_START_WORLD) is timed with the monotonic clock, and the stops
// are summed per collection cycle (a cycle ends when GC_get_gc_no() moves),
// the convention of Go's MemStats.PauseNs. Boehm calls the hooks with its
// allocation lock held, so they never run concurrently.
#pragma once

#define GC_THREADS
#include <gc.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "peer_common.h"

namespace peer::boehm {

inline constexpr size_t kMaxCycles = size_t{1} << 16;

struct Stats {
  // STW total of each finished cycle. malloc'd: Boehm scans static data as
  // roots, and a large static array would lengthen every pause.
  uint64_t* cycle_ns = nullptr;
  std::atomic<size_t> cycles{0};
  uint64_t max_cycle_ns = 0;  // kept even past kMaxCycles
  uint64_t stop_started_ns = 0;
  uint64_t open_cycle_ns = 0;  // stops of the cycle in progress
  GC_word last_gc_no = 0;
  std::atomic<size_t> peak_heap{0};
};

inline Stats g_stats;

inline uint64_t mono_ns() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
          .count());
}

inline void note_heap() {
  size_t h = GC_get_heap_size();  // unsynchronized getter, fine in a hook
  size_t cur = g_stats.peak_heap.load(std::memory_order_relaxed);
  while (h > cur && !g_stats.peak_heap.compare_exchange_weak(cur, h, std::memory_order_relaxed)) {
  }
}

inline void GC_CALLBACK on_event(GC_EventType e) {
  Stats& s = g_stats;
  if (e == GC_EVENT_PRE_STOP_WORLD) {
    s.stop_started_ns = mono_ns();
  } else if (e == GC_EVENT_POST_START_WORLD) {
    s.open_cycle_ns += mono_ns() - s.stop_started_ns;
    GC_word no = GC_get_gc_no();
    if (no != s.last_gc_no) {  // this stop finished a cycle
      s.last_gc_no = no;
      s.max_cycle_ns = std::max(s.max_cycle_ns, s.open_cycle_ns);
      size_t c = s.cycles.load(std::memory_order_relaxed);
      if (c < kMaxCycles && s.cycle_ns != nullptr) s.cycle_ns[c] = s.open_cycle_ns;
      s.cycles.store(c + 1, std::memory_order_release);
      s.open_cycle_ns = 0;
    }
    note_heap();
  }
}

inline void GC_CALLBACK on_heap_resize(GC_word) {
  note_heap();
}

// Call right after GC_INIT(): installs the hooks and starts counting here.
inline void install() {
  g_stats.cycle_ns = static_cast<uint64_t*>(std::calloc(kMaxCycles, sizeof(uint64_t)));
  if (g_stats.cycle_ns == nullptr) {
    std::fprintf(stderr, "out of memory\n");
    std::exit(1);
  }
  g_stats.last_gc_no = GC_get_gc_no();
  g_stats.peak_heap.store(GC_get_heap_size());
  GC_set_on_collection_event(on_event);
  GC_set_on_heap_resize(on_heap_resize);
}

// Per-cycle STW totals of the cycles recorded so far, ascending.
inline std::vector<uint64_t> sorted_cycles() {
  size_t c = std::min(g_stats.cycles.load(std::memory_order_acquire), kMaxCycles);
  std::vector<uint64_t> v(g_stats.cycle_ns, g_stats.cycle_ns + c);
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace peer::boehm
