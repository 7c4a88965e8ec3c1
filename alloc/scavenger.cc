// The background scavenger. See scavenger.h.
#include "alloc/scavenger.h"

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "alloc/mheap.h"
#include "runtime/lock.h"

namespace rt::alloc {

namespace {

constexpr double kRetainExtra = 1.10;        // Go's retainExtraPercent = 10
constexpr size_t kQuantum = 64 << 10;        // bytes released per step
constexpr double kCpuFraction = 0.01;        // scavengePercent = 1
constexpr int64_t kIdleCheckNs = 1'000'000'000;

std::atomic<size_t> g_goal_override{0};
std::atomic<size_t> g_released_total{0};
// Wake-up word: set to 1 by wake_scavenger(), consumed by the loop. A futex
// rather than a condition variable: the thread outlives static destructors.
std::atomic<uint32_t> g_wake{0};

size_t retained_bytes(const MHeap::PageStats& st) {
  return st.sys - st.released - st.cached_released;
}

size_t excess_now() {
  MHeap::PageStats st = MHeap::get().page_stats();
  size_t retained = retained_bytes(st);
  size_t goal = scavenge_goal();
  return retained > goal ? retained - goal : 0;
}

void scavenger_loop() {
  pthread_setname_np(pthread_self(), "rt-scavenger");
  for (;;) {
    if (g_wake.exchange(0, std::memory_order_acquire) == 0)
      rt::detail::futex_wait_timeout(&g_wake, 0, kIdleCheckNs);
    g_wake.store(0, std::memory_order_relaxed);
    // Work in quanta while over the goal, sleeping between them so the
    // scavenger stays near 1% of a CPU.
    for (;;) {
      size_t excess = excess_now();
      if (excess < kQuantum) break;
      auto t0 = std::chrono::steady_clock::now();
      size_t done = MHeap::get().scavenge(kQuantum);
      auto worked = std::chrono::steady_clock::now() - t0;
      g_released_total.fetch_add(done, std::memory_order_relaxed);
      if (done == 0) break;
      auto sleep = std::chrono::duration_cast<std::chrono::nanoseconds>(
          worked * ((1 - kCpuFraction) / kCpuFraction));
      std::this_thread::sleep_for(std::max(sleep, std::chrono::nanoseconds(50'000)));
    }
  }
}

}  // namespace

void start_scavenger() {
  std::thread(scavenger_loop).detach();
}

void set_scavenge_goal(size_t retained) {
  g_goal_override.store(retained, std::memory_order_relaxed);
  wake_scavenger();
}

size_t scavenge_goal() {
  size_t o = g_goal_override.load(std::memory_order_relaxed);
  if (o != 0) return o;
  MHeap::PageStats st = MHeap::get().page_stats();
  return static_cast<size_t>(static_cast<double>(st.inuse) * kRetainExtra);
}

void wake_scavenger() {
  g_wake.store(1, std::memory_order_release);
  rt::detail::futex_wake(&g_wake, 1);
}

size_t scavenge_now(bool to_goal) {
  size_t want = to_goal ? excess_now() : SIZE_MAX;
  size_t done = MHeap::get().scavenge(want);
  g_released_total.fetch_add(done, std::memory_order_relaxed);
  return done;
}

size_t scavenge_bytes(size_t bytes) {
  size_t done = MHeap::get().scavenge(bytes);
  g_released_total.fetch_add(done, std::memory_order_relaxed);
  return done;
}

size_t scavenged_total() { return g_released_total.load(std::memory_order_relaxed); }

}  // namespace rt::alloc
