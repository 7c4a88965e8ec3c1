// sysmon: the runtime's watchdog thread (Go's sysmon), running without a P.
//
// It sleeps 20 us while it keeps finding work, doubling to 10 ms after 50
// idle rounds, and sleeps deeply (until woken) while every P is idle and no
// goroutine is in a syscall. Each round it
//   - retakes Ps whose goroutine stayed in a syscall scope for a tick
//     (>= 20 us) and hands them to other Ms;
//   - asks goroutines that ran for 10 ms without a scheduling event to yield
//     (cooperative flag, then SIGURG), and sooner (after 1 ms of their
//     slice) when a timer is due on their P, which only that P runs;
//   - runs the registered periodic hooks (forced GC, scavenger) and prints
//     schedtrace lines when RT_DEBUG=schedtrace=MS asks for them.
#pragma once

#include <cstdint>

namespace rt::sched {

inline constexpr int64_t kForcePreemptNs = 10'000'000;  // 10 ms slice

void start_sysmon();
// Wakes sysmon from a deep sleep (a P became busy).
void sysmon_wake();
// A timer was added or moved earlier, due at `when`: wakes sysmon if it
// sleeps past it (a G running on the timer's P may need preempting).
void sysmon_timer_added(int64_t when);

// A hook sysmon calls every round with the current nanotime (e.g. the
// collector's forced-GC check). Register before the runtime starts or at any
// time; at most 8.
void sysmon_add_hook(void (*fn)(int64_t now));

// Deadlock detection runs only while the main goroutine of rt::run is alive
// (outside rt::run, threads the runtime cannot see may still wake
// goroutines).
bool deadlock_detection_enabled();
void set_main_running(bool running);

// Counters for tests and traces.
struct SysmonStats {
  uint64_t rounds = 0;
  uint64_t preempt_requests = 0;
  uint64_t syscall_retakes = 0;
};
SysmonStats sysmon_stats();

}  // namespace rt::sched
