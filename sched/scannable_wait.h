// Scannable waits: a goroutine that waits without switching out, holding
// its M and P (it stops the world, or waits for every P to pass a safe
// point), made scannable by the collector while it waits.
//
// The collector scans a goroutine's stack only while the goroutine is
// stopped: suspend_g asks a running one to stop at its next safe point and
// spins until it has. A goroutine that stops the world waits for the
// collector's P to stop, and that P's goroutine may be the one spinning in
// suspend_g for it: each would wait for the other for ever. So the waiter
// marks itself kGWaiting (kStopTheWorld, kForEachP) for the wait, with
// blocked_sp saying where its frames begin, and suspend_g claims it at once and scans
// [blocked_sp, stack.hi) while it goes on waiting. Go's stopTheWorld and
// forEachP put their caller in _Gwaiting for the same reason.
//
// What the scan needs, and why it holds:
// - The frames above blocked_sp do not change during the wait: they are
//   the waiter's callers and run_scannable's own frame, which is written
//   only by its prologue (the saved registers, below) and after the wait;
//   the wait and the CAS back run in wait_scannable's frame, below.
// - A GC'd pointer the callers kept in a callee-saved register is in one of
//   those frames: run_scannable is not inlined, and reads the SP with an
//   asm that clobbers every callee-saved register, so each was saved in its
//   frame (above that SP) before; the frame pointer is too, as
//   __builtin_frame_address makes the frame keep one.
// - The wait's own frames lie below blocked_sp, and hold no GC'd pointer
//   (wait() handles the scheduler's state only). Its result comes back in
//   a register: nothing above blocked_sp is written while a scan may read
//   it.
// - blocked_sp and wait_reason are written before the status CAS (release)
//   and read by the scanner after its claim (acquire); the CAS back to
//   kGRunning waits out a claim in progress, so the scan never outlives
//   the wait.
#pragma once

#include <cstdint>

#include "runtime/fatal.h"
#include "sched/gmp.h"

namespace rt::sched {

// The wait and the way back to kGRunning, in a frame below blocked_sp: the
// CAS's expected value, rewritten when a claim makes it fail, lives here.
template <typename F>
[[gnu::noinline]] auto wait_scannable(G* g, F& wait) -> decltype(wait()) {
  auto result = wait();
  cas_status(g, kGWaiting, kGRunning);  // waits out a scan in progress
  g->wait_reason = WaitReason::kNone;
  g->blocked_sp = 0;
  return result;
}

template <typename F>
[[gnu::noinline]] auto run_scannable(G* g, WaitReason why, F&& wait) -> decltype(wait()) {
  uintptr_t sp;
#if defined(__x86_64__)
  asm volatile("mov %%rsp, %0" : "=r"(sp) : : "rbx", "r12", "r13", "r14", "r15", "memory");
#else
#error "run_scannable: no callee-saved register list for this architecture"
#endif
  if (sp > reinterpret_cast<uintptr_t>(__builtin_frame_address(0)))
    rt::detail::fatal("run_scannable: stack pointer above the frame");
  g->blocked_sp = sp;
  g->wait_reason = why;
  cas_status(g, kGRunning, kGWaiting);  // no claim yet: a running G has none
  auto result = wait_scannable(g, wait);
  // Not a tail call: this frame, with the saved registers, must outlive
  // the wait.
  asm volatile("" : "+r"(result));
  return result;
}

// Runs wait() scannable when g (the caller's G, or nullptr off goroutines)
// is running; a G in a syscall scope is scannable already (blocked_sp),
// and a plain thread is never scanned: they just wait.
template <typename F>
auto wait_for_ps(G* g, WaitReason why, F&& wait) -> decltype(wait()) {
  if (g && g->status.load(std::memory_order_relaxed) == kGRunning) return run_scannable(g, why, wait);
  return wait();
}

}  // namespace rt::sched
