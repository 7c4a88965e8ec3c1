// The register round-trip routine (preempt_test_spin and the park stand-in
// preempt_test_park, assembly), its checks, and the code samples the
// safe-PC tests classify. See sched_preempt_routine.h for the protocol.
#include "tests/sched_preempt_routine.h"

#include <execinfo.h>

#include <cpuid.h>
#include <cstddef>
#include <cstring>

#include "sched/symtab.h"

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
__attribute__((noinline)) void plain_user_function() {
  for (int i = 0; i < 4; i++) g_sink = g_sink + i;
}
__attribute__((noinline)) void user_spin_until(const int* stop) {
  __atomic_store_n(&g_spin_started, 1, __ATOMIC_RELEASE);
  while (!__atomic_load_n(stop, __ATOMIC_RELAXED)) __asm__ volatile("pause");
}

// --- the state and the assembly ------------------------------------------------

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
void* g_bt[64];
int g_bt_n = 0;
}  // namespace

rt::sched::G* g_fake_g = nullptr;

extern "C" __attribute__((used)) void preempt_test_park_body() {
  g_bt_n = backtrace(g_bt, 64);
  if (g_fake_g) g_fake_g->preempt.store(false, std::memory_order_relaxed);
}

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

