// PacingSampler: how closely the pacer held the heap to its goal, sampled
// the same way on both sides of a benchmark. A goroutine reads the heap
// every millisecond through rt::metrics, with the names Go's peers read
// through runtime/metrics:
//   heap in use = /memory/classes/heap/objects:bytes
//   goal        = /gc/heap/goal:bytes
//   heap mapped = objects + /memory/classes/heap/unused + /memory/classes/heap/free
// and keeps the peaks of in-use / goal and of the mapped heap. One sample
// every millisecond misses overshoots shorter than that; both sides miss
// them alike.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>

#include "rt/memstats.h"
#include "rt/metrics.h"
#include "rt/sched.h"
#include "rt/sync.h"

namespace rt_bench {

class PacingSampler {
 public:
  PacingSampler() {
    sample();
    done_.go([this] {
      while (!stop_.load(std::memory_order_relaxed)) {
        sample();
        rt::sleep(std::chrono::milliseconds(1));
      }
    });
  }
  PacingSampler(const PacingSampler&) = delete;
  PacingSampler& operator=(const PacingSampler&) = delete;
  ~PacingSampler() { stop(); }

  // Ends sampling after one last sample; idempotent.
  void stop() {
    if (stop_.exchange(true)) return;
    done_.wait();
    sample();
  }

  // Valid after stop().
  double peak_heap_over_goal() const { return peak_ratio_; }
  uint64_t peak_heap_mapped() const { return peak_mapped_; }
  // GC CPU since the program started, percent (MemStats' gc_cpu_fraction,
  // as Go's GCCPUFraction).
  static double gc_cpu_percent() { return rt::read_mem_stats().gc_cpu_fraction * 100; }

 private:
  void sample() {
    rt::metrics::Sample s[] = {{"/memory/classes/heap/objects:bytes", {}},
                               {"/gc/heap/goal:bytes", {}},
                               {"/memory/classes/heap/unused:bytes", {}},
                               {"/memory/classes/heap/free:bytes", {}}};
    rt::metrics::read(s, 4);
    uint64_t in_use = s[0].value.uint64(), goal = s[1].value.uint64();
    uint64_t mapped = in_use + s[2].value.uint64() + s[3].value.uint64();
    if (goal > 0) peak_ratio_ = std::max(peak_ratio_, static_cast<double>(in_use) / static_cast<double>(goal));
    peak_mapped_ = std::max(peak_mapped_, mapped);
  }

  std::atomic<bool> stop_{false};
  rt::WaitGroup done_;
  // Written by the sampling goroutine, and by stop() after it has exited
  // (WaitGroup::wait orders the two); read after stop().
  double peak_ratio_ = 0;
  uint64_t peak_mapped_ = 0;
};

}  // namespace rt_bench
