// The scheduler: Go's proc.go design on OS threads and fcontext fibers.
// Here: the loop each M runs, M creation and parking, the idle P and M
// lists, P hand-over, locked Ms and start-up. Goroutines are created and
// ended in newproc.cc (execute() calls its prepare_first_run on a G's first
// run, and goexit0, inline in proc.h, when one exits).
//
// Each M runs schedule() on its native stack (g0): find a runnable G,
// execute it until it switches back with an action (park, yield, exit,
// preempted), perform the action, repeat. find_runnable() looks, in order:
// stop-the-world request, expired timers, the global queue every 61st tick
// (fairness), the local run queue, the global queue, then steals half of a
// victim P's queue (4 passes over the Ps in random order; the last pass also
// takes victims' runnext and runs their expired timers). Finding nothing,
// the M gives up its P, re-checks every queue (a G made runnable between the
// check and the release must not be lost), and sleeps on its futex note -
// with a deadline if it is the one M watching the earliest timer.
//
// Spinning (Go's protocol, proc.go header): an M looking for work to steal
// is "spinning" and counted in sched.nmspinning. wakep() starts a new
// spinning M only if there is an idle P and nobody spins (CAS 0 -> 1), and
// a spinning M that finds work calls wakep() when it was the last spinner.
// Submitters publish work, then (seq_cst) read nmspinning; spinners
// decrement nmspinning, then (seq_cst) re-check the queues. One of the two
// always sees the other, so no wake-up is lost and an idle runtime has no
// spinning M burning CPU.
#include "sched/proc.h"

#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cxxabi.h>
#include <exception>
#include <new>

#include "alloc/malloc.h"
#include "alloc/mcache.h"
#include "runtime/env.h"
#include "runtime/fatal.h"
#include "runtime/tsan.h"
#include "sched/panic.h"
#include "sched/preempt.h"
#include "sched/safepoint.h"
#include "sched/sema.h"
#include "sched/signals.h"
#include "sched/switch.h"
#include "sched/sysmon.h"
#include "sched/timers.h"
#include "sched/trace.h"

namespace rt::sched {

using rt::detail::fatal;
using rt::detail::FixedText;
using rt::detail::LockGuard;

Sched sched;
P** allp = nullptr;

std::atomic<int32_t> gomaxprocs_n{0};

namespace {

std::atomic<bool> g_started{false};
rt::detail::Lock g_init_lock;
std::atomic<int64_t> g_next_mid{0};
// Ms currently in a syscall scope (they may ready Gs when they return).
std::atomic<int32_t> g_msyscall{0};

constexpr size_t kMStackSize = 1 << 20;  // g0 stack of an M thread

M* new_m_struct() {
  M* m = new M();
  m->id = g_next_mid.fetch_add(1, std::memory_order_relaxed);
  return m;
}

}  // namespace

// ---------------------------------------------------------------------------
// Small helpers

M* current_m() { return t_m; }

int thread_errno() { return errno; }
void set_thread_errno(int v) { errno = v; }

G* getg() {
  M* m = current_m();
  return m ? m->curg.load(std::memory_order_relaxed) : nullptr;
}

bool started() { return g_started.load(std::memory_order_acquire); }

// After "fatal error: ...", as Go does: every goroutine's trace.
void dump_goroutines_after_fatal() {
  rt::detail::FixedText nl;
  nl << "\n";
  nl.write_to(2);
  dump_goroutines();
}

// ---------------------------------------------------------------------------
// Idle P and M lists (Sched::lock held)

P* pidleget() {
  P* p = sched.pidle;
  if (p) {
    sched.pidle = p->link;
    p->link = nullptr;
    sched.npidle.fetch_sub(1, std::memory_order_seq_cst);
    sysmon_wake();  // a P gets busy: sysmon must watch it
  }
  return p;
}

void pidleput(P* p) {
  if (!runq_empty(p)) fatal("pidleput: P has non-empty run queue");
  maybe_run_safe_point(p);  // Sched::lock held: as the requester does for idle Ps
  p->status.store(kPIdle, std::memory_order_release);
  p->m.store(nullptr, std::memory_order_relaxed);
  p->link = sched.pidle;
  sched.pidle = p;
  sched.npidle.fetch_add(1, std::memory_order_seq_cst);
}

namespace {

M* mget() {
  M* m = sched.midle;
  if (m) {
    sched.midle = m->schedlink;
    m->schedlink = nullptr;
    sched.nmidle--;
  }
  return m;
}

void mput(M* m) {
  m->schedlink = sched.midle;
  sched.midle = m;
  sched.nmidle++;
  checkdead();
}

}  // namespace

void acquirep(P* p) {
  M* m = current_m();
  if (m->p || p->m.load(std::memory_order_relaxed) || p->status.load(std::memory_order_relaxed) != kPIdle) {
    FixedText t;
    t << "acquirep: invalid P state (P " << p->id << " status "
      << uint64_t{p->status.load(std::memory_order_relaxed)} << ")";
    fatal(t);
  }
  m->p = p;
  // Release: sysmon and stop-the-world find the M through p->m (acquire)
  // and read its fields (tid, curg); this publishes the M's set-up.
  p->m.store(m, std::memory_order_release);
  p->status.store(kPRunning, std::memory_order_release);
  rt::alloc::set_current_cache(p->mcache);
}

P* releasep() {
  M* m = current_m();
  P* p = m->p;
  if (!p || p->m.load(std::memory_order_relaxed) != m || p->status.load(std::memory_order_relaxed) != kPRunning)
    fatal("releasep: invalid P state");
  m->p = nullptr;
  p->m.store(nullptr, std::memory_order_relaxed);
  p->status.store(kPIdle, std::memory_order_release);
  rt::alloc::set_current_cache(nullptr);
  return p;
}

// ---------------------------------------------------------------------------
// M creation and parking

namespace {

void schedule_loop();

void* mstart(void* arg) {
  M* m = static_cast<M*>(arg);
  t_m = m;
  m->tid = static_cast<int>(syscall(SYS_gettid));
  m->eh_globals = abi::__cxa_get_globals();  // its layout: EhGlobals (switch.h)
  m->pthread = pthread_self();
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    void* addr;
    size_t size;
    pthread_attr_getstack(&attr, &addr, &size);
    m->g0_stack_bottom = addr;
    m->g0_stack_size = size;
    pthread_attr_destroy(&attr);
  }
#if defined(RT_TSAN)
  m->g0_tsan_fiber = __tsan_get_current_fiber();
#endif
  minit_signals(m);
  P* p = m->nextp.load(std::memory_order_acquire);
  m->nextp.store(nullptr, std::memory_order_release);
  if (p) acquirep(p);
  schedule_loop();
  return nullptr;
}

void newm(P* p, bool spinning) {
  M* m = new_m_struct();
  m->nextp.store(p, std::memory_order_release);
  m->spinning = spinning;
  {
    LockGuard lk(sched.lock);
    sched.mcount++;
  }
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, kMStackSize);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  // The new thread starts with every signal blocked; minit_signals unblocks
  // the runtime's own once its alternate signal stack is in place.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_t th;
  int rc = pthread_create(&th, &attr, mstart, m);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    // EAGAIN is the kernel refusing the thread's stack mapping (address
    // space or memory) or the thread limit; say which resources to look at.
    rt::detail::FixedText t;
    t << "newm: cannot create OS thread (errno " << rc << ")";
    if (rc == EAGAIN) t << ": out of memory for its stack, or `ulimit -u` threads reached";
    fatal(t);
  }
}

// Ms polling in stopm for the world to start again, and how long each
// polls before it sleeps (see gcstopm): at most kStwPollNs, and at most
// kStwPollAfterNs once the world has started (the starter hands out Ps
// right after; an M given none must not burn a CPU the world now needs).
std::atomic<int32_t> g_stw_pollers{0};
constexpr int64_t kStwPollNs = 500'000;
constexpr int64_t kStwPollAfterNs = 20'000;
thread_local int64_t t_world_started_seen = 0;

bool world_still_stopping(int64_t now) {
  if (sched.gcwaiting.load(std::memory_order_relaxed) != 0) return true;
  if (t_world_started_seen == 0) t_world_started_seen = now;
  return now - t_world_started_seen < kStwPollAfterNs;
}

// Stops the current M until startm hands it a P. stw_poll: stopped for a
// stop-the-world, poll for a P before sleeping.
void stopm(bool stw_poll = false) {
  M* m = current_m();
  if (m->p) fatal("stopm: holding a P");
  if (m->spinning) fatal("stopm: spinning");
  {
    LockGuard lk(sched.lock);
    mput(m);
  }
  if (stw_poll) {
    // Only while a CPU is spare for each poller, so pollers never slow
    // the stopper.
    if (g_stw_pollers.fetch_add(1, std::memory_order_relaxed) + 1 < ncpu() &&
        m->nextp.load(std::memory_order_acquire) == nullptr) {
      t_world_started_seen = 0;
      notepoll(&m->park, kStwPollNs, world_still_stopping);
    }
    g_stw_pollers.fetch_sub(1, std::memory_order_relaxed);
  }
  // A stale wake-up (left by a timer-watcher nudge) has no P: sleep again.
  while (m->nextp.load(std::memory_order_acquire) == nullptr) notesleep(&m->park);
  P* p = m->nextp.load(std::memory_order_acquire);
  m->nextp.store(nullptr, std::memory_order_release);
  acquirep(p);
}

}  // namespace

int ncpu() {
  static const int n = rt::detail::usable_cpus();
  return n;
}

void startm(P* p, bool spinning) {
  sched.lock.lock();
  if (!p) {
    p = pidleget();
    if (!p) {
      sched.lock.unlock();
      // The caller counted a spinning M it could not start: undo it.
      if (spinning) sched.nmspinning.fetch_sub(1, std::memory_order_seq_cst);
      return;
    }
  }
  M* nm = mget();
  sched.lock.unlock();
  if (!nm) {
    newm(p, spinning);
    return;
  }
  if (nm->spinning || nm->nextp.load(std::memory_order_acquire)) fatal("startm: M in a bad state");
  nm->spinning = spinning;
  nm->nextp.store(p, std::memory_order_release);
  notewakeup(&nm->park);
}

void wakep() {
  if (sched.npidle.load(std::memory_order_seq_cst) == 0) return;
  // Only one new spinning M at a time.
  if (sched.nmspinning.load(std::memory_order_relaxed) != 0) return;
  int32_t zero = 0;
  if (!sched.nmspinning.compare_exchange_strong(zero, 1, std::memory_order_seq_cst)) return;
  startm(nullptr, true);
}

void handoffp(P* p) {
  // Work to do: start an M for it.
  if (!runq_empty(p) || sched.runq_size.load(std::memory_order_relaxed) != 0) {
    startm(p, false);
    return;
  }
  // Nobody spinning or idle: this P should have a spinning M.
  int32_t zero = 0;
  if (sched.nmspinning.load() + sched.npidle.load() == 0 &&
      sched.nmspinning.compare_exchange_strong(zero, 1)) {
    startm(p, true);
    return;
  }
  sched.lock.lock();
  if (sched.gcwaiting.load(std::memory_order_relaxed)) {
    p->status.store(kPGCStop, std::memory_order_release);
    p->m.store(nullptr, std::memory_order_relaxed);
    if (--sched.stopwait == 0) notewakeup(&sched.stopnote);
    sched.lock.unlock();
    return;
  }
  if (sched.runq_size.load(std::memory_order_relaxed) != 0) {
    sched.lock.unlock();
    startm(p, false);
    return;
  }
  int64_t when = p->timer0_when.load(std::memory_order_relaxed);
  pidleput(p);
  sched.lock.unlock();
  // Its timers still need a watcher.
  if (when != 0) wake_timer_waiter(when);
}

// ---------------------------------------------------------------------------
// The scheduler loop (on g0)

namespace {

uint32_t fastrand() {
  static thread_local uint64_t s = 0x9E3779B97F4A7C15ull ^ reinterpret_cast<uintptr_t>(&s);
  s ^= s << 13;
  s ^= s >> 7;
  s ^= s << 17;
  return static_cast<uint32_t>(s >> 32);
}

void resetspinning() {
  M* m = current_m();
  m->spinning = false;
  int32_t n = sched.nmspinning.fetch_sub(1, std::memory_order_seq_cst) - 1;
  if (n < 0) fatal("resetspinning: negative nmspinning");
  // We were the last spinner and found work: maybe there is more.
  wakep();
}

// Steals from other Ps; runs their expired timers on the way.
G* steal_work(P* p, bool* ran_timers) {
  int32_t n = gomaxprocs_n.load(std::memory_order_acquire);
  for (int pass = 0; pass < 4; pass++) {
    bool last = pass == 3;
    uint32_t start = fastrand() % static_cast<uint32_t>(n);
    for (int32_t k = 0; k < n; k++) {
      if (sched.gcwaiting.load(std::memory_order_relaxed)) return nullptr;
      P* victim = allp[(start + static_cast<uint32_t>(k)) % static_cast<uint32_t>(n)];
      if (victim == p) continue;
      if (victim->timer0_when.load(std::memory_order_relaxed) != 0) {
        if (run_timers(victim, nanotime()) > 0) {
          // The timers readied goroutines into our own queue: run those
          // (as Go's stealWork does) rather than steal into a queue that
          // is no longer empty.
          *ran_timers = true;
          bool inherit;
          if (G* g = runq_get(p, &inherit)) return g;
        }
      }
      G* first = nullptr;
      if (runq_steal(p, victim, last, &first) > 0 || first) return first;
    }
  }
  return nullptr;
}

// Stops this M for stop-the-world (called with its P, which it gives up).
void gcstopm() {
  M* m = current_m();
  if (m->spinning) {
    m->spinning = false;
    sched.nmspinning.fetch_sub(1, std::memory_order_seq_cst);
  }
  P* p = releasep();
  sched.lock.lock();
  p->status.store(kPGCStop, std::memory_order_release);
  if (--sched.stopwait == 0) notewakeup(&sched.stopnote);
  sched.lock.unlock();
  // Most pauses are tens of microseconds: an M that polls for its P comes
  // back as soon as the world starts, where one in a futex sleep costs the
  // starter a wake-up call (tens of microseconds on a VM) and itself a
  // reschedule.
  stopm(true);
}

G* find_runnable(bool* inherit_time) {
  M* m = current_m();
top:
  P* p = m->p;
  *inherit_time = false;
  if (sched.gcwaiting.load(std::memory_order_acquire)) {
    gcstopm();
    goto top;
  }
  maybe_run_safe_point(p);
  // Expired timers first. A goroutine a timer just woke runs next: the
  // fairness pick below waits a round, so a sleeper is not late by a
  // whole extra time slice.
  uint32_t fired = 0;
  if (p->timer0_when.load(std::memory_order_relaxed) != 0) fired = run_timers(p, nanotime());

  // Fairness: now and then look at the global queue first.
  if (fired == 0 && p->schedtick % 61 == 0 &&
      sched.runq_size.load(std::memory_order_relaxed) > 0) {
    LockGuard lk(sched.lock);
    if (G* g = globrunq_get(p, 1)) return g;
  }
  if (G* g = runq_get(p, inherit_time)) return g;
  if (sched.runq_size.load(std::memory_order_relaxed) > 0) {
    LockGuard lk(sched.lock);
    if (G* g = globrunq_get(p, 0)) return g;
  }

  // Steal, but cap the spinners at half the busy Ps.
  int32_t procs = gomaxprocs_n.load(std::memory_order_acquire);
  if (m->spinning || 2 * sched.nmspinning.load(std::memory_order_relaxed) <
                         procs - sched.npidle.load(std::memory_order_relaxed)) {
    if (!m->spinning) {
      m->spinning = true;
      sched.nmspinning.fetch_add(1, std::memory_order_seq_cst);
    }
    bool ran_timers = false;
    if (G* g = steal_work(p, &ran_timers)) return g;
    if (ran_timers) goto top;  // timers may have readied Gs into our queue
  }

  // Nothing to run: lend the P to the collector's idle-time marking if it
  // has work (Go's idle mark workers) rather than give it up.
  if (auto hook = g_idle_p_hook.load(std::memory_order_acquire)) {
    if (G* g = hook(p)) return g;
  }

  // Nothing. Give up the P, then re-check before sleeping.
  sched.lock.lock();
  if (sched.gcwaiting.load(std::memory_order_relaxed)) {
    sched.lock.unlock();
    goto top;
  }
  if (sched.runq_size.load(std::memory_order_relaxed) > 0) {
    G* g = globrunq_get(p, 0);
    sched.lock.unlock();
    if (g) return g;
    goto top;
  }
  releasep();
  pidleput(p);
  sched.lock.unlock();

  bool was_spinning = m->spinning;
  if (m->spinning) {
    m->spinning = false;
    if (sched.nmspinning.fetch_sub(1, std::memory_order_seq_cst) - 1 < 0)
      fatal("find_runnable: negative nmspinning");
    // Work appeared: take an idle P and spin again (false if none is idle).
    auto respin = [m] {
      sched.lock.lock();
      P* np = pidleget();
      sched.lock.unlock();
      if (!np) return false;
      acquirep(np);
      m->spinning = true;
      sched.nmspinning.fetch_add(1, std::memory_order_seq_cst);
      return true;
    };
    // The global queue too: a submitter without a P (a plain thread) that
    // saw us spinning woke nobody.
    if (sched.runq_size.load(std::memory_order_relaxed) > 0 && respin()) goto top;

    // Submitters check nmspinning after publishing work; we check the
    // queues after unpublishing ourselves (seq_cst on both sides).
    for (int32_t i = 0; i < procs; i++) {
      if (!runq_empty(allp[i])) {
        if (respin()) goto top;
        break;
      }
    }
  }
  (void)was_spinning;

  // Sleep, with a deadline if we become the one M watching the timers. The
  // earliest deadline is read under Sched::lock: wake_timer_waiter() takes
  // it too, so a timer added concurrently is either seen here or finds us
  // registered (and wakes us if it is earlier).
  {
    LockGuard lk(sched.lock);
    int64_t next = earliest_timer();
    m->park_until = 0;
    if (next != 0 && sched.timer_waiter == nullptr) {
      sched.timer_waiter = m;
      m->park_until = next;
    }
    mput(m);
  }
  notesleep(&m->park, m->park_until);
  P* np = nullptr;
  bool handed = false;
  {
    LockGuard lk(sched.lock);
    if (sched.timer_waiter == m) sched.timer_waiter = nullptr;
    m->park_until = 0;
    // exchange, not load-then-store: a startm that already took us off the
    // idle list stores our P without the lock, and must not be overwritten.
    np = m->nextp.exchange(nullptr, std::memory_order_acq_rel);
    if (!np) {
      // Deadline, or asked to re-check the timers; unless a startm already
      // took us off the idle list (its wake-up is then on its way).
      M** pp = &sched.midle;
      while (*pp && *pp != m) pp = &(*pp)->schedlink;
      if (*pp == m) {
        *pp = m->schedlink;
        m->schedlink = nullptr;
        sched.nmidle--;
        np = pidleget();
        handed = np != nullptr;
        if (!np) mput(m);  // every P is busy: their Ms run their timers
      }
    } else {
      handed = true;
    }
  }
  if (!handed) {
    while (m->nextp.load(std::memory_order_acquire) == nullptr) notesleep(&m->park);
    np = m->nextp.load(std::memory_order_acquire);
    m->nextp.store(nullptr, std::memory_order_release);
  }
  if (!np) fatal("find_runnable: woken without a P");
  acquirep(np);
  goto top;
}

// Hands the current P to the M that g is locked to, and stops this M.
void startlockedm(G* g) {
  M* lm = g->lockedm;
  // The locked M stops counting as idle now, not when it wakes: otherwise
  // checkdead could run in between and see nobody running.
  {
    LockGuard lk(sched.lock);
    sched.nmidlelocked--;
  }
  P* p = releasep();
  lm->nextp.store(p, std::memory_order_release);
  notewakeup(&lm->park);
  stopm();
}

// This M is locked to a G that is not runnable: give the P away and wait.
void stoplockedm() {
  M* m = current_m();
  if (m->p) handoffp(releasep());
  {
    LockGuard lk(sched.lock);
    sched.nmidlelocked++;
    checkdead();
  }
  // startlockedm took us off the idle-locked count when it handed us a P.
  while (m->nextp.load(std::memory_order_acquire) == nullptr) notesleep(&m->park);
  P* p = m->nextp.load(std::memory_order_acquire);
  m->nextp.store(nullptr, std::memory_order_release);
  acquirep(p);
}

void execute(G* g, bool inherit_time);

void schedule() {
  M* m = current_m();
  if (m->lockedg) {
    stoplockedm();
    execute(m->lockedg, false);  // never returns into here with lockedg runnable elsewhere
    return;
  }
  for (;;) {
    bool inherit = false;
    G* g = find_runnable(&inherit);
    if (m->spinning) resetspinning();
    if (g->lockedm && g->lockedm != m) {
      startlockedm(g);
      continue;
    }
    execute(g, inherit);
    return;
  }
}

// Runs g until it switches back, then performs its action; loops while the
// action hands the same G straight back.
void execute(G* g, bool inherit_time) {
  M* m = current_m();
  for (;;) {
    P* p = m->p;
    // Release: sysmon and stop-the-world load curg (acquire) and write the
    // G's preempt flag; the G's construction and reset (newproc) must
    // happen before that, and reach them only through this store.
    m->curg.store(g, std::memory_order_release);
    g->m.store(m, std::memory_order_release);
    cas_status(g, kGRunnable, kGRunning);
    if (!inherit_time) begin_time_slice(p);
    if (!g->ctx) prepare_first_run(p, g);
    rt::trace::detail::go_start(g);
    // The G that switches back may not be g: g may have parked straight
    // into another G (park.cc), which then ran on this M in its place.
    g = switch_to_g(m, g);
    // Back on g0 (g0 never migrates: m is still this thread's M).
    SwitchAction a = m->action;
    m->action = SwitchAction::kNone;
    // m->p: the P it ran on last (procresize or a syscall may have changed it).
    rt::trace::detail::go_stop(g, m->p);
    if (a != SwitchAction::kExit) {
      m->curg.store(nullptr, std::memory_order_relaxed);
      g->m.store(nullptr, std::memory_order_relaxed);
    }
    switch (a) {
      case SwitchAction::kPark: {
        cas_status(g, kGRunning, kGWaiting);
        bool (*f)(G*, void*) = m->unlockf;
        void* arg = m->unlock_arg;
        m->unlockf = nullptr;
        m->unlock_arg = nullptr;
        if (f && !f(g, arg)) {
          // The wait condition no longer holds: run it again right away.
          cas_status(g, kGWaiting, kGRunnable);
          g->wait_reason = WaitReason::kNone;
          inherit_time = true;
          continue;
        }
        return;
      }
      case SwitchAction::kYield:
      case SwitchAction::kPreempt: {
        cas_status(g, kGRunning, kGRunnable);
        LockGuard lk(sched.lock);
        globrunq_put(g);
        return;
      }
      case SwitchAction::kYieldLocal:
        cas_status(g, kGRunning, kGRunnable);
        // m->p, not p: the G may have changed GOMAXPROCS while it ran, and
        // procresize may have given this M another P (p destroyed).
        runq_put(m->p, g, false);
        return;
      case SwitchAction::kPreemptStop:
        g->preempt_stop.store(false, std::memory_order_relaxed);
        cas_status(g, kGRunning, kGPreempted);  // suspend_g takes it from here
        return;
      case SwitchAction::kExit:
        goexit0(g);
        return;
      case SwitchAction::kSyscallBlock: {
        // exitsyscall found no P. Try once more; else the G waits on the
        // global queue and this M stops (a locked M waits for its G).
        cas_status(g, kGSyscall, kGRunnable);
        P* np;
        {
          LockGuard lk(sched.lock);
          np = pidleget();
          if (!np) globrunq_put(g);
        }
        if (np) {
          acquirep(np);
          inherit_time = false;
          continue;
        }
        if (g->lockedm == m) {
          stoplockedm();  // returns with a P once some M dequeued g for us
          inherit_time = false;
          continue;
        }
        stopm();
        return;
      }
      case SwitchAction::kNone:
        break;
    }
    fatal("execute: goroutine switched to g0 without an action");
  }
}

void schedule_loop() {
  for (;;) schedule();
}

}  // namespace

// ---------------------------------------------------------------------------
// Start-up

void schedinit() {
  if (g_started.load(std::memory_order_acquire)) return;
  LockGuard lk(g_init_lock);
  if (g_started.load(std::memory_order_relaxed)) return;
  const rt::detail::Config& cfg = rt::detail::config();
  if (cfg.stacksize) set_stack_size(static_cast<size_t>(*cfg.stacksize));
  int n = cfg.maxprocs ? *cfg.maxprocs : rt::detail::usable_cpus();
  if (n < 1) n = 1;
  if (n > rt::detail::kMaxProcs) n = rt::detail::kMaxProcs;
  allp = new P*[rt::detail::kMaxProcs]();
  for (int i = 0; i < n; i++) {
    P* p = new P();
    p->id = i;
    p->mcache = rt::alloc::acquire_cache();
    allp[i] = p;
  }
  gomaxprocs_n.store(n, std::memory_order_release);
  {
    LockGuard s(sched.lock);
    for (int i = n - 1; i >= 0; i--) pidleput(allp[i]);
  }
  g_tsc_invariant = tsc_is_invariant();
  rt::alloc::g_alloc_safepoint = preempt_check_slow;
  rt::detail::set_fatal_hook(dump_goroutines_after_fatal);
  install_signal_handlers();
  install_panic_handler();
  init_preemption();
  g_started.store(true, std::memory_order_release);
  start_sysmon();
}



int32_t msyscall_count() { return g_msyscall.load(std::memory_order_relaxed); }

void note_syscall_enter() { g_msyscall.fetch_add(1, std::memory_order_relaxed); }
void note_syscall_exit() { g_msyscall.fetch_sub(1, std::memory_order_relaxed); }

}  // namespace rt::sched
