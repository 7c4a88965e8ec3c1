// Parking, readying and yielding: how a goroutine gives up its M.
//
// A G leaves its M by switching to the M's g0 with an action (park, yield,
// preempted) that g0 then performs on its own stack (proc.cc, execute): the
// G's context must be saved before anything can make it runnable again, so
// the step that publishes it (a park's unlockf, a yield's queueing) runs
// after the switch. gopark has a fast path that switches straight to the
// next G and runs that step on the next G's stack instead (see gopark).
#include <errno.h>
#include <sched.h>

#include "runtime/fatal.h"
#include "runtime/lock.h"
#include "sched/proc.h"
#include "sched/sema.h"
#include "sched/switch.h"
#include "sched/timers.h"
#include "sched/trace.h"

namespace rt::sched {

using rt::detail::fatal;
using rt::detail::LockGuard;

namespace {

// What a G that switches out directly still has to do once its context is
// saved: the step g0 would run for it (execute's actions of the same name).
enum class Then : uint8_t { kPark, kYieldGlobal, kYieldLocal };

// What finish_switch_out needs, in the switching G's frame. It is copied
// before anything publishes the G: once it is waiting or queued, another M
// may resume it and this frame is live again.
struct DirectSwitch {
  G* g;
  M* m;
  Then then;
  bool (*unlockf)(G*, void*);
  void* arg;
};

// Runs on next's stack, before next resumes: g's context is saved, so g can
// now be published - as waiting (then unlockf), or queued as runnable.
transfer_t finish_switch_out(transfer_t t) {
  DirectSwitch d = *static_cast<DirectSwitch*>(t.data);
  d.g->ctx = t.fctx;
  switch (d.then) {
    case Then::kPark:
      cas_status(d.g, kGRunning, kGWaiting);
      if (d.unlockf && !d.unlockf(d.g, d.arg)) {
        // The wait condition no longer holds: g is runnable again, next in
        // line (runnext is free: next came from it or the ring behind it).
        cas_status(d.g, kGWaiting, kGRunnable);
        d.g->wait_reason = WaitReason::kNone;
        runq_put(d.m->p, d.g, true);
      }
      break;
    case Then::kYieldGlobal: {
      cas_status(d.g, kGRunning, kGRunnable);
      LockGuard lk(sched.lock);
      globrunq_put(d.g);
      break;
    }
    case Then::kYieldLocal:
      cas_status(d.g, kGRunning, kGRunnable);
      runq_put(d.m->p, d.g, false);
      break;
  }
  return transfer_t{d.m->g0ctx, d.m};
}

// Takes the G schedule() would run next on p - runnext, else the local
// ring's head, else the global queue's head - when g may switch to it directly, skipping g0; else nullptr.
// Anything schedule() looks at first (a stop-the-world request, a due timer,
// the global queue's fairness turn) or handles specially (locked threads, a
// G that has never run) sends the switch through g0. *inherit: next came
// from runnext and shares the current time slice.
G* take_direct_next(M* m, G* g, P* p, bool* inherit) {
  if (m->lockedg || g->lockedm) return nullptr;
  if (sched.gcwaiting.load(std::memory_order_acquire)) return nullptr;
  if (p->schedtick % 61 == 0 && sched.runq_size.load(std::memory_order_relaxed) > 0)
    return nullptr;
  int64_t when = p->timer0_when.load(std::memory_order_relaxed);
  if (when != 0 && when <= nanotime()) return nullptr;
  G* next = runq_get(p, inherit);
  if (!next && sched.runq_size.load(std::memory_order_relaxed) > 0) {
    LockGuard lk(sched.lock);
    next = globrunq_get(p, 0);  // and a batch into the local queue
  }
  if (!next) return nullptr;
  // A G that has never run has no resume point for ontop_fcontext to
  // return into with the transfer in the right registers (Boost's fresh
  // context entry takes it in the argument registers): it starts from g0.
  // It goes back to runnext, which was empty unless it came from there
  // (runq_get takes runnext first, and only this P's owner fills it), so
  // schedule() still runs it next.
  //
  // It must also not be claimed by a scanner (suspend_g holds kGScan on a
  // runnable G while it scans its stack): g0 would wait for the claim,
  // but here g itself would spin - and the claimant may be g, parking
  // before its resume_g, which no one could then ever run. So take the G
  // running with a plain CAS; a claimed one goes back, and g0 waits.
  uint32_t runnable = kGRunnable;
  if (next->lockedm || !next->ctx ||
      !next->status.compare_exchange_strong(runnable, kGRunning, std::memory_order_acq_rel)) {
    runq_put(p, next, true);
    return nullptr;
  }
  return next;
}

// Switches from g to next (taken by take_direct_next, already kGRunning)
// on M m.
void switch_direct(G* g, M* m, P* p, G* next, bool inherit, DirectSwitch* d) {
  if (!inherit) begin_time_slice(p);
  rt::trace::detail::go_switch(g, p, next);
  // Release, as execute: sysmon and suspend_g reach next through these.
  g->m.store(nullptr, std::memory_order_relaxed);
  m->curg.store(next, std::memory_order_release);
  next->m.store(m, std::memory_order_release);
  switch_g_to_g(g, m, next, d, finish_switch_out);
}

}  // namespace

// Parks the calling G. unlockf(g, arg) runs after g's context is saved and
// its status is waiting (so whoever unlockf lets in may ready it); false
// from unlockf resumes g at once.
//
// Fast path (Go goes through g0 every time): when the next G to run is on
// the P's local queue - typically the G this one just readied, in runnext -
// switch straight to it and finish parking on its stack (Boost.Context's
// ontop_fcontext): one fiber switch instead of two, no trip through
// schedule(). gosched and goyield do the same.
void gopark(bool (*unlockf)(G*, void*), void* arg, WaitReason reason) {
  M* m = current_m();
  G* g = m ? m->curg.load(std::memory_order_relaxed) : nullptr;
  if (!g) fatal("gopark: not on a goroutine");
  g->wait_reason = reason;
  P* p = m->p;
  bool inherit = false;
  if (G* next = take_direct_next(m, g, p, &inherit)) {
    DirectSwitch d{g, m, Then::kPark, unlockf, arg};
    switch_direct(g, m, p, next, inherit, &d);
    return;
  }
  m->unlockf = unlockf;
  m->unlock_arg = arg;
  m->action = SwitchAction::kPark;
  switch_to_g0(g, m);
}

void goready(G* g) {
  cas_status(g, kGWaiting, kGRunnable);
  g->wait_reason = WaitReason::kNone;
  M* m = current_m();
  if (m && m->p) {
    runq_put(m->p, g, true);
  } else {
    LockGuard lk(sched.lock);
    globrunq_put(g);
  }
  wakep();
}

namespace {

// Yields g's M: straight to the next G when there is one to switch to
// directly (then = what happens to g once it is off its stack), else
// through g0 (action, the same step).
void yield_g(M* m, G* g, Then then, SwitchAction action) {
  bool inherit = false;
  if (G* next = take_direct_next(m, g, m->p, &inherit)) {
    DirectSwitch d{g, m, then, nullptr, nullptr};
    switch_direct(g, m, m->p, next, inherit, &d);
    return;
  }
  m->action = action;
  switch_to_g0(g, m);
}

}  // namespace

void gosched() {
  M* m = current_m();
  G* g = m ? m->curg.load(std::memory_order_relaxed) : nullptr;
  if (!g) {
    sched_yield();
    return;
  }
  yield_g(m, g, Then::kYieldGlobal, SwitchAction::kYield);
}

void goyield() {
  M* m = current_m();
  G* g = m ? m->curg.load(std::memory_order_relaxed) : nullptr;
  if (!g) return;
  yield_g(m, g, Then::kYieldLocal, SwitchAction::kYieldLocal);
}

extern "C" void rt_async_preempt_park() {
  // The interrupted code may be between a system call and its errno check;
  // errno lives in the thread, and the goroutine may resume on another one
  // (so it is restored through set_thread_errno, see proc.h).
  int saved_errno = errno;
  M* m = current_m();
  G* g = m->curg.load(std::memory_order_relaxed);
  g->preempt.store(false, std::memory_order_relaxed);
  m->action = g->preempt_stop.load(std::memory_order_relaxed) ? SwitchAction::kPreemptStop
                                                               : SwitchAction::kPreempt;
  switch_to_g0(g, m);
  set_thread_errno(saved_errno);
}

void preempt_check_slow() {
  G* g = getg();
  if (g && g->preempt.load(std::memory_order_relaxed) && g->nopreempt == 0 &&
      rt::detail::held_runtime_locks() == 0) {
    M* m = g->m.load(std::memory_order_relaxed);  // the G itself: relaxed
    g->preempt.store(false, std::memory_order_relaxed);
    m->action = g->preempt_stop.load(std::memory_order_relaxed) ? SwitchAction::kPreemptStop
                                                                 : SwitchAction::kPreempt;
    switch_to_g0(g, m);
  }
}

}  // namespace rt::sched
