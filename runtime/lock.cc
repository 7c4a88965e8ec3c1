// Runtime lock slow path and futex wrappers. See lock.h.
#include "runtime/lock.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "runtime/tsan.h"

namespace rt::detail {

#if defined(RT_TSAN)
RT_NO_TSAN int held_runtime_locks() { return t_runtime_locks; }
RT_NO_TSAN void runtime_locks_inc() { ++t_runtime_locks; }
RT_NO_TSAN void runtime_locks_dec() { --t_runtime_locks; }
#endif

void futex_wait(std::atomic<uint32_t>* addr, uint32_t expected) {
  // Spurious returns (EINTR, EAGAIN) are fine: every caller re-checks.
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(addr), FUTEX_WAIT_PRIVATE, expected, nullptr,
          nullptr, 0);
}

void futex_wait_timeout(std::atomic<uint32_t>* addr, uint32_t expected, int64_t timeout_ns) {
  struct timespec ts;
  ts.tv_sec = timeout_ns / 1'000'000'000;
  ts.tv_nsec = timeout_ns % 1'000'000'000;
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(addr), FUTEX_WAIT_PRIVATE, expected, &ts, nullptr,
          0);
}

void futex_wake(std::atomic<uint32_t>* addr, int count) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(addr), FUTEX_WAKE_PRIVATE, count, nullptr,
          nullptr, 0);
}

void Lock::lock_slow() {
  // Spin briefly: critical sections are short and the holder is usually
  // running on another core.
  for (int i = 0; i < 64; i++) {
    uint32_t s = state_.load(std::memory_order_relaxed);
    if (s == kUnlocked && state_.compare_exchange_weak(s, kLocked, std::memory_order_acquire,
                                                       std::memory_order_relaxed))
      return;
    cpu_relax();
  }
  // Sleep. Taking the lock by exchanging in kSleeping is conservative: we may
  // cause one unneeded wake at unlock, never a lost one.
  while (state_.exchange(kSleeping, std::memory_order_acquire) != kUnlocked) {
    futex_wait(&state_, kSleeping);
  }
}

void Lock::wake_one() { futex_wake(&state_, 1); }

}  // namespace rt::detail
