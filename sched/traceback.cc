// Goroutine traces. See traceback.h.
#include "sched/traceback.h"

#include <cxxabi.h>
#include <execinfo.h>

#include <cstdlib>

#include "runtime/fatal.h"
#include "sched/proc.h"
#include "sched/symtab.h"

namespace rt::sched {

namespace {

void print_frame(uintptr_t pc, int fd) {
  rt::detail::FixedText t;
  uintptr_t off = 0;
  const char* name = symtab_lookup(pc, &off);
  if (name) {
    int status = 0;
    char* dem = abi::__cxa_demangle(name, nullptr, nullptr, &status);
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

}  // namespace

void print_current_backtrace(int fd) {
  void* frames[64];
  int n = backtrace(frames, 64);
  // Skip this function and the panic/fatal machinery's own frame.
  for (int i = 1; i < n; i++) print_frame(reinterpret_cast<uintptr_t>(frames[i]), fd);
}

void print_g_backtrace(G* g, int fd) {
  uintptr_t sp = reinterpret_cast<uintptr_t>(g->ctx);
  if (sp < g->stack.lo || sp + 0x40 > g->stack.hi) return;
  uintptr_t rbp = *reinterpret_cast<uintptr_t*>(sp + 0x30);
  uintptr_t pc = *reinterpret_cast<uintptr_t*>(sp + 0x38);
  print_frame(pc, fd);
  for (int depth = 0; depth < 64; depth++) {
    if (rbp < sp || rbp + 16 > g->stack.hi || (rbp & 7) != 0) break;
    uintptr_t ret = *reinterpret_cast<uintptr_t*>(rbp + 8);
    uintptr_t next = *reinterpret_cast<uintptr_t*>(rbp);
    if (ret == 0) break;
    print_frame(ret, fd);
    if (next <= rbp) break;
    sp = rbp;
    rbp = next;
  }
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

void dump_one(G* g, void*) {
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
  if (st == kGWaiting || st == kGRunnable || st == kGPreempted) {
    print_g_backtrace(g, 2);
  } else if (g == getg()) {
    print_current_backtrace(2);
  }
  rt::detail::FixedText nl;
  nl << "\n";
  nl.write_to(2);
}

}  // namespace

void dump_goroutines() { for_each_g(dump_one, nullptr); }

}  // namespace rt::sched
