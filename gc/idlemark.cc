// Idle-time marking. See idlemark.h.
#include "gc/idlemark.h"

#include "gc/gcaccount.h"
#include "gc/gcwork.h"
#include "gc/mark.h"
#include "gc/phase.h"
#include "runtime/lock.h"
#include "sched/gmp.h"
#include "sched/proc.h"

namespace rt::collector {

namespace {

// Parked idle workers, LIFO. A worker enters from its own park's unlock
// function (on its M's scheduler stack, after it is off its stack and
// waiting), and leaves from the scheduler's hook, which makes it runnable.
constexpr int32_t kMaxIdleWorkers = 1024;
rt::detail::Lock g_pool_lock;
sched::G* g_pool[kMaxIdleWorkers];  // g_pool_lock
int32_t g_pooled = 0;               // g_pool_lock

// Scan work between checks for other runnable goroutines.
constexpr size_t kIdleBudget = 32 << 10;

bool park_into_pool(sched::G* g, void*) {
  rt::detail::LockGuard l(g_pool_lock);
  g_pool[g_pooled++] = g;
  return true;
}

// The scheduler's hook (find_runnable, about to give up p): a worker made
// runnable, or nullptr.
sched::G* idle_hook(sched::P*) {
  if (!marking() || !global_work_available()) return nullptr;
  sched::G* g;
  {
    rt::detail::LockGuard l(g_pool_lock);
    if (g_pooled == 0) return nullptr;
    g = g_pool[--g_pooled];
  }
  sched::cas_status(g, sched::kGWaiting, sched::kGRunnable);
  return g;
}

bool other_work(sched::P* p) {
  return !sched::runq_empty(p) || sched::sched.runq_size.load(std::memory_order_relaxed) != 0;
}

void idle_mark_worker() {
  sched::getg()->gc_skip_scan.store(true, std::memory_order_relaxed);
  for (;;) {
    sched::gopark(park_into_pool, nullptr, sched::WaitReason::kGCWorkerIdle);
    MarkCpuSpan cpu(MarkCpu::kIdle);
    while (marking()) {
      if (drain_preemptible(kIdleBudget) == 0) break;
      sched::M* m = sched::current_m();
      if (!m->p || other_work(m->p)) break;
    }
  }
}

}  // namespace

void start_idle_mark_workers(int32_t n) {
  if (n > kMaxIdleWorkers) n = kMaxIdleWorkers;
  for (int32_t i = 0; i < n; i++) sched::newproc(idle_mark_worker, /*system=*/true);
  sched::g_idle_p_hook.store(idle_hook, std::memory_order_release);
}

}  // namespace rt::collector
