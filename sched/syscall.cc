// Syscall scopes: a goroutine about to block in the OS keeps its P attached
// but marked kPSyscall; sysmon retakes a P left in that state for a
// sysmon tick (>= 20 us) and hands it to another M, so the other goroutines
// keep running (Go's entersyscall / exitsyscall / retake). On exit the G
// takes its old P back if nobody retook it, else any idle P, else it queues
// itself on the global run queue and its M stops.
//
// While in the scope the thread has no P, hence no allocation cache: the
// goroutine must not use the runtime (allocation of GC'd objects, channels)
// until the scope ends.
#include "runtime/fatal.h"
#include "rt/sched.h"
#include "alloc/mcache.h"
#include "sched/proc.h"
#include "sched/switch.h"
#include "sched/sysmon.h"
#include "sched/trace.h"

namespace rt::sched {

void note_syscall_enter();
void note_syscall_exit();

void entersyscall() {
  M* m = current_m();
  G* g = m ? m->curg.load(std::memory_order_relaxed) : nullptr;
  if (!g) return;
  P* p = m->p;
  g->blocked_sp = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  p->syscalltick.fetch_add(1, std::memory_order_relaxed);
  // The run ends here for the trace: the P may go to another M meanwhile.
  rt::trace::detail::go_stop(g, p);
  cas_status(g, kGRunning, kGSyscall);
  m->oldp = p;
  m->p = nullptr;
  p->m.store(nullptr, std::memory_order_relaxed);
  rt::alloc::set_current_cache(nullptr);
  note_syscall_enter();
  p->status.store(kPSyscall, std::memory_order_seq_cst);
  // A stop-the-world waiting for this P can have it now.
  if (sched.gcwaiting.load(std::memory_order_seq_cst)) {
    uint32_t s = kPSyscall;
    rt::detail::LockGuard lk(sched.lock);
    if (sched.stopwait > 0 && p->status.compare_exchange_strong(s, kPGCStop)) {
      if (--sched.stopwait == 0) notewakeup(&sched.stopnote);
    }
  }
}

void exitsyscall() {
  M* m = current_m();
  G* g = m ? m->curg.load(std::memory_order_relaxed) : nullptr;
  // (A collector may hold the scan bit meanwhile: cas_status below waits.)
  if (!g || (g->status.load(std::memory_order_relaxed) & ~kGScan) != kGSyscall) return;
  note_syscall_exit();
  P* oldp = m->oldp;
  m->oldp = nullptr;
  // Fast path: our P is still waiting for us.
  uint32_t s = kPSyscall;
  if (oldp && oldp->status.compare_exchange_strong(s, kPRunning, std::memory_order_acq_rel)) {
    m->p = oldp;
    oldp->m.store(m, std::memory_order_relaxed);
    rt::alloc::set_current_cache(oldp->mcache);
    cas_status(g, kGSyscall, kGRunning);
    rt::trace::detail::go_start(g);
    g->blocked_sp = 0;
    return;
  }
  // Any idle P.
  P* p;
  {
    rt::detail::LockGuard lk(sched.lock);
    p = sched.gcwaiting.load(std::memory_order_relaxed) ? nullptr : pidleget();
  }
  if (p) {
    acquirep(p);
    cas_status(g, kGSyscall, kGRunning);
    rt::trace::detail::go_start(g);
    g->blocked_sp = 0;
    // We may have taken the last idle P while there is work: fine, we are
    // about to run it.
    return;
  }
  // No P: g0 queues us and stops this M; we resume wherever a P is free.
  m->action = SwitchAction::kSyscallBlock;
  switch_to_g0(g, m);
  g->blocked_sp = 0;
}

}  // namespace rt::sched
