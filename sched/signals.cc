// Stack-overflow and SIGQUIT handlers. See signals.h. Both handlers only
// write with write(2) and exit with _exit: async-signal-safe.
#include "sched/signals.h"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

#include "runtime/fatal.h"
#include "sched/proc.h"

namespace rt::sched {

namespace {

constexpr size_t kAltStackSize = 64 << 10;

struct sigaction g_old_segv, g_old_bus;

void forward(int sig, siginfo_t* info, void* uctx) {
  struct sigaction* old = sig == SIGSEGV ? &g_old_segv : &g_old_bus;
  if ((old->sa_flags & SA_SIGINFO) && old->sa_sigaction) {
    old->sa_sigaction(sig, info, uctx);
    return;
  }
  if (old->sa_handler == SIG_IGN) return;
  if (old->sa_handler != SIG_DFL && old->sa_handler != nullptr) {
    old->sa_handler(sig);
    return;
  }
  // Default action: restore it and return, so the fault happens again and
  // kills the process with the right signal.
  signal(sig, SIG_DFL);
}

void fault_handler(int sig, siginfo_t* info, void* uctx) {
  uintptr_t addr = reinterpret_cast<uintptr_t>(info->si_addr);
  M* m = t_m;
  G* g = m ? m->curg.load(std::memory_order_relaxed) : nullptr;
  bool overflow = stack_guard_hit(addr);
  if (!overflow && g) {
    // Just below the stack: a big frame may skip past the guard's start.
    overflow = addr < g->stack.lo && addr + 64 * 1024 >= g->stack.lo;
  }
  if (overflow) {
    rt::detail::FixedText t;
    t << "runtime: goroutine stack exceeds " << uint64_t{g ? g->stack.size() : stack_size()}
      << "-byte limit\n";
    t << "runtime: sp=" << reinterpret_cast<void*>(addr);
    if (g) t << " stack=[" << reinterpret_cast<void*>(g->stack.lo) << ", "
             << reinterpret_cast<void*>(g->stack.hi) << "]";
    t << "\nfatal error: stack overflow\n\n";
    if (g) t << "goroutine " << g->id << " [running]:\n";
    t.write_to(2);
    t = rt::detail::FixedText();
    t << "(raise RT_STACKSIZE to give goroutines bigger stacks)\n";
    t.write_to(2);
    _exit(2);
  }
  forward(sig, info, uctx);
}

void sigquit_handler(int, siginfo_t*, void* uctx) {
  rt::detail::FixedText t;
  t << "SIGQUIT: quit\n\n";
  t.write_to(2);
  dump_goroutines_from_signal(uctx);
  _exit(2);
}

}  // namespace

void install_signal_handlers() {
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sa.sa_sigaction = fault_handler;
  sigaction(SIGSEGV, &sa, &g_old_segv);
  sigaction(SIGBUS, &sa, &g_old_bus);
  // SIGQUIT: only if the application left it at its default.
  struct sigaction cur;
  if (sigaction(SIGQUIT, nullptr, &cur) == 0 && cur.sa_handler == SIG_DFL) {
    sa.sa_sigaction = sigquit_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
    sigaction(SIGQUIT, &sa, nullptr);
  }
}

void minit_signals(M* m) {
  void* mem = mmap(nullptr, kAltStackSize, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem == MAP_FAILED) rt::detail::fatal("minit: cannot allocate a signal stack");
  stack_t ss;
  ss.ss_sp = mem;
  ss.ss_size = kAltStackSize;
  ss.ss_flags = 0;
  if (sigaltstack(&ss, nullptr) != 0) rt::detail::fatal("minit: sigaltstack failed");
  m->altstack = mem;
  sigset_t none;
  sigemptyset(&none);
  pthread_sigmask(SIG_SETMASK, &none, nullptr);
}

}  // namespace rt::sched
