// The stop-the-world collector and its trigger. See collector.h.
#include "gc/collector.h"

#include <atomic>
#include <vector>

#include "gc/gate.h"
#include "gc/heapobj.h"
#include "gc/mark.h"
#include "gc/sweep.h"
#include "rt/gc.h"
#include "rt/sync.h"
#include "runtime/env.h"
#include "runtime/fatal.h"
#include "runtime/lock.h"
#include "sched/gmp.h"
#include "sched/sema.h"
#include "sched/stw.h"

namespace rt::collector {

namespace {

constexpr uint64_t kMinTrigger = uint64_t{4} << 20;
constexpr uint64_t kFlushBytes = uint64_t{64} << 10;

std::atomic<uint32_t> g_collector_sema{1};  // one cycle at a time
std::atomic<bool> g_cycle_running{false};
std::atomic<uint64_t> g_allocated_since{0};  // make() bytes since the last cycle
std::atomic<uint64_t> g_trigger{0};          // 0 until first use: computed lazily
thread_local uint64_t t_unflushed = 0;

rt::detail::Lock g_stats_lock;
GcStats g_stats;  // guarded by g_stats_lock

uint64_t trigger_for(uint64_t live) {
  int gogc = rt::detail::config().gogc;
  if (gogc < 0) return 0;
  uint64_t t = live * static_cast<uint64_t>(gogc) / 100;
  return t < kMinTrigger ? kMinTrigger : t;
}

}  // namespace

uint64_t trigger_bytes() {
  uint64_t t = g_trigger.load(std::memory_order_relaxed);
  if (t == 0 && rt::detail::config().gogc >= 0) t = trigger_for(0);
  return t;
}

void account_allocation(size_t bytes) {
  t_unflushed += bytes;
  if (__builtin_expect(t_unflushed < kFlushBytes, 1)) return;
  uint64_t n = g_allocated_since.fetch_add(t_unflushed, std::memory_order_relaxed) + t_unflushed;
  t_unflushed = 0;
  uint64_t trigger = trigger_bytes();
  if (trigger == 0 || n < trigger) return;
  // Only a goroutine outside runtime locks may run a cycle here; a plain
  // thread inside make holds the gate (and an unrooted result).
  if (!rt::sched::getg() || rt::detail::t_runtime_locks != 0) return;
  if (g_cycle_running.load(std::memory_order_relaxed)) return;
  collect();
}

void collect() {
  if (!rt::sched::getg() && gate_depth() > 0)
    rt::detail::fatal("rt::gc called by a plain thread inside rt::make or a Ref store");
  rt::sched::semacquire(&g_collector_sema);
  g_cycle_running.store(true, std::memory_order_relaxed);
  // sync.Pool's victim rotation, as Go's clearpools at the start of a
  // cycle; outside the pause: it destroys pooled objects (user code).
  rt::detail::pool_cleanup();
  std::vector<DeadObject> dead;
  SweepResult sr;
  gate_close();
  int64_t t0 = rt::sched::nanotime();
  rt::sched::stop_the_world("gc");
  {
    Marker m;
    m.mark_roots();
    m.mark_goroutine_stacks();
    m.mark_own_stack();
    m.drain();
    sr = find_dead(&dead);
  }
  g_allocated_since.store(0, std::memory_order_relaxed);
  rt::sched::start_the_world();
  int64_t pause = rt::sched::nanotime() - t0;
  gate_open();
  uint64_t destroyed = free_dead(dead);
  uint64_t trigger = trigger_for(sr.live_bytes);
  g_trigger.store(trigger, std::memory_order_relaxed);
  {
    rt::detail::LockGuard g(g_stats_lock);
    g_stats.cycles++;
    g_stats.freed_objects += dead.size();
    g_stats.destructors_run += destroyed;
    g_stats.live_bytes = sr.live_bytes;
    g_stats.trigger_bytes = trigger;
    g_stats.last_pause_ns = pause;
    if (pause > g_stats.max_pause_ns) g_stats.max_pause_ns = pause;
    g_stats.total_pause_ns += pause;
    g_stats.pause_ns[(g_stats.cycles - 1) % 256] = pause;
  }
  g_cycle_running.store(false, std::memory_order_relaxed);
  rt::sched::semrelease(&g_collector_sema);
}

}  // namespace rt::collector

namespace rt {

void gc() { rt::collector::collect(); }

GcStats gc_stats() {
  rt::detail::LockGuard g(rt::collector::g_stats_lock);
  GcStats s = rt::collector::g_stats;
  s.trigger_bytes = rt::collector::trigger_bytes();
  return s;
}

}  // namespace rt
