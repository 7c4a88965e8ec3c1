// Asynchronous preemption: SIGURG to an M whose goroutine ran too long.
//
// sysmon (or suspend_g) sets g->preempt and calls preempt_m(m). The SIGURG
// handler, on the M's alternate signal stack, preempts only at a safe point:
//   - the M runs a goroutine (m->curg) that asked to be preempted and is
//     kGRunning, and the M holds a P;
//   - the thread holds no runtime lock (rt::detail::held_runtime_locks()==0:
//     this also covers inlined runtime fast paths, which raise the count)
//     and the G is not in a no-preempt scope;
//   - the interrupted PC is in user code: inside the main executable but not
//     in a function of namespace rt (librt's own code, and its templates
//     instantiated in user code), and not in any shared object of the
//     platform (libc, libstdc++, libgcc, libm, the loader, the vDSO,
//     mimalloc, Boost, spdlog, fmt, the sanitizer runtimes);
//   - the goroutine's stack has room below SP for the red zone and the
//     trampoline's frame.
// Then it injects a call: below the 128-byte red zone it pushes the
// interrupted PC and points the context's PC at rt_async_preempt_trampoline
// (preempt_amd64.S), which saves every general register, the flags and the
// full extended state (xsave), calls rt_async_preempt_park() (which parks
// the G like a cooperative preemption) and, once the G is resumed, restores
// everything and returns to the interrupted PC with the original SP.
// Anywhere else the handler does nothing: the flag stays set and sysmon
// tries again later.
#pragma once

#include "sched/gmp.h"

namespace rt::sched {

// Builds the safe-PC tables and installs the SIGURG handler. Called once by
// schedinit, before any M starts.
void init_preemption();
// True unless RT_DEBUG=asyncpreemptoff=1.
bool async_preemption_enabled();
// Sends SIGURG to m unless one is already in flight.
void preempt_m(M* m);

// For tests: is `pc` a place where the handler would preempt?
bool is_async_safe_pc(uintptr_t pc);

}  // namespace rt::sched

// Called by the trampoline on the goroutine's stack (defined in proc.cc).
extern "C" void rt_async_preempt_park();
// The trampoline (preempt_amd64.S).
extern "C" void rt_async_preempt_trampoline();
