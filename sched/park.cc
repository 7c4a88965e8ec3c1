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

namespace rt::sched {

using rt::detail::fatal;
using rt::detail::LockGuard;

namespace {

// What park_ontop needs, in the parking G's frame. park_ontop copies it
// before running unlockf: once unlockf has published the G as waiting,
// another M may resume it and this frame is live again.
struct DirectPark {
  G* g;
  M* m;
  bool (*unlockf)(G*, void*);
  void* arg;
};

// Runs on next's stack, before next resumes: g's context is saved, so g can
// now be published as waiting - exactly the g0 path's kPark step.
transfer_t park_ontop(transfer_t t) {
  DirectPark d = *static_cast<DirectPark*>(t.data);
  d.g->ctx = t.fctx;
  cas_status(d.g, kGRunning, kGWaiting);
  if (d.unlockf && !d.unlockf(d.g, d.arg)) {
    // The wait condition no longer holds: g is runnable again, next in line
    // (runnext is free: next came from it).
    cas_status(d.g, kGWaiting, kGRunnable);
    d.g->wait_reason = WaitReason::kNone;
    runq_put(d.m->p, d.g, true);
  }
  return transfer_t{d.m->g0ctx, d.m};
}

// The G a parking goroutine may switch to directly, skipping g0, or
// nullptr: the P's runnext, when schedule() would pick it anyway and in the
// same time slice (runnext inherits it). Anything else schedule() would
// look at first - a stop-the-world request, a due timer, the global queue's
// fairness turn, locked threads - sends the park through g0.
G* direct_switch_target(M* m, G* g, P* p) {
  if (m->lockedg || g->lockedm) return nullptr;
  G* next = p->runnext.load(std::memory_order_relaxed);
  // A G that has never run has no resume point for ontop_fcontext to
  // return into with the transfer in the right registers (Boost's fresh
  // context entry takes it in the argument registers): it starts from g0.
  if (!next || next->lockedm || !next->ctx) return nullptr;
  if (sched.gcwaiting.load(std::memory_order_acquire)) return nullptr;
  if (p->schedtick % 61 == 0 && sched.runq_size.load(std::memory_order_relaxed) > 0)
    return nullptr;
  int64_t when = p->timer0_when.load(std::memory_order_relaxed);
  if (when != 0 && when <= nanotime()) return nullptr;
  // Only the owner sets runnext; a thief may take it (CAS to null), so take
  // it the same way (acquire: the G's state as its readier left it).
  if (!p->runnext.compare_exchange_strong(next, nullptr, std::memory_order_acquire,
                                          std::memory_order_relaxed))
    return nullptr;
  return next;
}

}  // namespace

// Parks the calling G. unlockf(g, arg) runs after g's context is saved and
// its status is waiting (so whoever unlockf lets in may ready it); false
// from unlockf resumes g at once.
//
// Fast path (Go takes it through g0 every time): when the next G to run is
// the P's runnext - the G this one just readied, in a ping-pong - switch
// straight to it and finish parking on its stack (Boost.Context's
// ontop_fcontext), one fiber switch instead of two and no trip through
// schedule().
void gopark(bool (*unlockf)(G*, void*), void* arg, WaitReason reason) {
  M* m = current_m();
  G* g = m ? m->curg.load(std::memory_order_relaxed) : nullptr;
  if (!g) fatal("gopark: not on a goroutine");
  g->wait_reason = reason;
  P* p = m->p;
  if (G* next = direct_switch_target(m, g, p)) {
    cas_status(next, kGRunnable, kGRunning);  // waits out a scan claim
    g->m = nullptr;
    next->m = m;
    m->curg.store(next, std::memory_order_relaxed);
    DirectPark d{g, m, unlockf, arg};
    switch_g_to_g(g, m, next, &d, park_ontop);
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

void gosched() {
  M* m = current_m();
  G* g = m ? m->curg.load(std::memory_order_relaxed) : nullptr;
  if (!g) {
    sched_yield();
    return;
  }
  m->action = SwitchAction::kYield;
  switch_to_g0(g, m);
}

void goyield() {
  M* m = current_m();
  G* g = m ? m->curg.load(std::memory_order_relaxed) : nullptr;
  if (!g) return;
  m->action = SwitchAction::kYieldLocal;
  switch_to_g0(g, m);
}

extern "C" void rt_async_preempt_park() {
  // The interrupted code may be between a system call and its errno check;
  // errno lives in the thread, and the goroutine may resume on another one.
  int saved_errno = errno;
  M* m = current_m();
  G* g = m->curg.load(std::memory_order_relaxed);
  g->preempt.store(false, std::memory_order_relaxed);
  m->action = g->preempt_stop.load(std::memory_order_relaxed) ? SwitchAction::kPreemptStop
                                                               : SwitchAction::kPreempt;
  switch_to_g0(g, m);
  errno = saved_errno;
}

void preempt_check_slow() {
  G* g = getg();
  if (g && g->preempt.load(std::memory_order_relaxed) && g->nopreempt == 0 &&
      rt::detail::held_runtime_locks() == 0) {
    M* m = g->m;
    g->preempt.store(false, std::memory_order_relaxed);
    m->action = g->preempt_stop.load(std::memory_order_relaxed) ? SwitchAction::kPreemptStop
                                                                 : SwitchAction::kPreempt;
    switch_to_g0(g, m);
  }
}

}  // namespace rt::sched
