// Ragged safe points (Go's forEachP). See safepoint.h.
#include "sched/safepoint.h"

#include <sched.h>

#include "runtime/lock.h"
#include "sched/preempt.h"
#include "sched/proc.h"
#include "sched/scannable_wait.h"
#include "sched/sema.h"
#include "sched/stw.h"

namespace rt::sched {

using rt::detail::LockGuard;

namespace {

// The request's function; written before g_safe_point_gen (release), read
// after it (acquire).
std::atomic<void (*)(P*)> g_safe_point_fn{nullptr};

// Before signalling the Ps still running, and between checks.
constexpr int64_t kFlagOnlyNs = 20'000;

}  // namespace

void run_safe_point(P* p) {
  uint32_t gen = g_safe_point_gen.load(std::memory_order_acquire);
  if (p->safe_point_done.load(std::memory_order_relaxed) == gen) return;
  if (auto fn = g_safe_point_fn.load(std::memory_order_relaxed)) fn(p);
  p->safe_point_done.store(gen, std::memory_order_release);
}

bool for_each_p_at_safe_point(void (*fn)(P*), int64_t timeout_ns) {
  world_sema_acquire();
  if (G* g = getg()) g->nopreempt++;  // our own P is served here, not by a yield
  M* me = current_m();
  P* own = me ? me->p : nullptr;
  int32_t n = gomaxprocs_n.load(std::memory_order_acquire);
  uint32_t gen;
  {
    LockGuard lk(sched.lock);
    g_safe_point_fn.store(fn, std::memory_order_relaxed);
    gen = g_safe_point_gen.load(std::memory_order_relaxed) + 1;
    g_safe_point_gen.store(gen, std::memory_order_release);
    // Idle means on the idle list, not a status of kPIdle: a P that startm
    // took off the list (start_the_world, wakep) keeps that status until
    // its new M's acquirep, which takes no lock, and that M may already be
    // running a goroutine on it by the time fn ran here. Such a P runs fn
    // itself, in find_runnable; the wait below does not count it.
    if (own) run_safe_point(own);
    for (P* p = sched.pidle; p; p = p->link) run_safe_point(p);
  }
  auto pending = [&](bool signal) {
    bool any = false;
    for (int32_t i = 0; i < n; i++) {
      P* p = allp[i];
      if (p->safe_point_done.load(std::memory_order_acquire) == gen) continue;
      if (p->status.load(std::memory_order_relaxed) != kPRunning) continue;  // syscall: skipped
      any = true;
      M* m = p->m.load(std::memory_order_acquire);
      if (!m) continue;
      if (G* g = m->curg.load(std::memory_order_acquire)) {
        g->preempt.store(true, std::memory_order_relaxed);
        if (signal) preempt_m(m);
      }
    }
    return any;
  };
  auto wait = [&]() -> bool {
    int64_t start = nanotime();
    uint32_t spins = 0;
    for (int64_t next_signal = start + kFlagOnlyNs; pending(nanotime() >= next_signal);) {
      int64_t now = nanotime();
      if (now >= next_signal) next_signal = now + kFlagOnlyNs * 5;
      if (now - start >= timeout_ns) return false;
      // Polled, not slept: the wait is microseconds (see stw.cc); a yield
      // now and then in case a P we wait for needs this CPU.
      if (++spins % 256 == 0) sched_yield();
      rt::detail::cpu_relax();
    }
    return true;
  };
  // A collector's stack scan may wait for us meanwhile (scannable_wait.h).
  bool all = wait_for_ps(getg(), WaitReason::kForEachP, wait);
  if (G* g = getg()) g->nopreempt--;
  world_sema_release();
  return all;
}

}  // namespace rt::sched
