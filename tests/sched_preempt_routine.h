// The register round-trip routine shared by the asynchronous preemption
// tests (sched_preempt_trampoline_test.cc, sched_preempt_handler_test.cc)
// and the code samples the safe-PC tests classify (sched_symtab_test.cc).
//
// preempt_test_spin (assembly, sched_preempt_routine.cc) loads patterns
// into every general register (RBP too), the vector registers (XMM0-15,
// YMM0-15 or ZMM0-31 and k0-7, as the CPU allows), two x87 stack slots,
// MXCSR and the x87 control word, fills its red zone, sets DF, and spins
// until preempt_test_state.done is set. A signal handler injects a call to
// rt_async_preempt_trampoline_test (the production trampoline's body,
// calling *rt_async_preempt_test_fn instead of rt_async_preempt_park),
// whose target preempt_test_park (assembly) records the state it was called
// in (alignment, DF, MXCSR, x87), runs backtrace() and clobbers every
// caller-saved register and the vector, x87 and MXCSR state before setting
// the flag. The routine then stores everything, and check_round_trip
// compares: all state equal, red zone intact, RSP unchanged.
//
// Everything here is outside namespace rt (the handler would refuse to
// preempt it) except the two helpers that stand for librt's own code.
#pragma once

#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "sched/gmp.h"
#include "sched/preempt.h"

#if defined(RT_TSAN) || defined(__SANITIZE_THREAD__)
#define PREEMPT_TEST_TSAN 1
#define PREEMPT_TEST_NO_TSAN __attribute__((no_sanitize("thread")))
#else
#define PREEMPT_TEST_TSAN 0
#define PREEMPT_TEST_NO_TSAN
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

// --- code samples for the safe-PC rules ----------------------------------------

// Set by the spin loops below once they run.
extern int g_spin_started;

// Code in namespace rt is librt's by design, wherever it is defined.
namespace rt {
void test_helper_in_rt();
void test_spin_in_rt(const int* stop);
}  // namespace rt

// User code: several instructions long, so that f + 1 is still inside it.
void plain_user_function();
void user_spin_until(const int* stop);

// --- the routine's state -------------------------------------------------------

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

extern "C" void preempt_test_spin();  // level in preempt_test_state.level
extern "C" void preempt_test_park();
extern "C" char preempt_test_spin_loop[], preempt_test_spin_loop_end[];

// The G whose preempt flag the park stand-in clears, as park does (null:
// none).
extern rt::sched::G* g_fake_g;

// The widest vector state the CPU and OS offer: 0 SSE, 1 AVX, 2 AVX-512.
int max_vector_level();
// Fresh patterns for preempt_test_spin at `level`; clears the results.
void fill_patterns(int level);
// Checks the state stored by preempt_test_spin after one injected call.
void check_round_trip(int level);
// The function the last injected call interrupted ("name+offset", from the
// park stand-in's backtrace).
std::string interrupted_function();

// --- thread set-up ---------------------------------------------------------------

void thread_stack(uintptr_t* lo, uintptr_t* hi);

inline pid_t preempt_test_gettid() {
  return static_cast<pid_t>(syscall(SYS_gettid));
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
