// The asynchronous-preemption trampoline's register round trip, driven by
// the test's own signal handler instead of the runtime's SIGURG handler.
// A SIGUSR1 handler calls inject_call on preempt_test_spin (see
// sched_preempt_routine.h): the injected call runs the production
// trampoline's body (rt_async_preempt_trampoline_test), which must preserve
// every general, vector, x87 and MXCSR register, the flags, the red zone
// and RSP, and call the park function the way the ABI says. It runs on the
// XSAVE path and on the FXSAVE path; without an alternate signal stack,
// inject_call refuses. Also: the XSAVE area size the trampoline reserves.
// Signals are handled on an alternate signal stack, as on an M. Under
// ThreadSanitizer the test's own handler is installed with the raw system
// call, as the runtime does (TSan would otherwise defer it).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <cpuid.h>
#include <cstdint>

#include "sched/preempt.h"
#include "tests/sched_preempt_routine.h"

namespace {

class SchedPreemptTrampoline : public testing::Test {
 protected:
  static void SetUpTestSuite() { rt::sched::init_preemption(); }
};

TEST_F(SchedPreemptTrampoline, XsaveArea) {
  EXPECT_EQ(rt_xsave_size % 64, 0u);
  unsigned a = 0, b = 0, c = 0, d = 0;
  ASSERT_TRUE(__get_cpuid(1, &a, &b, &c, &d));
  if (c & bit_OSXSAVE) {
    EXPECT_EQ(rt_xsave_flags & 1u, 1u);
    __cpuid_count(0xD, 0, a, b, c, d);
    EXPECT_GE(rt_xsave_size, b);
    EXPECT_LT(rt_xsave_size, b + 64);
  } else {
    EXPECT_EQ(rt_xsave_flags, 0u);
    EXPECT_EQ(rt_xsave_size, 512u);
  }
  EXPECT_EQ(rt_xsave_size_test, rt_xsave_size);
  EXPECT_EQ(rt_xsave_flags_test, rt_xsave_flags);
}


// Installs a SA_SIGINFO|SA_ONSTACK handler; with TSan through the raw
// system call, as preempt.cc does. Returns the previous handler.
struct KAction {
  void* handler;
  unsigned long flags;
  void (*restorer)();
  uint64_t mask;
};
KAction install(int sig, void (*h)(int, siginfo_t*, void*)) {
  KAction old{};
#if PREEMPT_TEST_TSAN
  KAction act{};
  act.handler = reinterpret_cast<void*>(h);
  act.flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART | 0x04000000 /* SA_RESTORER */;
  act.restorer = &rt_sigreturn_restorer;
  syscall(SYS_rt_sigaction, sig, &act, &old, sizeof(act.mask));
#else
  struct sigaction sa {
  }, prev{};
  sa.sa_sigaction = h;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
  sigaction(sig, &sa, &prev);
  old.handler = reinterpret_cast<void*>(prev.sa_handler);
  old.flags = static_cast<unsigned long>(prev.sa_flags);
#endif
  return old;
}
void restore(int sig, const KAction& old) {
#if PREEMPT_TEST_TSAN
  KAction o = old;
  syscall(SYS_rt_sigaction, sig, &o, nullptr, sizeof(o.mask));
#else
  struct sigaction sa {};
  sa.sa_handler = reinterpret_cast<void (*)(int)>(old.handler);
  sa.sa_flags = static_cast<int>(old.flags);
  sigaction(sig, &sa, nullptr);
#endif
}

// --- the trampoline, injected by the test's own handler -----------------------

uintptr_t g_lo, g_hi;
int g_injected = 0;

PREEMPT_TEST_NO_TSAN void usr1_handler(int, siginfo_t*, void* ctx) {
  auto* uc = static_cast<ucontext_t*>(ctx);
  auto pc = static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RIP]);
  if (__atomic_load_n(&g_injected, __ATOMIC_RELAXED) ||
      pc < reinterpret_cast<uintptr_t>(preempt_test_spin_loop) ||
      pc >= reinterpret_cast<uintptr_t>(preempt_test_spin_loop_end))
    return;
  if (rt::sched::inject_call(uc, reinterpret_cast<uintptr_t>(&rt_async_preempt_trampoline_test),
                             g_lo, g_hi))
    __atomic_store_n(&g_injected, 1, __ATOMIC_RELAXED);
}

void run_injected(int level) {
  SCOPED_TRACE(testing::Message() << "level " << level << ", xsave flags " << rt_xsave_flags_test);
  fill_patterns(level);
  g_injected = 0;
  g_fake_g = nullptr;
  thread_stack(&g_lo, &g_hi);
  AltStack alt;
  rt::sched::set_async_preempt_test_hook(nullptr, &preempt_test_park);
  KAction old = install(SIGUSR1, &usr1_handler);
  pid_t pid = getpid(), tid = preempt_test_gettid();
  spin_while_poked([&] { syscall(SYS_tgkill, pid, tid, SIGUSR1); });
  restore(SIGUSR1, old);
  rt::sched::set_async_preempt_test_hook(nullptr, nullptr);
  EXPECT_EQ(g_injected, 1);
  check_round_trip(level);
}

TEST_F(SchedPreemptTrampoline, TrampolinePreservesEverything) {
  for (int level = 0; level <= max_vector_level(); level++) run_injected(level);
}

TEST_F(SchedPreemptTrampoline, TrampolineFxsavePath) {
  // The test trampoline's own copies: real preemptions are not affected.
  uint32_t size = rt_xsave_size_test, flags = rt_xsave_flags_test;
  rt_xsave_size_test = 512;
  rt_xsave_flags_test = 0;
  run_injected(0);
  rt_xsave_size_test = size;
  rt_xsave_flags_test = flags;
}

// No alternate signal stack: the handler runs on the stack it would write
// to, so inject_call refuses.
TEST_F(SchedPreemptTrampoline, InjectRefusesWithoutAltStack) {
  stack_t ss{}, old{};
  ss.ss_flags = SS_DISABLE;
  sigaltstack(&ss, &old);
  fill_patterns(0);
  g_injected = 0;
  thread_stack(&g_lo, &g_hi);
  rt::sched::set_async_preempt_test_hook(nullptr, &preempt_test_park);
  KAction prev = install(SIGUSR1, &usr1_handler);
  pid_t pid = getpid(), tid = preempt_test_gettid();
  int pokes = 0;
  // Poke a few times, then release the routine ourselves.
  spin_while_poked([&] {
    syscall(SYS_tgkill, pid, tid, SIGUSR1);
    if (++pokes == 50) __atomic_store_n(&preempt_test_state.done, 1, __ATOMIC_RELEASE);
  });
  restore(SIGUSR1, prev);
  rt::sched::set_async_preempt_test_hook(nullptr, nullptr);
  if (old.ss_flags != SS_DISABLE) sigaltstack(&old, nullptr);
  EXPECT_EQ(g_injected, 0);
  EXPECT_EQ(preempt_test_state.park_calls, 0u);
  for (int r = 0; r < 15; r++)
    EXPECT_EQ(preempt_test_state.out_gpr[r], preempt_test_state.pat_gpr[r]);
}
}  // namespace
