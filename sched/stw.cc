// Stop-the-world and goroutine suspension. See stw.h.
#include "sched/stw.h"

#include <sched.h>

#include <algorithm>

#include "alloc/mcache.h"
#include "runtime/fatal.h"
#include "sched/preempt.h"
#include "sched/proc.h"
#include "sched/scannable_wait.h"
#include "sched/sema.h"
#include "sched/timers.h"

namespace rt::sched {

using rt::detail::LockGuard;

namespace {

// One stop at a time, from stop to start. A semaphore, not a runtime lock:
// a goroutine waiting its turn must park (giving up its P, which the stop
// in progress is waiting for), not block its M.
std::atomic<uint32_t> g_worldsema{1};
rt::detail::Lock g_stats_lock;
int64_t g_stw_start = 0;      // owned by the holder of g_worldsema
P* g_stw_own_p = nullptr;     // the caller's P, kept across the stop (g_worldsema)
StwStats g_stats;             // guarded by g_stats_lock

// Asks every running goroutine but the caller's to stop: the flag makes
// it stop at its next safe point (each make, channel or lock operation);
// the signal, when `signal`, reaches one in a loop with no safe point.
void preempt_all(bool signal) {
  int32_t n = gomaxprocs_n.load(std::memory_order_acquire);
  for (int32_t i = 0; i < n; i++) {
    P* p = allp[i];
    if (p->status.load(std::memory_order_relaxed) != kPRunning) continue;
    // Acquire both: pairs with acquirep and execute (as in sysmon).
    M* m = p->m.load(std::memory_order_acquire);
    if (!m || m == current_m()) continue;
    if (G* g = m->curg.load(std::memory_order_acquire)) {
      g->preempt.store(true, std::memory_order_relaxed);
      if (signal) preempt_m(m);
    }
  }
}

// How long the stopper waits on the flags alone before signalling, and how
// long it polls (rather than sleeps) for the last P to stop. A signal costs
// the sender a system call and the receiver a kernel round trip, and a
// futex wake-up of a sleeping stopper costs the same again: tens of
// microseconds each on a VM, against a pause budget of fifty. Goroutines in
// runtime-heavy code reach a safe point within a microsecond or two.
constexpr int64_t kFlagOnlyNs = 20'000;
constexpr int64_t kStopSpinNs = 200'000;
// Between signals while the world is still not stopped: one may have
// landed at an unsafe point.
constexpr int64_t kReaskNs = 100'000;

}  // namespace

void world_sema_acquire() {
  schedinit();
  semacquire(&g_worldsema);
}
void world_sema_release() { semrelease(&g_worldsema); }

namespace {

// Takes every P out of circulation and waits until the last running one
// has stopped. Returns the nanoseconds that took.
int64_t stop_all_ps() {
  int64_t t0 = nanotime();
  g_stw_start = t0;
  M* me = current_m();
  P* own = me ? me->p : nullptr;
  g_stw_own_p = own;
  bool wait;
  {
    LockGuard lk(sched.lock);
    int32_t n = gomaxprocs_n.load(std::memory_order_acquire);
    sched.stopwait = n;
    // No waker can run before this lock is released: drop a stale wake-up
    // left by the last stop (which may have finished while its stopper
    // was already looking).
    sched.stopnote.store(0, std::memory_order_relaxed);
    sched.gcwaiting.store(1, std::memory_order_seq_cst);
    if (own) {
      own->status.store(kPGCStop, std::memory_order_release);
      sched.stopwait--;
    }
    for (int32_t i = 0; i < n; i++) {
      P* p = allp[i];
      uint32_t s = kPSyscall;
      if (p->status.compare_exchange_strong(s, kPGCStop, std::memory_order_acq_rel)) {
        sched.stopwait--;
      }
    }
    while (P* p = pidleget()) {
      p->status.store(kPGCStop, std::memory_order_release);
      sched.stopwait--;
    }
    wait = sched.stopwait > 0;
  }
  if (wait) {
    preempt_all(false);
    if (notepoll(&sched.stopnote, kFlagOnlyNs)) {
      LockGuard lk(sched.lock);
      wait = sched.stopwait > 0;
    }
  }
  int64_t spin_until = nanotime() + kStopSpinNs;
  while (wait) {
    preempt_all(true);
    int64_t now = nanotime();
    notesleep_spinning(&sched.stopnote, std::max<int64_t>(spin_until - now, 0), now + kReaskNs);
    // Under the lock: the note may be stale (a wake-up from a stop that
    // completed while we were already looking).
    LockGuard lk(sched.lock);
    wait = sched.stopwait > 0;
  }
  if (sched.stopwait != 0) rt::detail::fatal("stop_the_world: stopwait not zero");
  return nanotime() - t0;
}

}  // namespace

int64_t stop_the_world(const char*) {
  world_sema_acquire();
  // A goroutine that stops the world must keep running until it starts it
  // again: nothing else can run it meanwhile. While it waits for the other
  // Ps, the collector may scan it (scannable_wait.h).
  G* g = getg();
  if (g) g->nopreempt++;
  int64_t took = wait_for_ps(g, WaitReason::kStopTheWorld, stop_all_ps);
  LockGuard sl(g_stats_lock);
  g_stats.count++;
  g_stats.last_stop_ns = took;
  if (took > g_stats.max_stop_ns) g_stats.max_stop_ns = took;
  g_stats.total_stop_ns += took;
  return took;
}

void start_the_world() {
  P* own = g_stw_own_p;
  P* work[1024];
  int nwork = 0;
  {
    LockGuard lk(sched.lock);
    sched.gcwaiting.store(0, std::memory_order_seq_cst);
    int32_t n = gomaxprocs_n.load(std::memory_order_acquire);
    for (int32_t i = 0; i < n; i++) {
      P* p = allp[i];
      if (p == own) {
        p->status.store(kPRunning, std::memory_order_release);
        continue;
      }
      if (p->status.load(std::memory_order_relaxed) != kPGCStop) continue;
      p->status.store(kPIdle, std::memory_order_relaxed);
      p->m.store(nullptr, std::memory_order_relaxed);
      if (!runq_empty(p)) {
        work[nwork++] = p;
      } else {
        pidleput(p);
      }
    }
  }
  for (int i = 0; i < nwork; i++) startm(work[i], false);
  wakep();
  int64_t pause = nanotime() - g_stw_start;
  {
    LockGuard sl(g_stats_lock);
    g_stats.last_pause_ns = pause;
    if (pause > g_stats.max_pause_ns) g_stats.max_pause_ns = pause;
  }
  g_stw_own_p = nullptr;
  semrelease(&g_worldsema);
  if (G* g = getg()) g->nopreempt--;
}

StwStats stw_stats() {
  LockGuard lk(g_stats_lock);
  return g_stats;
}

Suspended suspend_g(G* g) {
  Suspended out;
  out.g = g;
  bool asked = false;
  for (int spins = 0;; spins++) {
    uint32_t s = g->status.load(std::memory_order_acquire);
    if (s & kGScan) {
      sched_yield();
      continue;
    }
    switch (s) {
      case kGDead:
      case kGIdle:
        out.dead = true;
        return out;
      case kGRunnable:
      case kGWaiting:
      case kGSyscall:
        if (g->status.compare_exchange_weak(s, s | kGScan, std::memory_order_acq_rel)) {
          // If we asked it to stop while it ran and it parked by itself
          // meanwhile, withdraw the request: nobody would resume it.
          if (asked) {
            g->preempt_stop.store(false, std::memory_order_relaxed);
            g->preempt.store(false, std::memory_order_relaxed);
          }
          out.status = s;
          return out;
        }
        break;
      case kGPreempted:
        // It stopped for us: take it to waiting, claimed; resume readies it.
        if (g->status.compare_exchange_weak(s, kGWaiting | kGScan, std::memory_order_acq_rel)) {
          // Withdraw the request here too: a later loop iteration may have
          // re-asked (on a stale kGRunning read) after g0 consumed the
          // request, and a request left set would stop the G again, as
          // kGPreempted, after resume_g with nobody to claim it.
          g->preempt_stop.store(false, std::memory_order_relaxed);
          g->preempt.store(false, std::memory_order_relaxed);
          g->wait_reason = WaitReason::kPreempted;
          out.status = kGWaiting;
          out.stopped = true;
          return out;
        }
        break;
      case kGRunning: {
        asked = true;
        g->preempt_stop.store(true, std::memory_order_relaxed);
        g->preempt.store(true, std::memory_order_relaxed);
        M* m = g->m.load(std::memory_order_acquire);
        // Rate-limit signals: one per ~10 spins.
        if (m && spins % 16 == 0) preempt_m(m);
        sched_yield();
        break;
      }
      default:
        rt::detail::fatal("suspend_g: unexpected goroutine status");
    }
  }
}

void resume_g(const Suspended& s) {
  if (s.dead) return;
  G* g = s.g;
  uint32_t cur = s.status | kGScan;
  if (!g->status.compare_exchange_strong(cur, s.status, std::memory_order_acq_rel))
    rt::detail::fatal("resume_g: goroutine status changed while suspended");
  if (s.stopped) goready(g);
}

void g_stack_scan_range(const Suspended& s, uintptr_t* lo, uintptr_t* hi) {
  G* g = s.g;
  *hi = g->stack.hi;
  if (!g->ctx) {
    *lo = *hi;  // never ran: no stack yet
    return;
  }
  if (on_m_from_blocked_sp(g, s.status)) {
    *lo = g->blocked_sp;
  } else {
    *lo = reinterpret_cast<uintptr_t>(g->ctx);
  }
}

}  // namespace rt::sched

namespace rt::sched {

// Changes GOMAXPROCS with the world stopped (Go's procresize): new Ps start
// stopped and are handed out by start_the_world; removed Ps give their run
// queues to the global queue, their timers to P 0 and their caches back.
void procresize(int32_t n) {
  if (n < 1) n = 1;
  if (n > 1024) n = 1024;
  stop_the_world("gomaxprocs");
  int32_t old = gomaxprocs_n.load(std::memory_order_acquire);
  for (int32_t i = old; i < n; i++) {
    if (!allp[i]) {
      P* p = new P();
      p->id = i;
      p->mcache = rt::alloc::acquire_cache();
      allp[i] = p;
    }
    allp[i]->status.store(kPGCStop, std::memory_order_relaxed);
  }
  for (int32_t i = n; i < old; i++) {
    P* p = allp[i];
    bool inherit;
    {
      LockGuard lk(sched.lock);
      while (G* g = runq_get(p, &inherit)) globrunq_put(g);
    }
    // Timers go to P 0.
    P* to = allp[0];
    LockGuard a(p->timers_lock);
    LockGuard b(to->timers_lock);
    while (p->ntimers > 0) {
      Timer* t = p->timers[p->ntimers - 1];
      move_timer_locked(p, to, t);
    }
  }
  M* me = current_m();
  if (me && me->p && me->p->id >= n) {
    // The caller's own P goes away: it continues on P 0.
    P* gone = me->p;
    gone->m.store(nullptr, std::memory_order_relaxed);
    me->p = allp[0];
    allp[0]->m.store(me, std::memory_order_relaxed);
    rt::alloc::set_current_cache(allp[0]->mcache);
    g_stw_own_p = allp[0];
  }
  for (int32_t i = n; i < old; i++) {
    P* p = allp[i];
    while (p->nstackcache > 0) stack_free(p->stackcache[--p->nstackcache]);
    {
      LockGuard lk(sched.lock);
      while (G* g = p->gfree) {
        p->gfree = g->schedlink;
        g->schedlink = sched.gfree;
        sched.gfree = g;
        sched.ngfree++;
      }
      p->ngfree = 0;
    }
    allp[i]->mcache->release_all();
    allp[i]->status.store(kPGCStop, std::memory_order_relaxed);
  }
  gomaxprocs_n.store(n, std::memory_order_release);
  start_the_world();
}

}  // namespace rt::sched
