// Shared by the goroutine test suites (sync, channels, select, timers,
// Context): a long-lived main goroutine that runs test bodies one after
// another, a GOMAXPROCS-parameterised fixture, and small helpers.
//
// Everything here is outside namespace rt on purpose: the preemption signal
// handler never preempts code in namespace rt, and the tight loops in the
// tests rely on being preempted.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "body_runner.h"
#include "rt/sched.h"

// 1 in a ThreadSanitizer build, where goroutines are several times slower
// and a goroutine's first run costs milliseconds (docs/ARCHITECTURE.md,
// Testing): size goroutine counts and timing windows with it.
#if defined(RT_TSAN) || defined(__SANITIZE_THREAD__)
#define GOTEST_TSAN 1
#else
#define GOTEST_TSAN 0
#endif

namespace gotest {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

inline int64_t ns_since(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
}

// Test bodies run on one long-lived main goroutine (body_runner.h).

// Runs body as the main goroutine; procs > 0 sets GOMAXPROCS for its
// duration.
template <typename F>
void run_go(int procs, F&& body) {
  BodyRunner::get().run([&] {
    int old = procs > 0 ? rt::gomaxprocs(procs) : 0;
    struct Restore {
      int old;
      ~Restore() {
        if (old > 0) rt::gomaxprocs(old);
      }
    } restore{old};
    body();
  });
}

// Joins plain threads from a goroutine. The join blocks the thread, so it
// goes in a syscall scope: the P keeps running other goroutines, and the
// deadlock detector knows somebody may still wake the parked ones (a
// goroutine parked on a primitive that only a plain thread will release
// looks like a deadlock to it otherwise, as it would to Go's checkdead).
inline void join_all(std::vector<std::thread>& ts) {
  rt::blocking([&] {
    for (auto& t : ts) t.join();
  });
  ts.clear();
}

// A busy loop of roughly `iters` nanoseconds of pure computation (no calls,
// so the goroutine can only be preempted asynchronously).
inline void burn(int iters) {
  volatile uint64_t x = 0;
  for (int i = 0; i < iters; i++) x = x + 1;
}

// Checks the waits (ns) of the rounds of a fairness test: most rounds
// within 100 ms, none beyond 5 s. With two or more Ps the lock holder runs
// on its own P and a Mutex waiter gets the lock about 1 ms after it starts
// waiting (starvation mode); with one P the waiter runs only when the
// holder, which never blocks, is preempted (every 10 ms). Single rounds may
// still take longer on a loaded machine: an M thread that is runnable but
// gets no CPU from the OS (seen on a 2-core host at load average 5 to 11:
// state R, no CPU time for 60-300 ms) stalls whatever goroutine it runs.
// Starvation by the holder would make every round long.
inline void check_fair_waits(const std::vector<int64_t>& waits, const char* who) {
  int slow = 0;
  for (int64_t w : waits) {
    if (w > 100'000'000) slow++;
    EXPECT_LT(w, 5'000'000'000) << who << " waited " << w << " ns";
  }
  EXPECT_LE(slow, 2) << who << ": " << slow << " of " << waits.size()
                     << " rounds waited more than 100 ms";
}

// Base of the suites whose every test runs three times: under the default
// GOMAXPROCS (param 0, the machine's CPUs), GOMAXPROCS=1 and GOMAXPROCS=2. Each suite derives its own
// fixture and instantiates it with GOTEST_PROCS_SUITE(Fixture).
class ProcsTest : public testing::TestWithParam<int> {
 protected:
  int procs() const { return GetParam(); }
};

inline std::string procs_name(const testing::TestParamInfo<int>& i) {
  switch (i.param) {
    case 0: return "Default";
    case 1: return "One";
    case 2: return "Two";
  }
  return std::to_string(i.param);
}

}  // namespace gotest

#define GOTEST_PROCS_SUITE(Fixture) \
  INSTANTIATE_TEST_SUITE_P(Procs, Fixture, testing::Values(0, 1, 2), gotest::procs_name)
