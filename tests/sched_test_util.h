// Helpers shared by the scheduler suites (tests/sched_*_test.cc).
//
// Everything here is deliberately outside namespace rt: asynchronous
// preemption treats code in namespace rt as the runtime's and never
// preempts it, so test loops that must be preemptible live in the global
// namespace or in namespace schedtest.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <utility>

#include "rt/rt.h"
#include "sched/proc.h"
#include "sched/sema.h"

#if defined(RT_ASAN) || defined(__SANITIZE_ADDRESS__)
#define SCHEDTEST_ASAN 1
#else
#define SCHEDTEST_ASAN 0
#endif
#if defined(RT_TSAN) || defined(__SANITIZE_THREAD__)
#define SCHEDTEST_TSAN 1
#else
#define SCHEDTEST_TSAN 0
#endif
// Either sanitizer: loops run several times slower, so stress tests run
// fewer rounds.
#define SCHEDTEST_SANITIZER (SCHEDTEST_ASAN || SCHEDTEST_TSAN)

namespace schedtest {

using namespace std::chrono_literals;

inline int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
inline double ms_since(int64_t t0) { return static_cast<double>(now_ns() - t0) / 1e6; }

inline int gettid_() { return static_cast<int>(syscall(SYS_gettid)); }

// errno of the thread the caller runs on now. A plain `errno` read in a
// function that may resume on another thread can name the old thread's
// errno: the compiler may reuse the address __errno_location() gave
// before the switch (it is declared const).
RT_NOIPA inline int fresh_errno() { return errno; }
RT_NOIPA inline void set_fresh_errno(int v) { errno = v; }

// Runs fn as the main goroutine of rt::run (the runtime starts on first use
// and then stays up for the rest of the process). rt::run returns as soon
// as fn does, while its goroutine is still exiting; in_rt waits for that
// exit, so the next test's goroutine counts start from a settled value.
template <typename F>
int in_rt(F&& fn) {
  std::atomic<rt::sched::G*> main_g{nullptr};
  std::atomic<int64_t> main_id{0};
  int rc = rt::run(0, nullptr, [&] {
    main_g = rt::sched::getg();
    main_id = rt::goid();
    return fn();
  });
  rt::sched::G* g = main_g.load();
  for (int i = 0; g && i < 100000; i++) {
    if (g->id != main_id.load() || (g->status.load() & ~rt::sched::kGScan) == rt::sched::kGDead) break;
    std::this_thread::sleep_for(std::chrono::microseconds(20));
  }
  return rc;
}

// Join n goroutines: each calls done(); wait() returns when all have.
// Works from goroutines and from plain threads (sema supports both).
class Join {
 public:
  explicit Join(int64_t n) : left_(n) {
    if (n == 0) sem_.store(1);
  }
  void done() {
    if (left_.fetch_sub(1, std::memory_order_acq_rel) == 1) rt::sched::semrelease(&sem_);
  }
  void wait() { rt::sched::semacquire(&sem_); }
  // Waits with a deadline (ns from now); false on time-out. On a plain
  // thread it polls (so that it does not depend on the sema's timed thread
  // wait, which has its own test).
  bool wait_for_ns(int64_t ns) {
    if (rt::goid() != 0) return rt::sched::semacquire_until(&sem_, rt::sched::nanotime() + ns);
    int64_t end = rt::sched::nanotime() + ns;
    while (left_.load() > 0 && rt::sched::nanotime() < end) std::this_thread::sleep_for(std::chrono::microseconds(200));
    if (left_.load() > 0) return false;
    rt::sched::semacquire(&sem_);
    return true;
  }
  int64_t left() const { return left_.load(); }

 private:
  std::atomic<int64_t> left_;
  std::atomic<uint32_t> sem_{0};
};

// Polls cond() from a goroutine (rt::sleep) or a thread until it holds or
// `timeout` passes; returns cond().
template <typename C>
bool eventually(C&& cond, std::chrono::milliseconds timeout = 5000ms) {
  int64_t end = now_ns() + std::chrono::duration_cast<std::chrono::nanoseconds>(timeout).count();
  while (!cond()) {
    if (now_ns() > end) return cond();
    rt::sleep(200us);
  }
  return true;
}

// Sets *flag after `after` from a plain thread: a watchdog that ends spin
// loops even when the scheduler under test cannot.
class Watchdog {
 public:
  Watchdog(std::atomic<bool>* flag, std::chrono::milliseconds after)
      : th_([this, flag, after] {
          auto end = std::chrono::steady_clock::now() + after;
          while (!cancel_.load() && std::chrono::steady_clock::now() < end)
            std::this_thread::sleep_for(1ms);
          if (!cancel_.load()) {
            fired_.store(true);
            flag->store(true);
          }
        }) {}
  ~Watchdog() {
    cancel_.store(true);
    rt::blocking([this] { th_.join(); });  // a goroutine must not pin its P
  }
  bool fired() const { return fired_.load(); }

 private:
  std::atomic<bool> cancel_{false}, fired_{false};
  std::thread th_;
};

// Process CPU time (user + system) in ns.
inline int64_t process_cpu_ns() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  auto tv = [](const timeval& t) { return int64_t{t.tv_sec} * 1'000'000'000 + t.tv_usec * 1000; };
  return tv(ru.ru_utime) + tv(ru.ru_stime);
}

inline size_t count_maps() {
  std::ifstream f("/proc/self/maps");
  std::string line;
  size_t n = 0;
  while (std::getline(f, line)) n++;
  return n;
}

inline size_t resident_bytes() {
  std::ifstream f("/proc/self/statm");
  size_t size = 0, resident = 0;
  f >> size >> resident;
  return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

// For death tests: a child that hangs is killed by SIGALRM instead of
// hanging the suite.
inline void child_deadline(unsigned seconds) { alarm(seconds); }

// For death tests (the child of EXPECT_EXIT with death_test_style
// "threadsafe", a fresh process): sets RT_MAXPROCS (unless null) and
// RT_DEBUG (unset if null), runs main_fn under rt::run and exits with its
// status. A child that hangs dies by SIGALRM after `seconds`.
template <typename F>
[[noreturn]] void child_run_for(unsigned seconds, const char* maxprocs, const char* debug,
                                F main_fn) {
  child_deadline(seconds);
  if (maxprocs) setenv("RT_MAXPROCS", maxprocs, 1);
  if (debug) setenv("RT_DEBUG", debug, 1);
  else unsetenv("RT_DEBUG");
  int rc = rt::run(0, nullptr, main_fn);
  fflush(stdout);
  fflush(stderr);
  _exit(rc);
}
template <typename F>
[[noreturn]] void child_run(const char* maxprocs, const char* debug, F main_fn) {
  child_run_for(30, maxprocs, debug, main_fn);
}

inline bool async_preemption_env_off() {
  const char* d = getenv("RT_DEBUG");
  return d && strstr(d, "asyncpreemptoff=1");
}

// A few hundred cycles of arithmetic in registers, with no memory access,
// so ThreadSanitizer adds no calls to it. Spin loops that must be
// preempted by signal mix it in: under TSan every atomic operation is a
// call into TSan's runtime (a shared library, where the SIGURG handler
// refuses to preempt), and a loop of bare atomic operations spends over
// 99.9% of its time there (about one signal in 3500 finds it in user
// code). With this, most of the loop is user code in every build.
__attribute__((always_inline)) inline uint64_t register_work(uint64_t x) {
  for (int i = 0; i < 256; i++) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    __asm__("" : "+r"(x));
  }
  return x;
}

}  // namespace schedtest

// Spin loops, out of line and outside namespace rt so the SIGURG handler
// classifies them as user code. Each increments *counter until *stop.
__attribute__((noinline)) inline void schedtest_spin(std::atomic<uint64_t>* counter,
                                                     const std::atomic<bool>* stop) {
  uint64_t x = 1;
  while (!stop->load(std::memory_order_relaxed)) {
    x = schedtest::register_work(x);
    counter->fetch_add(1, std::memory_order_relaxed);
  }
  __asm__ volatile("" : : "r"(x));
}
