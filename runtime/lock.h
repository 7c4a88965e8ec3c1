// Runtime locks: short critical sections inside the runtime (heap, mcentral,
// scheduler queues). Go's lock_futex.go design: a three-state word
// (unlocked, locked, locked with sleepers), a few rounds of spinning, then a
// futex sleep. They block the OS thread, never a goroutine, so they may be
// taken anywhere except inside a signal handler.
//
// Every thread counts the runtime locks it holds (held_runtime_locks()): the
// preemption signal handler refuses to preempt a thread holding one, and a
// stop-the-world never waits on a holder.
#pragma once

#include <atomic>
#include <cstdint>

namespace rt::detail {

// Number of runtime locks the calling thread holds. Plain thread_local with
// constant initialisation: no TLS wrapper call on access. Changed through
// the functions below.
inline thread_local int t_runtime_locks __attribute__((tls_model("initial-exec"))) = 0;

#if defined(RT_TSAN)
// Out of line and uninstrumented (lock.cc). ThreadSanitizer is told the
// address of a TLS access as thread pointer + offset, and the compiler may
// read the thread pointer once per function: in a goroutine that has moved
// to another thread since (the inlined lock fast paths run in goroutine
// code that parks), TSan would be told about the old thread's counter and
// report a race, although the access itself (%fs-relative) is right. The
// counter is private to its thread: TSan has nothing to check there.
int held_runtime_locks();
void runtime_locks_inc();
void runtime_locks_dec();
#else
inline int held_runtime_locks() { return t_runtime_locks; }
inline void runtime_locks_inc() { ++t_runtime_locks; }
inline void runtime_locks_dec() { --t_runtime_locks; }
#endif

class Lock {
 public:
  constexpr Lock() = default;
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;

  void lock() {
    runtime_locks_inc();
    uint32_t expected = kUnlocked;
    // acquire: the critical section must not float above the lock.
    if (__builtin_expect(
            state_.compare_exchange_strong(expected, kLocked, std::memory_order_acquire,
                                           std::memory_order_relaxed),
            1))
      return;
    lock_slow();
  }

  bool try_lock() {
    uint32_t expected = kUnlocked;
    if (state_.compare_exchange_strong(expected, kLocked, std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
      runtime_locks_inc();
      return true;
    }
    return false;
  }

  void unlock() {
    // release: the critical section's writes are visible to the next owner.
    if (state_.exchange(kUnlocked, std::memory_order_release) == kSleeping) wake_one();
    runtime_locks_dec();
  }

 private:
  static constexpr uint32_t kUnlocked = 0, kLocked = 1, kSleeping = 2;
  void lock_slow();
  void wake_one();
  // Invariant: kSleeping whenever a thread is (or may be about to be) asleep
  // in futex_wait on this word; unlock then issues a wake.
  std::atomic<uint32_t> state_{kUnlocked};
};

// RAII holder for Lock (std::lock_guard works too; this one is constexpr-light
// and keeps includes small).
class LockGuard {
 public:
  explicit LockGuard(Lock& l) : l_(l) { l_.lock(); }
  ~LockGuard() { l_.unlock(); }
  LockGuard(const LockGuard&) = delete;
  LockGuard& operator=(const LockGuard&) = delete;

 private:
  Lock& l_;
};

// One iteration of a spin-wait: tells the core (and a hypervisor watching
// for pause loops) that this thread is polling.
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// futex wrappers shared by the runtime's sleeping primitives.
void futex_wait(std::atomic<uint32_t>* addr, uint32_t expected);
// As futex_wait, giving up after `timeout_ns` nanoseconds.
void futex_wait_timeout(std::atomic<uint32_t>* addr, uint32_t expected, int64_t timeout_ns);
void futex_wake(std::atomic<uint32_t>* addr, int count);

}  // namespace rt::detail
