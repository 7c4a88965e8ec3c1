// Asynchronous preemption: the SIGURG handler and its set-up. See preempt.h
// for the rules and preempt_amd64.S for the trampoline.
//
// Sending. preempt_m(m) sends SIGURG to m's thread with tgkill, but only if
// it wins the CAS of m->signal_pending from 0 to 1: at most one signal per M
// is in flight, so a goroutine that keeps refusing cannot be flooded (Go's
// #37741). The handler clears the flag when it is done, whatever it
// decided; sysmon asks again on its next round if the goroutine still runs.
//
// Receiving. The handler runs on the M's alternate signal stack
// (SA_ONSTACK; the scheduler installs one per M). It acts only on the
// runtime's own signals: the thread is an M (t_m != nullptr), the signal
// came from tgkill/tkill of this process (si_code SI_TKILL, si_pid ours)
// and m->signal_pending is set. Anything else, e.g. a SIGURG for
// out-of-band socket data or one the application raised, goes to the
// application's SIGURG handler if one was installed before
// init_preemption (it is called directly, with our signal mask, not its
// own sa_mask), and is otherwise ignored, which is SIGURG's default. The
// kernel merges a pending SIGURG with a second one, so an application
// SIGURG that arrives while the runtime's is pending on the same thread is
// taken for the runtime's and not forwarded; SIGURG is a poor choice for
// an application signal for that reason (Go has the same caveat).
//
// For a runtime signal the handler checks every rule of preempt.h; when all
// hold it edits the interrupted context to inject a call (inject_call
// below): the interrupted RIP goes to RSP-136 (below the red zone), RSP
// points there, RIP becomes the trampoline. Two more checks make that
// write safe: the interrupted RSP must lie in the goroutine's stack with
// room below it for the trampoline's frame, its xsave area and the park
// call chain, and the handler must not itself be running on that stack
// (the kernel's signal frame would sit right where the write goes, which
// is what happens on a thread without an alternate signal stack).
// Reading the M and G fields without synchronisation is sound because the
// handler acts only when the interrupted PC is in user code: the runtime
// code of this thread, which writes those fields, is not mid-way.
//
// Async-signal-safety: the handler and everything it calls only load and
// store memory (t_m, the M/G/P fields, the frozen symbol tables, the
// interrupted stack) and make the getpid system call; no locks, no
// allocation, errno saved and restored. ThreadSanitizer's runtime
// intercepts sigaction and defers signals to its own safe points,
// handing the handler a copy of the context, which would make injection
// impossible (and writes to a stale stack position dangerous); so there
// the handler is installed with the raw rt_sigaction system call (with its
// own sa_restorer) and every function on the handler path is compiled
// without TSan instrumentation (RT_NO_TSAN), since it may interrupt TSan's
// runtime itself.
//
// Test hooks (declared by the tests, not in preempt.h): inject_call, the
// injection itself, callable from a test's own signal handler; and
// set_async_preempt_test_hook(m, park), which sends one M's preemptions to
// rt_async_preempt_trampoline_test, a copy of the trampoline that calls
// `park` instead of rt_async_preempt_park, so the whole signal path can be
// tested with a fake M and no scheduler.
#include "sched/preempt.h"

#if !defined(__x86_64__) || !defined(__linux__)
#error "asynchronous preemption is implemented for x86-64 Linux only"
#endif

#include <cpuid.h>
#include <errno.h>
#include <signal.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

#include "runtime/env.h"
#include "runtime/fatal.h"
#include "runtime/lock.h"
#include "runtime/tsan.h"
#include "sched/symtab.h"

// The store of the return address below the interrupted RSP: that memory
// is free stack, whatever stale shadow state a sanitizer keeps for it.
#define RT_RAW_STACK_WRITE __attribute__((no_sanitize("address", "undefined"))) RT_NO_TSAN

extern "C" {
// Read by preempt_amd64.S. Size of the extended-state save area (a
// multiple of 64); flags: bit 0 XSAVE (else FXSAVE), bit 1 AVX enabled.
// The defaults (FXSAVE) are valid before init_preemption.
__attribute__((visibility("hidden"))) uint32_t rt_xsave_size = 512;
__attribute__((visibility("hidden"))) uint32_t rt_xsave_flags = 0;
// The same for rt_async_preempt_trampoline_test, which calls
// *rt_async_preempt_test_fn instead of rt_async_preempt_park (tests only).
__attribute__((visibility("hidden"))) uint32_t rt_xsave_size_test = 512;
__attribute__((visibility("hidden"))) uint32_t rt_xsave_flags_test = 0;
__attribute__((visibility("hidden"))) void (*rt_async_preempt_test_fn)() = nullptr;

void rt_async_preempt_trampoline_test();
void rt_sigreturn_restorer();
}

namespace rt::sched {

// Test hooks; declared by the tests that use them, not in preempt.h.
bool inject_call(ucontext_t* uc, uintptr_t target, uintptr_t stack_lo, uintptr_t stack_hi);
void set_async_preempt_test_hook(M* m, void (*park)());

namespace {

constexpr uintptr_t kRedZone = 128;
// What the trampoline pushes: return address, RBP, RFLAGS, 14 GPRs, plus
// up to 63 bytes of alignment before the xsave area.
constexpr uintptr_t kTrampolineFrame = 17 * 8 + 63;
// The park call chain below the trampoline (rt_async_preempt_park, the
// switch to g0), and a margin above the guard page.
#if defined(RT_ASAN) || defined(RT_TSAN)
constexpr uintptr_t kParkChain = 8 << 10;
#else
constexpr uintptr_t kParkChain = 4 << 10;
#endif
constexpr uintptr_t kStackMargin = 4 << 10;

// The M whose preemptions go to rt_async_preempt_trampoline_test (tests).
M* g_test_m = nullptr;

rt::detail::Lock g_init_lock;
bool g_initialized = false;  // g_init_lock
std::atomic<bool> g_installed{false};

// The application's SIGURG action found at installation (SIG_DFL if none).
void* g_old_handler = nullptr;
unsigned long g_old_flags = 0;

// --- extended state ---------------------------------------------------------

void init_xsave() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return;
  bool osxsave = (c & bit_OSXSAVE) != 0;
  bool avx_cpu = (c & bit_AVX) != 0;
  if (!osxsave || __get_cpuid_max(0, nullptr) < 0xD) return;  // FXSAVE, 512 bytes
  unsigned xcr0_lo, xcr0_hi;
  __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  __cpuid_count(0xD, 0, a, b, c, d);
  // EBX: bytes needed by XSAVE for the features enabled in XCR0.
  uint32_t size = b < 576 ? 576 : b;  // legacy area + header at least
  rt_xsave_size = rt_xsave_size_test = (size + 63) & ~63u;
  uint32_t flags = 1;
  if (avx_cpu && (xcr0_lo & 6) == 6) flags |= 2;  // XCR0: SSE and AVX state enabled
  rt_xsave_flags = rt_xsave_flags_test = flags;
}

// --- the handler ------------------------------------------------------------

RT_NO_TSAN void forward(int sig, siginfo_t* info, void* ctx) {
  void* h = g_old_handler;
  if (h == reinterpret_cast<void*>(SIG_DFL) || h == reinterpret_cast<void*>(SIG_IGN)) return;
  if (g_old_flags & SA_SIGINFO) {
    reinterpret_cast<void (*)(int, siginfo_t*, void*)>(h)(sig, info, ctx);
  } else {
    reinterpret_cast<void (*)(int)>(h)(sig);
  }
}

// Loads and stores for the handler path, on plain and std::atomic fields
// alike, that compile to plain instructions in every build: std::atomic's
// member functions are not inlined into RT_NO_TSAN functions under TSan,
// and their out-of-line copies are instrumented.
template <typename T>
RT_NO_TSAN inline T sig_load(const T& v) {
  return __atomic_load_n(&v, __ATOMIC_RELAXED);
}
template <typename T>
RT_NO_TSAN inline T sig_load(const std::atomic<T>& v) {
  static_assert(sizeof(std::atomic<T>) == sizeof(T) && std::atomic<T>::is_always_lock_free);
  return __atomic_load_n(reinterpret_cast<const T*>(&v), __ATOMIC_ACQUIRE);
}
template <typename T>
RT_NO_TSAN inline void sig_store_release(std::atomic<T>& v, T x) {
  __atomic_store_n(reinterpret_cast<T*>(&v), x, __ATOMIC_RELEASE);
}
template <typename T>
RT_NO_TSAN inline void sig_increment(std::atomic<T>& v) {
  __atomic_fetch_add(reinterpret_cast<T*>(&v), 1, __ATOMIC_RELAXED);
}

// The rules of preempt.h about the M and its goroutine.
RT_NO_TSAN G* preemptible_g(M* m) {
  G* g = sig_load(m->curg);
  if (!g || sig_load(g->m) != m) return nullptr;
  if (!sig_load(g->preempt)) return nullptr;
  if (sig_load(g->status) != kGRunning) return nullptr;
  P* p = sig_load(m->p);
  if (!p || sig_load(p->status) != kPRunning) return nullptr;
  if (rt::detail::t_runtime_locks != 0 || sig_load(g->nopreempt) != 0) return nullptr;
  return g;
}

RT_NO_TSAN void sigurg_handler(int sig, siginfo_t* info, void* ctx) {
  int saved_errno = errno;
  M* m = t_m;
  if (!m || !info || info->si_code != SI_TKILL || info->si_pid != getpid() ||
      sig_load(m->signal_pending) == 0) {
    forward(sig, info, ctx);
    errno = saved_errno;
    return;
  }
  auto* uc = static_cast<ucontext_t*>(ctx);
  G* g = preemptible_g(m);
  if (g &&
      symtab_classify(static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RIP])) == PcClass::kUser) {
    uintptr_t target = __atomic_load_n(&g_test_m, __ATOMIC_ACQUIRE) == m
                           ? reinterpret_cast<uintptr_t>(&rt_async_preempt_trampoline_test)
                           : reinterpret_cast<uintptr_t>(&rt_async_preempt_trampoline);
    if (inject_call(uc, target, g->stack.lo, g->stack.hi)) sig_increment(m->preempt_gen);
  }
  sig_store_release(m->signal_pending, 0u);
  errno = saved_errno;
}

#if defined(RT_TSAN)
// The kernel's struct sigaction for rt_sigaction (x86-64).
struct KernelSigaction {
  void* handler;
  unsigned long flags;
  void (*restorer)();
  uint64_t mask;
};
#ifndef SA_RESTORER
#define SA_RESTORER 0x04000000
#endif
#endif

void install_handler() {
  unsigned long flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
#if defined(RT_TSAN)
  // Bypass TSan's sigaction interceptor (see the file comment).
  KernelSigaction act{}, old{};
  act.handler = reinterpret_cast<void*>(&sigurg_handler);
  act.flags = flags | SA_RESTORER;
  act.restorer = &rt_sigreturn_restorer;
  act.mask = 0;
  if (syscall(SYS_rt_sigaction, SIGURG, &act, &old, sizeof(act.mask)) != 0)
    rt::detail::fatal("init_preemption: rt_sigaction(SIGURG) failed");
  g_old_handler = old.handler;
  g_old_flags = old.flags;
#else
  struct sigaction act, old;
  memset(&act, 0, sizeof(act));
  act.sa_sigaction = &sigurg_handler;
  act.sa_flags = static_cast<int>(flags);
  sigemptyset(&act.sa_mask);
  if (sigaction(SIGURG, &act, &old) != 0)
    rt::detail::fatal("init_preemption: sigaction(SIGURG) failed");
  g_old_handler = (old.sa_flags & SA_SIGINFO) ? reinterpret_cast<void*>(old.sa_sigaction)
                                              : reinterpret_cast<void*>(old.sa_handler);
  g_old_flags = static_cast<unsigned long>(old.sa_flags);
#endif
  // Never forward to ourselves (a second runtime image, or a re-install).
  if (g_old_handler == reinterpret_cast<void*>(&sigurg_handler)) {
    g_old_handler = reinterpret_cast<void*>(SIG_DFL);
    g_old_flags = 0;
  }
  g_installed.store(true, std::memory_order_release);
}

}  // namespace

// Injects a call to `target` into the interrupted context `uc` if the
// interrupted RSP lies in (stack_lo, stack_hi] with room for the
// trampoline below the red zone, and the caller is not running on that
// stack. Async-signal-safe.
RT_RAW_STACK_WRITE bool inject_call(ucontext_t* uc, uintptr_t target, uintptr_t stack_lo,
                                    uintptr_t stack_hi) {
  greg_t* r = uc->uc_mcontext.gregs;
  uintptr_t sp = static_cast<uintptr_t>(r[REG_RSP]);
  uintptr_t pc = static_cast<uintptr_t>(r[REG_RIP]);
  if (stack_lo == 0 || sp <= stack_lo || sp > stack_hi) return false;
  // Our own frame (and the kernel's signal frame above it) must be
  // elsewhere, i.e. on the alternate signal stack.
  uintptr_t here = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  if (here >= stack_lo && here < stack_hi) return false;
  uintptr_t need = kRedZone + kTrampolineFrame + __atomic_load_n(&rt_xsave_size, __ATOMIC_RELAXED) +
                   kParkChain + kStackMargin;
  if (sp - stack_lo < need) return false;
  uintptr_t new_sp = sp - kRedZone - sizeof(uintptr_t);
  __builtin_memcpy(reinterpret_cast<void*>(new_sp), &pc, sizeof(pc));
  r[REG_RSP] = static_cast<greg_t>(new_sp);
  r[REG_RIP] = static_cast<greg_t>(target);
  return true;
}

// Sends m's asynchronous preemptions to rt_async_preempt_trampoline_test,
// which calls `park` (m == nullptr: none). Other Ms are not affected.
void set_async_preempt_test_hook(M* m, void (*park)()) {
  __atomic_store_n(&rt_async_preempt_test_fn, park, __ATOMIC_RELEASE);
  __atomic_store_n(&g_test_m, m, __ATOMIC_RELEASE);
}

void init_preemption() {
  rt::detail::LockGuard lk(g_init_lock);
  if (g_initialized) return;
  symtab_init();
  init_xsave();
  if (async_preemption_enabled()) install_handler();
  g_initialized = true;
}

bool async_preemption_enabled() {
  return rt::detail::config().debug.asyncpreemptoff == 0;
}

void preempt_m(M* m) {
  if (!m || m->tid == 0 || !g_installed.load(std::memory_order_acquire)) return;
  uint32_t expected = 0;
  if (!m->signal_pending.compare_exchange_strong(expected, 1, std::memory_order_acq_rel,
                                                 std::memory_order_relaxed))
    return;
  if (syscall(SYS_tgkill, getpid(), m->tid, SIGURG) != 0)
    m->signal_pending.store(0, std::memory_order_release);  // the thread is gone
}

RT_NO_TSAN bool is_async_safe_pc(uintptr_t pc) {
  return symtab_classify(pc) == PcClass::kUser;
}

}  // namespace rt::sched
