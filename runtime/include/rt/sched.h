// Goroutines: Go's scheduler for C++.
//
//   int main(int argc, char** argv) {
//     return rt::run(argc, argv, [] {
//       rt::go([] { ... });
//       return 0;
//     });
//   }
//
// A goroutine is a fiber on its own stack, run by GOMAXPROCS processors
// over as many OS threads as needed. It yields at blocking runtime calls
// (channels, sync, sleep), at rt::yield_point(), at allocation, and - for
// code that never calls the runtime - when the runtime preempts it with a
// signal after 10 ms. Read docs/HAZARDS.md before mixing goroutines with
// thread_local, std::mutex or blocking system calls.
#pragma once

#include <cstddef>
#include <chrono>
#include <cstdint>
#include <functional>
#include <type_traits>
#include <utility>

namespace rt {

namespace detail {
// Type-erased spawn (the Task wrapper lives in the runtime). fn points at
// the callable's heap copy of `size` bytes, which the collector scans as
// the goroutine's root (its captures).
void go_impl(void* fn, size_t size, void (*invoke)(void*), void (*destroy)(void*));
}  // namespace detail

// Boots the runtime (if needed), runs main_fn as the main goroutine and
// waits for it. Returns main_fn's exit status; if main_fn returns void, 0.
// An exception escaping main_fn (or any goroutine) ends the process like a
// Go panic. While main_fn runs, the runtime detects global deadlock.
namespace detail {
int run_impl(int argc, char** argv, std::function<int()> main_fn);
}
template <typename F>
int run(int argc, char** argv, F&& main_fn) {
  if constexpr (std::is_void_v<std::invoke_result_t<F&>>) {
    return detail::run_impl(argc, argv, [&] {
      main_fn();
      return 0;
    });
  } else {
    return detail::run_impl(argc, argv, [&] { return static_cast<int>(main_fn()); });
  }
}

// Starts a goroutine running fn (any callable taking no arguments).
template <typename F>
void go(F&& fn) {
  using D = std::decay_t<F>;
  D* heap = new D(std::forward<F>(fn));
  detail::go_impl(
      heap, sizeof(D), [](void* p) { (*static_cast<D*>(p))(); }, [](void* p) { delete static_cast<D*>(p); });
}

// Yields the processor, like runtime.Gosched.
void gosched();

// Sleeps the calling goroutine (or thread, outside goroutines).
void sleep(std::chrono::nanoseconds d);

// A preemption point for long loops: returns at once unless the scheduler
// asked this goroutine to yield.
void yield_point();

// Number of user goroutines alive (runtime goroutines excluded).
int64_t num_goroutine();

// GOMAXPROCS: returns the current value; if n > 0, sets it first (stopping
// the world briefly) and still returns the previous value.
int gomaxprocs(int n = 0);

// The calling goroutine's id (0 outside goroutines).
int64_t goid();

// Wires the calling goroutine to its OS thread (thread_local state then
// stays put). Nests; unlock_os_thread undoes one lock_os_thread.
void lock_os_thread();
void unlock_os_thread();

// Syscall scope: the goroutine is about to block in the OS. Its processor
// may be handed to another thread meanwhile (after 20 us), so other
// goroutines keep running. Do not touch GC'd objects' allocation or
// channels inside; plain C/C++ and system calls are fine.
class SyscallScope {
 public:
  // Inline, so that it saves the callee-saved registers of the function
  // that opens the scope: a GC'd pointer that function keeps only in such
  // a register through the blocking call is then in this object, in that
  // function's frame, which the collector scans (it scans the goroutine's
  // stack from the scope's entry up while the scope runs on).
  [[gnu::always_inline]] SyscallScope() {
#if defined(__x86_64__)
    // A register the compiler picks for the operand holds no live value.
    asm volatile(
        "movq %%rbx, 0(%0)\n\t"
        "movq %%rbp, 8(%0)\n\t"
        "movq %%r12, 16(%0)\n\t"
        "movq %%r13, 24(%0)\n\t"
        "movq %%r14, 32(%0)\n\t"
        "movq %%r15, 40(%0)"
        :
        : "r"(saved_regs_)
        : "memory");
#else
#error "rt::SyscallScope: no callee-saved register list for this architecture"
#endif
    enter();
  }
  ~SyscallScope();
  SyscallScope(const SyscallScope&) = delete;
  SyscallScope& operator=(const SyscallScope&) = delete;

 private:
  void enter();
  bool active_;
  uintptr_t saved_regs_[6];  // RBX, RBP, R12-R15: read only by the collector's scan
};

// Runs fn inside a SyscallScope and returns its result.
template <typename F>
auto blocking(F&& fn) -> decltype(fn()) {
  SyscallScope scope;
  return std::forward<F>(fn)();
}

// Tells deadlock detection that a thread outside the runtime (a plain
// std::thread, a C library's callback thread) may still wake a goroutine -
// by sending on a channel, unlocking a Mutex, cancelling a Context - so
// goroutines that all wait are not "all asleep - deadlock!" while one is
// alive. Go has no such threads; C++ programs do (docs/HAZARDS.md). Hold
// one for as long as the thread may wake goroutines, e.g. created before
// the thread starts and moved into it. Movable, not copyable.
class ExternalWaker {
 public:
  ExternalWaker();
  ~ExternalWaker();
  ExternalWaker(ExternalWaker&& other) noexcept : active_(other.active_) { other.active_ = false; }
  ExternalWaker& operator=(ExternalWaker&& other) noexcept;
  ExternalWaker(const ExternalWaker&) = delete;
  ExternalWaker& operator=(const ExternalWaker&) = delete;

 private:
  bool active_;
};

// No-preempt scope: the goroutine is not preempted asynchronously (and not
// at yield points) while one is alive. Nests.
class NoPreemptScope {
 public:
  NoPreemptScope();
  ~NoPreemptScope();
  NoPreemptScope(const NoPreemptScope&) = delete;
  NoPreemptScope& operator=(const NoPreemptScope&) = delete;
};

// Goroutine-local storage: a T per goroutine, created on first access and
// destroyed when the goroutine ends. At most 16 keys per process.
namespace detail {
int gls_key_alloc(void (*destroy)(void*));
void* gls_get(int key);
void gls_set(int key, void* value);
}  // namespace detail

template <typename T>
class GoroutineLocal {
 public:
  GoroutineLocal() : key_(detail::gls_key_alloc([](void* p) { delete static_cast<T*>(p); })) {}
  // This goroutine's T (default-constructed on first use).
  T& get() {
    void* p = detail::gls_get(key_);
    if (!p) {
      p = new T();
      detail::gls_set(key_, p);
    }
    return *static_cast<T*>(p);
  }
  T* operator->() { return &get(); }
  T& operator*() { return get(); }

 private:
  int key_;
};

}  // namespace rt
