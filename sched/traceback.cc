// Goroutine traces. See traceback.h.
#include "sched/traceback.h"

#include <cxxabi.h>
#include <execinfo.h>
#include <ucontext.h>

#include <cstdlib>

#include "runtime/fatal.h"
#include "sched/proc.h"
#include "sched/symtab.h"

namespace rt::sched {

namespace {

void print_frame(uintptr_t pc, int fd, bool demangle) {
  rt::detail::FixedText t;
  uintptr_t off = 0;
  const char* name = symtab_lookup(pc, &off);
  if (name) {
    int status = 0;
    char* dem = demangle ? abi::__cxa_demangle(name, nullptr, nullptr, &status) : nullptr;
    t << "  " << (status == 0 && dem ? dem : name);
    free(dem);
    t << "+";
    t.hex(off);
  } else {
    t << "  ?";
  }
  t << " (" << reinterpret_cast<void*>(pc) << ")\n";
  t.write_to(fd);
}

// Prints pc, then the return addresses of the frame-pointer chain from rbp,
// while it stays word-aligned, climbs, and lies in [lo, hi).
void walk_frames(uintptr_t pc, uintptr_t rbp, uintptr_t lo, uintptr_t hi, int fd, bool demangle) {
  print_frame(pc, fd, demangle);
  for (int depth = 0; depth < 64; depth++) {
    if (rbp < lo || rbp + 16 > hi || (rbp & 7) != 0) break;
    uintptr_t ret = *reinterpret_cast<uintptr_t*>(rbp + 8);
    uintptr_t next = *reinterpret_cast<uintptr_t*>(rbp);
    if (ret == 0) break;
    print_frame(ret, fd, demangle);
    if (next <= rbp) break;
    lo = rbp;
    rbp = next;
  }
}

}  // namespace

void print_current_backtrace(int fd) {
  void* frames[64];
  int n = backtrace(frames, 64);
  // Skip this function and the panic/fatal machinery's own frame.
  for (int i = 1; i < n; i++) print_frame(reinterpret_cast<uintptr_t>(frames[i]), fd, true);
}

void print_g_backtrace(G* g, int fd, bool demangle) {
  uintptr_t sp = reinterpret_cast<uintptr_t>(g->ctx);
  if (sp < g->stack.lo || sp + 0x40 > g->stack.hi) return;
  uintptr_t rbp = *reinterpret_cast<uintptr_t*>(sp + 0x30);
  uintptr_t pc = *reinterpret_cast<uintptr_t*>(sp + 0x38);
  walk_frames(pc, rbp, sp, g->stack.hi, fd, demangle);
}

void print_context_backtrace(G* g, const void* ucontext, int fd) {
  const greg_t* r = static_cast<const ucontext_t*>(ucontext)->uc_mcontext.gregs;
  auto sp = static_cast<uintptr_t>(r[REG_RSP]);
  if (sp < g->stack.lo || sp >= g->stack.hi) return;  // not on its own stack: nothing to walk
  walk_frames(static_cast<uintptr_t>(r[REG_RIP]), static_cast<uintptr_t>(r[REG_RBP]), sp,
              g->stack.hi, fd, /*demangle=*/false);
}

namespace {

const char* status_string(uint32_t s) {
  switch (s & ~kGScan) {
    case kGIdle: return "idle";
    case kGRunnable: return "runnable";
    case kGRunning: return "running";
    case kGSyscall: return "syscall";
    case kGWaiting: return "waiting";
    case kGDead: return "dead";
    case kGPreempted: return "preempted";
  }
  return "?";
}

// arg: the interrupted context when called from a signal handler, else
// nullptr.
void dump_one(G* g, void* signal_context) {
  bool demangle = signal_context == nullptr;
  uint32_t s = g->status.load(std::memory_order_acquire);
  if (s == kGDead || s == kGIdle) return;
  rt::detail::FixedText t;
  t << "goroutine " << g->id << " [";
  if ((s & ~kGScan) == kGWaiting && g->wait_reason != WaitReason::kNone) {
    t << wait_reason_string(g->wait_reason);
  } else {
    t << status_string(s);
  }
  if (g->lockedm) t << ", locked to thread";
  t << "]:" << (g->system ? " (runtime)" : "") << "\n";
  t.write_to(2);
  uint32_t st = s & ~kGScan;
  // A G still on its M (a syscall scope, a scannable wait) has a stale
  // saved context: it prints like a running one.
  bool switched_out = (st == kGWaiting || st == kGRunnable || st == kGPreempted) && !on_m_from_blocked_sp(g, st);
  if (switched_out) {
    print_g_backtrace(g, 2, demangle);
  } else if (g == getg()) {
    // backtrace() may allocate (on first use): not from a signal handler.
    if (signal_context) {
      print_context_backtrace(g, signal_context, 2);
    } else {
      print_current_backtrace(2);
    }
  }
  rt::detail::FixedText nl;
  nl << "\n";
  nl.write_to(2);
}

}  // namespace

void dump_goroutines() { for_each_g(dump_one, nullptr); }

void dump_goroutines_from_signal(const void* ucontext) {
  for_each_g(dump_one, const_cast<void*>(ucontext));
}

}  // namespace rt::sched
