// Asynchronous preemption without the scheduler.
//
// 1. The safe-PC tables: user code of the test executable is preemptible;
//    librt's code (namespace rt, which by design includes rt code defined
//    in this file), libc, libstdc++, the heap and address 0 are not; symbol
//    names round-trip through symtab_lookup; the name rules.
// 2. The trampoline's register round trip. An assembly routine
//    (preempt_test_spin) loads patterns into every general register (RBP
//    too), the vector registers (XMM0-15, YMM0-15 or ZMM0-31 and k0-7, as
//    the CPU allows), two x87 stack slots, MXCSR and the x87 control word,
//    fills its red zone, sets DF, and spins until a flag is set. A signal
//    injects a call to rt_async_preempt_trampoline_test (the production
//    trampoline's body, calling *rt_async_preempt_test_fn instead of
//    rt_async_preempt_park), whose target (preempt_test_park, assembly)
//    records the state it was called in (alignment, DF, MXCSR, x87), runs
//    backtrace() and clobbers every caller-saved register and the vector,
//    x87 and MXCSR state before setting the flag. The routine then stores
//    everything and the test compares: all state equal, red zone intact,
//    RSP unchanged. It runs on the XSAVE path and on the FXSAVE path.
//    a) Low level: a SIGUSR1 handler of the test calls inject_call.
//    b) The real SIGURG handler, with a fake M/G/P on the main thread and
//       preempt_m from another thread; then every refusal rule, and the
//       forwarding of SIGURGs that are not the runtime's.
// Signals are handled on an alternate signal stack, as on an M. Under
// ThreadSanitizer the test's own handler is installed with the raw system
// call, as the runtime does (TSan would otherwise defer it).
#include <execinfo.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <cpuid.h>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "runtime/fatal.h"
#include "runtime/lock.h"
#include "sched/gmp.h"
#include "sched/preempt.h"
#include "sched/symtab.h"

#if defined(RT_TSAN) || defined(__SANITIZE_THREAD__)
#define TEST_TSAN 1
#define TEST_NO_TSAN __attribute__((no_sanitize("thread")))
#else
#define TEST_TSAN 0
#define TEST_NO_TSAN
#endif

// Test hooks of preempt.cc (not in preempt.h).
namespace rt::sched {
bool inject_call(ucontext_t* uc, uintptr_t target, uintptr_t stack_lo, uintptr_t stack_hi);
void set_async_preempt_test_hook(M* m, void (*park)());
}  // namespace rt::sched
extern "C" {
extern uint32_t rt_xsave_size;
extern uint32_t rt_xsave_flags;
extern uint32_t rt_xsave_size_test;
extern uint32_t rt_xsave_flags_test;
void rt_async_preempt_trampoline_test();
void rt_sigreturn_restorer();
void _init();
}

// Code in namespace rt is librt's by design, wherever it is defined.
// Set by the spin loops below once they run.
int g_spin_started = 0;

namespace rt {
__attribute__((noinline)) void test_helper_in_rt() {
  __asm__ volatile("");
}
__attribute__((noinline)) void test_spin_in_rt(const int* stop) {
  __atomic_store_n(&g_spin_started, 1, __ATOMIC_RELEASE);
  while (!__atomic_load_n(stop, __ATOMIC_RELAXED)) __asm__ volatile("pause");
}
}  // namespace rt

volatile int g_sink;
// Several instructions long, so that f + 1 is still inside it.
__attribute__((noinline)) void plain_user_function() {
  for (int i = 0; i < 4; i++) g_sink = g_sink + i;
}
__attribute__((noinline)) void user_spin_until(const int* stop) {
  __atomic_store_n(&g_spin_started, 1, __ATOMIC_RELEASE);
  while (!__atomic_load_n(stop, __ATOMIC_RELAXED)) __asm__ volatile("pause");
}

// --- the register round trip: shared state and the assembly -----------------

struct alignas(64) SpinState {
  uint8_t pat_vec[32][64];  // vector register patterns
  uint8_t out_vec[32][64];
  uint64_t pat_gpr[15];  // rax rbx rcx rdx rsi rdi rbp r8..r15
  uint64_t pad0;
  uint64_t out_gpr[15];
  uint64_t pad1;
  uint64_t out_red[16];  // red zone slots at -8*(i+1)(%rsp)
  uint16_t pat_k[8];
  uint16_t out_k[8];
  double pat_f[2];
  double out_f[2];  // out_f[0] = the value loaded last
  uint64_t rsp_before, rsp_after, out_flags;
  uint32_t pat_mxcsr, out_mxcsr;
  uint16_t pat_fcw, out_fcw;
  uint32_t level;  // 0: SSE, 1: AVX, 2: AVX-512
  uint32_t spinning, done;
  uint32_t park_mxcsr;
  uint64_t park_rsp, park_flags;
  uint16_t park_fcw, park_fsw;
  uint32_t park_calls;
};
extern "C" __attribute__((visibility("hidden"))) SpinState preempt_test_state;
SpinState preempt_test_state;

#define OFF_PAT_VEC 0
#define OFF_OUT_VEC 2048
#define OFF_PAT_GPR 4096
#define OFF_OUT_GPR 4224
#define OFF_OUT_RED 4352
#define OFF_PAT_K 4480
#define OFF_OUT_K 4496
#define OFF_PAT_F 4512
#define OFF_OUT_F 4528
#define OFF_RSP_BEFORE 4544
#define OFF_RSP_AFTER 4552
#define OFF_OUT_FLAGS 4560
#define OFF_PAT_MXCSR 4568
#define OFF_OUT_MXCSR 4572
#define OFF_PAT_FCW 4576
#define OFF_OUT_FCW 4578
#define OFF_LEVEL 4580
#define OFF_SPINNING 4584
#define OFF_DONE 4588
#define OFF_PARK_MXCSR 4592
#define OFF_PARK_RSP 4600
#define OFF_PARK_FLAGS 4608
#define OFF_PARK_FCW 4616
#define OFF_PARK_FSW 4618
#define OFF_PARK_CALLS 4620
static_assert(offsetof(SpinState, out_vec) == OFF_OUT_VEC);
static_assert(offsetof(SpinState, pat_gpr) == OFF_PAT_GPR);
static_assert(offsetof(SpinState, out_gpr) == OFF_OUT_GPR);
static_assert(offsetof(SpinState, out_red) == OFF_OUT_RED);
static_assert(offsetof(SpinState, pat_k) == OFF_PAT_K);
static_assert(offsetof(SpinState, out_k) == OFF_OUT_K);
static_assert(offsetof(SpinState, pat_f) == OFF_PAT_F);
static_assert(offsetof(SpinState, out_f) == OFF_OUT_F);
static_assert(offsetof(SpinState, rsp_before) == OFF_RSP_BEFORE);
static_assert(offsetof(SpinState, rsp_after) == OFF_RSP_AFTER);
static_assert(offsetof(SpinState, out_flags) == OFF_OUT_FLAGS);
static_assert(offsetof(SpinState, pat_mxcsr) == OFF_PAT_MXCSR);
static_assert(offsetof(SpinState, out_mxcsr) == OFF_OUT_MXCSR);
static_assert(offsetof(SpinState, pat_fcw) == OFF_PAT_FCW);
static_assert(offsetof(SpinState, out_fcw) == OFF_OUT_FCW);
static_assert(offsetof(SpinState, level) == OFF_LEVEL);
static_assert(offsetof(SpinState, spinning) == OFF_SPINNING);
static_assert(offsetof(SpinState, done) == OFF_DONE);
static_assert(offsetof(SpinState, park_mxcsr) == OFF_PARK_MXCSR);
static_assert(offsetof(SpinState, park_rsp) == OFF_PARK_RSP);
static_assert(offsetof(SpinState, park_flags) == OFF_PARK_FLAGS);
static_assert(offsetof(SpinState, park_fcw) == OFF_PARK_FCW);
static_assert(offsetof(SpinState, park_fsw) == OFF_PARK_FSW);
static_assert(offsetof(SpinState, park_calls) == OFF_PARK_CALLS);

#define STR_(x) #x
#define STR(x) STR_(x)
#define ST(off) "preempt_test_state+" STR(off)

extern "C" void preempt_test_spin();  // level in preempt_test_state.level
extern "C" void preempt_test_park();
extern "C" char preempt_test_spin_loop[], preempt_test_spin_loop_end[];

// The red zone pattern of slot i (at -8*(i+1)(%rsp)).
constexpr uint64_t kRedPattern = 0xA5A5A5A5A5A5A500ull;

__asm__(R"(
        .text
        .globl  preempt_test_spin
        .type   preempt_test_spin, @function
        .p2align 4
preempt_test_spin:
        .cfi_startproc
        pushq   %rbp
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %rbp, 0
        pushq   %rbx
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %rbx, 0
        pushq   %r12
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %r12, 0
        pushq   %r13
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %r13, 0
        pushq   %r14
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %r14, 0
        pushq   %r15
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %r15, 0

        cmpl    $1, )" ST(OFF_LEVEL) R"((%rip)
        jb      10f
        je      11f
        .irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
        vmovdqu64 )" ST(OFF_PAT_VEC) R"(+64*\i(%rip), %zmm\i
        .endr
        .irp i, 0,1,2,3,4,5,6,7
        kmovw   )" ST(OFF_PAT_K) R"(+2*\i(%rip), %k\i
        .endr
        jmp     12f
11:
        .irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
        vmovdqu )" ST(OFF_PAT_VEC) R"(+64*\i(%rip), %ymm\i
        .endr
        jmp     12f
10:
        .irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
        movdqu  )" ST(OFF_PAT_VEC) R"(+64*\i(%rip), %xmm\i
        .endr
12:
        ldmxcsr )" ST(OFF_PAT_MXCSR) R"((%rip)
        fldcw   )" ST(OFF_PAT_FCW) R"((%rip)
        fldl    )" ST(OFF_PAT_F) R"((%rip)
        fldl    )" ST(OFF_PAT_F) R"(+8(%rip)
        .irp i, 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16
        movabsq $0xA5A5A5A5A5A5A500+\i-1, %rax
        movq    %rax, -8*\i(%rsp)
        .endr
        movq    %rsp, )" ST(OFF_RSP_BEFORE) R"((%rip)
        .set    .Lgi, 0
        .irp r, rax,rbx,rcx,rdx,rsi,rdi,rbp,r8,r9,r10,r11,r12,r13,r14,r15
        movq    )" ST(OFF_PAT_GPR) R"(+8*.Lgi(%rip), %\r
        .set    .Lgi, .Lgi+1
        .endr
        std
        movl    $1, )" ST(OFF_SPINNING) R"((%rip)
        .globl  preempt_test_spin_loop
preempt_test_spin_loop:
        pause
        cmpl    $0, )" ST(OFF_DONE) R"((%rip)
        je      preempt_test_spin_loop
        .globl  preempt_test_spin_loop_end
preempt_test_spin_loop_end:
        .set    .Lgi, 0
        .irp r, rax,rbx,rcx,rdx,rsi,rdi,rbp,r8,r9,r10,r11,r12,r13,r14,r15
        movq    %\r, )" ST(OFF_OUT_GPR) R"(+8*.Lgi(%rip)
        .set    .Lgi, .Lgi+1
        .endr
        movq    %rsp, )" ST(OFF_RSP_AFTER) R"((%rip)
        .irp i, 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16
        movq    -8*\i(%rsp), %rax
        movq    %rax, )" ST(OFF_OUT_RED) R"(+8*(\i-1)(%rip)
        .endr
        pushfq
        popq    )" ST(OFF_OUT_FLAGS) R"((%rip)
        cld
        stmxcsr )" ST(OFF_OUT_MXCSR) R"((%rip)
        fnstcw  )" ST(OFF_OUT_FCW) R"((%rip)
        fstpl   )" ST(OFF_OUT_F) R"((%rip)
        fstpl   )" ST(OFF_OUT_F) R"(+8(%rip)
        cmpl    $1, )" ST(OFF_LEVEL) R"((%rip)
        jb      20f
        je      21f
        .irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
        vmovdqu64 %zmm\i, )" ST(OFF_OUT_VEC) R"(+64*\i(%rip)
        .endr
        .irp i, 0,1,2,3,4,5,6,7
        kmovw   %k\i, )" ST(OFF_OUT_K) R"(+2*\i(%rip)
        .endr
        vzeroupper
        jmp     22f
21:
        .irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
        vmovdqu %ymm\i, )" ST(OFF_OUT_VEC) R"(+64*\i(%rip)
        .endr
        vzeroupper
        jmp     22f
20:
        .irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
        movdqu  %xmm\i, )" ST(OFF_OUT_VEC) R"(+64*\i(%rip)
        .endr
22:
        fninit
        movl    $0x1f80, -4(%rsp)
        ldmxcsr -4(%rsp)
        popq    %r15
        .cfi_adjust_cfa_offset -8
        popq    %r14
        .cfi_adjust_cfa_offset -8
        popq    %r13
        .cfi_adjust_cfa_offset -8
        popq    %r12
        .cfi_adjust_cfa_offset -8
        popq    %rbx
        .cfi_adjust_cfa_offset -8
        popq    %rbp
        .cfi_adjust_cfa_offset -8
        ret
        .cfi_endproc
        .size   preempt_test_spin, .-preempt_test_spin

        .globl  preempt_test_park
        .type   preempt_test_park, @function
        .p2align 4
preempt_test_park:
        .cfi_startproc
        movq    %rsp, )" ST(OFF_PARK_RSP) R"((%rip)
        pushfq
        .cfi_adjust_cfa_offset 8
        popq    )" ST(OFF_PARK_FLAGS) R"((%rip)
        .cfi_adjust_cfa_offset -8
        stmxcsr )" ST(OFF_PARK_MXCSR) R"((%rip)
        fnstcw  )" ST(OFF_PARK_FCW) R"((%rip)
        fnstsw  )" ST(OFF_PARK_FSW) R"((%rip)
        subq    $8, %rsp
        .cfi_adjust_cfa_offset 8
        call    preempt_test_park_body@PLT
        addq    $8, %rsp
        .cfi_adjust_cfa_offset -8
        /* Clobber all caller-saved state. */
        .irp r, rax,rcx,rdx,rsi,rdi,r8,r9,r10,r11
        movq    $-1, %\r
        .endr
        cmpl    $1, )" ST(OFF_LEVEL) R"((%rip)
        jb      30f
        je      31f
        .irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
        vpternlogd $0xff, %zmm\i, %zmm\i, %zmm\i
        .endr
        .irp i, 0,1,2,3,4,5,6,7
        kxnorw  %k\i, %k\i, %k\i
        .endr
        jmp     32f
31:
        .irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
        vpcmpeqd %ymm\i, %ymm\i, %ymm\i
        .endr
        jmp     32f
30:
        .irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
        pcmpeqd %xmm\i, %xmm\i
        .endr
32:
        fld1
        fld1
        movl    $0x3f80, -4(%rsp)
        ldmxcsr -4(%rsp)
        movw    $0x0b7f, -4(%rsp)
        fldcw   -4(%rsp)
        incl    )" ST(OFF_PARK_CALLS) R"((%rip)
        movl    $1, )" ST(OFF_DONE) R"((%rip)
        stc
        ret
        .cfi_endproc
        .size   preempt_test_park, .-preempt_test_park
)");

namespace {

using rt::sched::G;
using rt::sched::M;
using rt::sched::P;

void* g_bt[64];
int g_bt_n = 0;
G* g_fake_g = nullptr;  // the park stand-in clears its preempt flag, as park does

}  // namespace

extern "C" __attribute__((used)) void preempt_test_park_body() {
  g_bt_n = backtrace(g_bt, 64);
  if (g_fake_g) g_fake_g->preempt.store(false, std::memory_order_relaxed);
}

namespace {

int max_vector_level() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE) || !(c & bit_AVX)) return 0;
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  if ((lo & 6) != 6) return 0;
  if (__get_cpuid_max(0, nullptr) >= 7) {
    __cpuid_count(7, 0, a, b, c, d);
    if ((b & bit_AVX512F) && (lo & 0xe6) == 0xe6) return 2;
  }
  return 1;
}

void fill_patterns(int level) {
  SpinState& s = preempt_test_state;
  memset(&s, 0, sizeof(s));
  for (int r = 0; r < 32; r++)
    for (int i = 0; i < 64; i++) s.pat_vec[r][i] = static_cast<uint8_t>(r * 64 + i + 1);
  for (int r = 0; r < 15; r++)
    s.pat_gpr[r] = 0x0101010101010101ull * (r + 1) ^ 0x8000000000000000ull;
  for (int k = 0; k < 8; k++) s.pat_k[k] = static_cast<uint16_t>(0x1234 + 0x1111 * k);
  s.pat_f[0] = 1.25;
  s.pat_f[1] = -3.5;
  s.pat_mxcsr = 0x7f80;  // round toward zero, all exceptions masked
  s.pat_fcw = 0x0f7f;    // x87: round toward zero, extended precision
  s.level = static_cast<uint32_t>(level);
}

// Checks the state stored by preempt_test_spin after one injected call.
void check_round_trip(int level) {
  const SpinState& s = preempt_test_state;
  EXPECT_EQ(s.park_calls, 1u);
  for (int r = 0; r < 15; r++) EXPECT_EQ(s.out_gpr[r], s.pat_gpr[r]) << "general register " << r;
  EXPECT_EQ(s.rsp_after, s.rsp_before);
  for (int i = 0; i < 16; i++) EXPECT_EQ(s.out_red[i], kRedPattern + i) << "red zone slot " << i;
  EXPECT_TRUE(s.out_flags & (1u << 10)) << "DF lost";
  EXPECT_EQ(s.out_mxcsr, s.pat_mxcsr);
  EXPECT_EQ(s.out_fcw, s.pat_fcw);
  EXPECT_EQ(s.out_f[0], s.pat_f[1]);
  EXPECT_EQ(s.out_f[1], s.pat_f[0]);
  int nregs = level == 2 ? 32 : 16, width = level == 0 ? 16 : level == 1 ? 32 : 64;
  for (int r = 0; r < nregs; r++)
    EXPECT_EQ(memcmp(s.out_vec[r], s.pat_vec[r], width), 0) << "vector register " << r;
  if (level == 2) {
    for (int k = 0; k < 8; k++) EXPECT_EQ(s.out_k[k], s.pat_k[k]) << "k" << k;
  }
  // The park function was called the way the ABI says.
  EXPECT_EQ(s.park_rsp % 16, 8u) << "RSP not 16-aligned at the call";
  EXPECT_FALSE(s.park_flags & (1u << 10)) << "DF set at the call";
  EXPECT_EQ(s.park_mxcsr, 0x1f80u);
  EXPECT_EQ(s.park_fcw, 0x037f);
  EXPECT_EQ(s.park_fsw & 0x3800, 0) << "x87 stack not reset";
  // backtrace() from the park function walks through the trampoline into
  // the interrupted routine and on to its caller.
  int tramp = -1;
  for (int i = 0; i < g_bt_n; i++) {
    const char* name = rt::sched::symtab_lookup(reinterpret_cast<uintptr_t>(g_bt[i]), nullptr);
    if (name && strcmp(name, "rt_async_preempt_trampoline_test") == 0) tramp = i;
  }
  ASSERT_GE(tramp, 0) << "trampoline not in the backtrace (" << g_bt_n << " frames)";
  ASSERT_LT(tramp + 2, g_bt_n) << "backtrace stops at the trampoline";
  uintptr_t interrupted = reinterpret_cast<uintptr_t>(g_bt[tramp + 1]);
  EXPECT_GE(interrupted, reinterpret_cast<uintptr_t>(preempt_test_spin_loop));
  EXPECT_LE(interrupted, reinterpret_cast<uintptr_t>(preempt_test_spin_loop_end));
}

// The function the last injected call interrupted (from the park
// stand-in's backtrace).
std::string interrupted_function() {
  for (int i = 0; i + 1 < g_bt_n; i++) {
    const char* name = rt::sched::symtab_lookup(reinterpret_cast<uintptr_t>(g_bt[i]), nullptr);
    if (name && strcmp(name, "rt_async_preempt_trampoline_test") == 0) {
      uintptr_t off = 0;
      const char* f = rt::sched::symtab_lookup(reinterpret_cast<uintptr_t>(g_bt[i + 1]), &off);
      return std::string(f ? f : "?") + "+" + std::to_string(off);
    }
  }
  return "?";
}

void thread_stack(uintptr_t* lo, uintptr_t* hi) {
  pthread_attr_t attr;
  ASSERT_EQ(pthread_getattr_np(pthread_self(), &attr), 0);
  void* addr;
  size_t size;
  pthread_attr_getstack(&attr, &addr, &size);
  pthread_attr_destroy(&attr);
  *lo = reinterpret_cast<uintptr_t>(addr);
  *hi = *lo + size;
}

// An alternate signal stack for the calling thread while in scope.
class AltStack {
 public:
  AltStack() : mem_(new char[kSize]) {
    stack_t ss{};
    ss.ss_sp = mem_.get();
    ss.ss_size = kSize;
    sigaltstack(&ss, &old_);
  }
  ~AltStack() { sigaltstack(&old_, nullptr); }

 private:
  static constexpr size_t kSize = 128 << 10;
  std::unique_ptr<char[]> mem_;
  stack_t old_{};
};

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
#if TEST_TSAN
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
#if TEST_TSAN
  KAction o = old;
  syscall(SYS_rt_sigaction, sig, &o, nullptr, sizeof(o.mask));
#else
  struct sigaction sa {};
  sa.sa_handler = reinterpret_cast<void (*)(int)>(old.handler);
  sa.sa_flags = static_cast<int>(old.flags);
  sigaction(sig, &sa, nullptr);
#endif
}

pid_t gettid_() {
  return static_cast<pid_t>(syscall(SYS_gettid));
}

// Runs preempt_test_spin on this thread while another thread calls
// `poke` every 200 us once the routine spins, until the park stand-in ran
// or 10 s passed (then the routine is released, and the test fails).
template <typename Poke>
void spin_while_poked(Poke poke) {
  std::atomic<bool> stop{false};
  std::thread t([&] {
    while (!__atomic_load_n(&preempt_test_state.spinning, __ATOMIC_ACQUIRE))
      std::this_thread::yield();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!__atomic_load_n(&preempt_test_state.done, __ATOMIC_ACQUIRE) &&
           std::chrono::steady_clock::now() < deadline && !stop.load()) {
      poke();
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    __atomic_store_n(&preempt_test_state.done, 1, __ATOMIC_RELEASE);
  });
  preempt_test_spin();
  stop = true;
  t.join();
}

class PreemptPcTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    rt::sched::init_preemption();
  }
};

// --- the tables -------------------------------------------------------------

TEST_F(PreemptPcTest, TablesBuilt) {
  ASSERT_TRUE(rt::sched::symtab_ready());
  rt::sched::SymtabStats st = rt::sched::symtab_stats();
  EXPECT_TRUE(st.exe_has_symtab);
  EXPECT_GT(st.objects, 2u);
  EXPECT_GT(st.platform_objects, 1u);  // at least libc and the vDSO
  EXPECT_GT(st.functions, 100u);
  EXPECT_GT(st.user_ranges, 0u);
  EXPECT_GT(st.unsafe_ranges, 0u);
}

TEST_F(PreemptPcTest, UserCodeIsSafe) {
  auto f = reinterpret_cast<uintptr_t>(&plain_user_function);
  EXPECT_TRUE(rt::sched::is_async_safe_pc(f));
  EXPECT_TRUE(rt::sched::is_async_safe_pc(f + 1));
  EXPECT_TRUE(rt::sched::is_async_safe_pc(reinterpret_cast<uintptr_t>(&user_spin_until)));
  EXPECT_TRUE(rt::sched::is_async_safe_pc(reinterpret_cast<uintptr_t>(preempt_test_spin_loop)));
  EXPECT_EQ(rt::sched::symtab_classify(f), rt::sched::PcClass::kUser);
}

TEST_F(PreemptPcTest, RuntimeCodeIsNotSafe) {
  auto in_rt = reinterpret_cast<uintptr_t>(&rt::test_helper_in_rt);
  EXPECT_FALSE(rt::sched::is_async_safe_pc(in_rt));
  EXPECT_EQ(rt::sched::symtab_classify(in_rt), rt::sched::PcClass::kRuntime);
  EXPECT_FALSE(rt::sched::is_async_safe_pc(reinterpret_cast<uintptr_t>(&rt::test_spin_in_rt)));
  void (*fatal_fn)(std::string_view) = &rt::detail::fatal;
  EXPECT_FALSE(rt::sched::is_async_safe_pc(reinterpret_cast<uintptr_t>(fatal_fn)));
  EXPECT_FALSE(rt::sched::is_async_safe_pc(reinterpret_cast<uintptr_t>(&rt::sched::preempt_m)));
  EXPECT_FALSE(
      rt::sched::is_async_safe_pc(reinterpret_cast<uintptr_t>(&rt_async_preempt_trampoline)));
  EXPECT_FALSE(
      rt::sched::is_async_safe_pc(reinterpret_cast<uintptr_t>(&rt_async_preempt_trampoline) + 40));
  EXPECT_FALSE(
      rt::sched::is_async_safe_pc(reinterpret_cast<uintptr_t>(&rt_async_preempt_trampoline_test)));
}

TEST_F(PreemptPcTest, PlatformAndDataAreNotSafe) {
  EXPECT_FALSE(rt::sched::is_async_safe_pc(reinterpret_cast<uintptr_t>(&write)));
  EXPECT_FALSE(rt::sched::is_async_safe_pc(reinterpret_cast<uintptr_t>(&memcpy)));
  EXPECT_FALSE(rt::sched::is_async_safe_pc(reinterpret_cast<uintptr_t>(&pthread_mutex_lock)));
  void (*terminate_fn)() noexcept = &std::terminate;
  EXPECT_FALSE(rt::sched::is_async_safe_pc(reinterpret_cast<uintptr_t>(terminate_fn)));
  // Code without a sized symbol (_init, and the PLT stubs after it).
  EXPECT_FALSE(rt::sched::is_async_safe_pc(reinterpret_cast<uintptr_t>(&_init)));
  EXPECT_FALSE(rt::sched::is_async_safe_pc(0));
  EXPECT_FALSE(rt::sched::is_async_safe_pc(~uintptr_t{0}));
  auto heap = std::make_unique<int[]>(64);
  EXPECT_FALSE(rt::sched::is_async_safe_pc(reinterpret_cast<uintptr_t>(heap.get())));
  int local = 0;
  EXPECT_FALSE(rt::sched::is_async_safe_pc(reinterpret_cast<uintptr_t>(&local)));
  EXPECT_FALSE(rt::sched::is_async_safe_pc(reinterpret_cast<uintptr_t>(&preempt_test_state)));
}

TEST_F(PreemptPcTest, Lookup) {
  uintptr_t off = 99;
  auto f = reinterpret_cast<uintptr_t>(&plain_user_function);
  const char* name = rt::sched::symtab_lookup(f + 1, &off);
  ASSERT_NE(name, nullptr);
  EXPECT_EQ(std::string(name), "_Z19plain_user_functionv");
  EXPECT_EQ(off, 1u);
  name = rt::sched::symtab_lookup(reinterpret_cast<uintptr_t>(&rt::test_helper_in_rt), &off);
  ASSERT_NE(name, nullptr);
  EXPECT_EQ(std::string(name), "_ZN2rt17test_helper_in_rtEv");
  EXPECT_EQ(off, 0u);
  // A platform function, named from its object's .dynsym.
  name = rt::sched::symtab_lookup(reinterpret_cast<uintptr_t>(&pthread_mutex_lock), nullptr);
  ASSERT_NE(name, nullptr);
  EXPECT_NE(std::string(name).find("mutex_lock"), std::string::npos) << name;
  EXPECT_EQ(rt::sched::symtab_lookup(0, nullptr), nullptr);
  int local = 0;
  EXPECT_EQ(rt::sched::symtab_lookup(reinterpret_cast<uintptr_t>(&local), nullptr), nullptr);
}

TEST_F(PreemptPcTest, NameRules) {
  using rt::sched::symtab_is_unsafe_name;
  for (const char* n : {
           "_ZN2rt6detail5fatalESt17basic_string_viewIcSt11char_traitsIcEE",
           "_ZNK2rt4ChanIiE3lenEv",                            // const member function
           "_ZN2rt4ChanIiE4sendEi",                            // template instantiation
           "_ZZN2rt5sched4goIZ4mainEUlvE_EEvOT_ENKUlvE_clEv",  // lambda in an rt function
           "_ZZNK2rt3FooclEvE1x",                              // local entity of a const member
           "_ZNO2rt3Foo3getEv",
           "_ZNKR2rt3Foo3getEv",                 // ref-qualified
           "_ZThn16_N2rt3Foo3barEv",             // non-virtual thunk
           "_ZTv0_n24_N2rt3Foo3barEv",           // virtual thunk
           "_ZTWN2rt6detail15t_runtime_locksE",  // TLS wrapper
           "_ZN2rt5sched8scheduleEv.cold",
           "_ZN2rt5sched8scheduleEv.part.0",
           "rt_async_preempt_trampoline",
           "rt_async_preempt_park",
           "rt_anything",
           "__asan_report_load8",
           "__tsan_read8",
           "__interceptor_malloc",
           "_ZN11__sanitizer14internal_memcpyEPvPKvm",
           "_ZN6__tsan9ThreadSt",
           "__cxa_throw",
           "_Unwind_RaiseException",
           "__gxx_personality_v0",
       })
    EXPECT_TRUE(symtab_is_unsafe_name(n)) << n;
  for (const char* n : {
           "main",
           "_Z19plain_user_functionv",
           "_ZZ4mainENKUlvE_clEv",
           // Thunks of rt that only run the user's callable (inlined there).
           "_ZN2rt5sched4TaskUlPvE5_4_FUNES2_",
           "_ZNK2rt5sched4TaskUlPvE5_clES2_",
           "_ZZN2rt2goIZ4mainEUlvE_EEvOT_ENUlPvE_4_FUNES3_",
           "_ZZN2rt3runIZ4mainEUlvE_EEiiPPcOT_ENKUlvE_clEv",
           "_ZN3app2rt3runEv",  // a namespace rt inside another: not librt
           "_ZN3rtx3runEv",
           "_ZN4rtxx3runEv",
           "_ZN21rt_is_not_a_namespaceEv",
           "_Z3fooRN2rt4ChanIiEE",  // takes an rt type: still user code
           "_ZNSt6vectorIPN2rt5sched1GESaIS3_EE9push_backERKS3_",
           "_ZN9__gnu_cxx17__normal_iteratorIPiSt6vectorIiSaIiEEEppEv",
           "write",
           "memcpy",
           "rtfoo",
           "_ZN",
           "_Z",
           "",
       })
    EXPECT_FALSE(symtab_is_unsafe_name(n)) << n;
  EXPECT_FALSE(symtab_is_unsafe_name(nullptr));
}

TEST_F(PreemptPcTest, XsaveArea) {
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

// --- the trampoline, injected by the test's own handler -----------------------

uintptr_t g_lo, g_hi;
int g_injected = 0;

TEST_NO_TSAN void usr1_handler(int, siginfo_t*, void* ctx) {
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
  pid_t pid = getpid(), tid = gettid_();
  spin_while_poked([&] { syscall(SYS_tgkill, pid, tid, SIGUSR1); });
  restore(SIGUSR1, old);
  rt::sched::set_async_preempt_test_hook(nullptr, nullptr);
  EXPECT_EQ(g_injected, 1);
  check_round_trip(level);
}

TEST_F(PreemptPcTest, TrampolinePreservesEverything) {
  for (int level = 0; level <= max_vector_level(); level++) run_injected(level);
}

TEST_F(PreemptPcTest, TrampolineFxsavePath) {
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
TEST_F(PreemptPcTest, InjectRefusesWithoutAltStack) {
  stack_t ss{}, old{};
  ss.ss_flags = SS_DISABLE;
  sigaltstack(&ss, &old);
  fill_patterns(0);
  g_injected = 0;
  thread_stack(&g_lo, &g_hi);
  rt::sched::set_async_preempt_test_hook(nullptr, &preempt_test_park);
  KAction prev = install(SIGUSR1, &usr1_handler);
  pid_t pid = getpid(), tid = gettid_();
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

// --- the real handler with a fake M ---------------------------------------------

// A fake M/G/P on the calling thread, as the scheduler would set them up
// for a running goroutine that sysmon wants preempted.
class FakeM {
 public:
  FakeM() : p_(new P()) {
    uintptr_t lo, hi;
    thread_stack(&lo, &hi);
    g_.stack.lo = lo;
    g_.stack.hi = hi;
    g_.m = &m_;
    g_.status.store(rt::sched::kGRunning);
    g_.preempt.store(true);
    p_->status.store(rt::sched::kPRunning);
    p_->m = &m_;
    m_.curg = &g_;
    m_.p = p_.get();
    m_.tid = gettid_();
    saved_ = rt::sched::t_m;
    rt::sched::t_m = &m_;
    g_fake_g = &g_;
  }
  ~FakeM() {
    rt::sched::t_m = saved_;
    g_fake_g = nullptr;
  }
  M& m() { return m_; }
  G& g() { return g_; }
  P& p() { return *p_; }

 private:
  M m_;
  G g_;
  std::unique_ptr<P> p_;
  M* saved_ = nullptr;
};

bool async_on() {
  return rt::sched::async_preemption_enabled();
}

TEST_F(PreemptPcTest, HandlerPreemptsUserCode) {
  if (!async_on()) GTEST_SKIP() << "asyncpreemptoff";
  int level = max_vector_level();
  fill_patterns(level);
  AltStack alt;
  FakeM fm;
  rt::sched::set_async_preempt_test_hook(&fm.m(), &preempt_test_park);
  spin_while_poked([&] { rt::sched::preempt_m(&fm.m()); });
  rt::sched::set_async_preempt_test_hook(nullptr, nullptr);
  EXPECT_EQ(fm.m().preempt_gen.load(), 1u);
  EXPECT_FALSE(fm.g().preempt.load());
  // A signal may still be in flight; it finds nothing to do and clears the flag.
  for (int i = 0; i < 1000 && fm.m().signal_pending.load(); i++)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(fm.m().signal_pending.load(), 0u);
  check_round_trip(level);
}

uintptr_t g_caller_frame;

// Runs `spin(stop)` on this thread (an M with a goroutine that should be
// preempted, but for `breakit`), sends 20 preemption signals one after
// another, and returns how many injections happened.
template <typename Break>
uint64_t injections_when(Break breakit, void (*spin)(const int*) = &user_spin_until,
                         bool altstack = true) {
  fill_patterns(max_vector_level());  // the park stand-in reads the level
  std::unique_ptr<AltStack> alt;
  if (altstack) alt = std::make_unique<AltStack>();
  FakeM fm;
  g_caller_frame = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  breakit(fm);
  rt::sched::set_async_preempt_test_hook(&fm.m(), &preempt_test_park);
  preempt_test_state.park_calls = 0;
  int stop = 0;
  std::atomic<int> delivered{0};
  __atomic_store_n(&g_spin_started, 0, __ATOMIC_RELAXED);
  std::thread t([&] {
    // Poke only once the spin runs: the caller is user code too.
    while (!__atomic_load_n(&g_spin_started, __ATOMIC_ACQUIRE)) std::this_thread::yield();
    for (int i = 0; i < 20; i++) {
      rt::sched::preempt_m(&fm.m());
      for (int j = 0; j < 5000 && fm.m().signal_pending.load(); j++)
        std::this_thread::sleep_for(std::chrono::microseconds(100));
      if (!fm.m().signal_pending.load()) delivered++;
    }
    __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
  });
  spin(&stop);
  t.join();
  rt::sched::set_async_preempt_test_hook(nullptr, nullptr);
  EXPECT_EQ(delivered.load(), 20) << "the handler did not clear signal_pending";
  EXPECT_EQ(preempt_test_state.park_calls, fm.m().preempt_gen.load());
  return fm.m().preempt_gen.load();
}

TEST_F(PreemptPcTest, HandlerControlCase) {
  if (!async_on()) GTEST_SKIP() << "asyncpreemptoff";
  // The park stand-in clears g->preempt: exactly one injection.
  EXPECT_EQ(injections_when([](FakeM&) {}), 1u);
}

TEST_F(PreemptPcTest, HandlerRefusals) {
  if (!async_on()) GTEST_SKIP() << "asyncpreemptoff";
  // Evaluated only when an expectation fails: where the injection went.
  auto where = [] { return "; injected into " + interrupted_function(); };
  EXPECT_EQ(injections_when([](FakeM& f) { f.g().preempt.store(false); }), 0u)
      << "not asked" << where();
  EXPECT_EQ(injections_when([](FakeM& f) { f.g().status.store(rt::sched::kGRunnable); }), 0u)
      << "not running" << where();
  EXPECT_EQ(injections_when([](FakeM& f) { f.m().p = nullptr; }), 0u) << "no P" << where();
  EXPECT_EQ(injections_when([](FakeM& f) { f.p().status.store(rt::sched::kPGCStop); }), 0u)
      << "P not running" << where();
  EXPECT_EQ(injections_when([](FakeM& f) { f.g().nopreempt = 1; }), 0u)
      << "no-preempt scope" << where();
  EXPECT_EQ(injections_when([](FakeM& f) { f.m().curg = nullptr; }), 0u) << "on g0" << where();
  EXPECT_EQ(injections_when([](FakeM& f) { f.g().m = nullptr; }), 0u)
      << "G of another M" << where();
  {
    rt::detail::t_runtime_locks++;
    EXPECT_EQ(injections_when([](FakeM&) {}), 0u) << "runtime lock held" << where();
    rt::detail::t_runtime_locks--;
  }
  EXPECT_EQ(injections_when([](FakeM&) {}, &rt::test_spin_in_rt), 0u) << "PC in librt" << where();
  EXPECT_EQ(injections_when([](FakeM& f) {
              // SP in the spin is a little below g_caller_frame: leave
              // about 6 KiB below it, less than the trampoline needs.
              f.g().stack.lo = g_caller_frame - 6144;
            }),
            0u)
      << "no stack room" << where();
  EXPECT_EQ(injections_when([](FakeM& f) { f.g().stack.hi = f.g().stack.lo + 4096; }), 0u)
      << "SP outside the goroutine stack" << where();
  {
    stack_t ss{}, old{};
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, &old);
    EXPECT_EQ(injections_when([](FakeM&) {}, &user_spin_until, false), 0u)
        << "no alternate signal stack" << where();
    if (old.ss_flags != SS_DISABLE) sigaltstack(&old, nullptr);
  }
}

TEST_F(PreemptPcTest, PreemptMIgnoresThreadlessM) {
  M m;  // tid 0: never started
  rt::sched::preempt_m(&m);
  EXPECT_EQ(m.signal_pending.load(), 0u);
  rt::sched::preempt_m(nullptr);
}

// SIGURGs that are not the runtime's: ignored on threads that are not Ms,
// forwarded to a handler the application installed before
// init_preemption; the runtime's own are not forwarded. A fresh process,
// so that the application's handler comes first.
std::atomic<int> g_app_urg{0};
void app_urg_handler(int) {
  g_app_urg++;
}

bool wait_app_urg(int n) {
  // usleep also lets TSan deliver the signals it deferred.
  for (int i = 0; i < 2000 && g_app_urg.load() != n; i++) usleep(500);
  return g_app_urg.load() == n;
}

TEST(PreemptForwardTest, ForeignSigurgIsForwarded) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        // A re-executed image running only this test: nothing has
        // installed a SIGURG handler yet, unless the runtime was set up by
        // a static initialiser (then there is nothing to check).
        struct sigaction cur {};
        sigaction(SIGURG, nullptr, &cur);
        if (cur.sa_handler != SIG_DFL) _exit(0);
        signal(SIGURG, app_urg_handler);  // the application's, first
        rt::sched::init_preemption();
        if (!rt::sched::async_preemption_enabled()) _exit(0);
        raise(SIGURG);  // on a thread that is not an M
        if (!wait_app_urg(1)) _exit(3);
        {
          AltStack alt;
          FakeM fm;  // this thread is an M now
          fm.g().preempt.store(false);
          raise(SIGURG);  // no runtime signal pending: not the runtime's
          if (!wait_app_urg(2)) _exit(4);
          rt::sched::preempt_m(&fm.m());  // the runtime's: handled here
          for (int i = 0; i < 2000 && fm.m().signal_pending.load(); i++) usleep(500);
          if (fm.m().signal_pending.load() != 0) _exit(5);
          usleep(20000);
          if (g_app_urg.load() != 2) _exit(6);
        }
        _exit(0);
      },
      testing::ExitedWithCode(0), "");
}

// Not an M and no application handler: the signal is ignored.
TEST_F(PreemptPcTest, SigurgOnOtherThreadIsIgnored) {
  std::thread t([] {
    raise(SIGURG);
    usleep(1000);
  });
  t.join();
  SUCCEED();
}

}  // namespace
