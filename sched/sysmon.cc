// sysmon. See sysmon.h.
#include "sched/sysmon.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>

#include "runtime/env.h"
#include "runtime/fatal.h"
#include "runtime/lock.h"
#include "sched/preempt.h"
#include "sched/proc.h"

namespace rt::sched {

namespace {

constexpr int64_t kMinDelayUs = 20;
constexpr int64_t kMaxDelayUs = 10'000;
constexpr int64_t kDeepSleepNs = 1'000'000'000;
constexpr int64_t kPreemptRetryNs = 1'000'000;
// The shortest slice a G gets before a timer due on its P preempts it.
constexpr int64_t kTimerSliceMinNs = 1'000'000;

std::atomic<bool> g_main_running{false};
std::atomic<uint32_t> g_sysmon_note{0};
std::atomic<bool> g_sysmon_sleeping{false};
// When sysmon's current timed sleep ends (nanotime), 0 while it is awake or
// in a deep sleep. A timer due earlier on a running P wakes it
// (sysmon_timer_added): that P's G may need cutting short for it.
std::atomic<int64_t> g_sysmon_until{0};
std::atomic<void (*)(int64_t)> g_hooks[8];
std::atomic<int> g_nhooks{0};
std::atomic<uint64_t> g_rounds{0}, g_preempts{0}, g_retakes{0};

// Converts cputicks() readings (the slice stamps) to nanotime(). The rate
// is measured against nanotime() over sysmon's whole life, so its error
// shrinks as sysmon runs: after a 200 us start-up measurement it is within
// about 1% (a slice judged 10 ms long is within 0.1 ms of it), after a
// second within parts per million.
class TickRate {
 public:
  void start() {
    ns0_ = nanotime();
    ticks0_ = cputicks();
    usleep(200);
    update(nanotime(), cputicks());
  }
  void update(int64_t now_ns, int64_t now_ticks) {
    if (now_ticks > ticks0_ && now_ns > ns0_)
      ns_per_tick_ = static_cast<double>(now_ns - ns0_) / static_cast<double>(now_ticks - ticks0_);
  }
  // The nanotime() at which cputicks() read `ticks`, given a simultaneous
  // reading (now_ns, now_ticks).
  int64_t to_nanotime(int64_t ticks, int64_t now_ns, int64_t now_ticks) const {
    return now_ns - static_cast<int64_t>(static_cast<double>(now_ticks - ticks) * ns_per_tick_);
  }

 private:
  int64_t ns0_ = 0, ticks0_ = 0;
  double ns_per_tick_ = 1.0;
};

TickRate g_tick_rate;  // sysmon thread only

void preemptone(P* p) {
  // Acquire both: pairs with acquirep and execute (see there).
  M* m = p->m.load(std::memory_order_acquire);
  if (!m) return;
  G* g = m->curg.load(std::memory_order_acquire);
  if (!g) return;
  g->preempt.store(true, std::memory_order_relaxed);
  g_preempts.fetch_add(1, std::memory_order_relaxed);
  preempt_m(m);
}

// Returns how many Ps were retaken from syscalls. Sets *next_check to the
// earliest time a running P's slice will be due for preemption.
uint32_t retake(int64_t now, int64_t* next_check) {
  uint32_t n = 0;
  int64_t now_ticks = cputicks();
  g_tick_rate.update(now, now_ticks);
  int32_t procs = gomaxprocs_n.load(std::memory_order_acquire);
  for (int32_t i = 0; i < procs; i++) {
    P* p = allp[i];
    uint32_t s = p->status.load(std::memory_order_acquire);
    bool syscall_retake = false;
    if (s == kPSyscall) {
      // Retake after one full sysmon tick in the syscall.
      uint32_t t = p->syscalltick.load(std::memory_order_relaxed);
      if (p->sysmon_syscalltick != t) {
        p->sysmon_syscalltick = t;
        p->sysmon_syscallwhen = now;
        continue;
      }
      // Nothing else to run and someone idle to run it: leave it (for up
      // to 10 ms) so the returning G gets its P back cheaply.
      if (runq_empty(p) &&
          sched.nmspinning.load(std::memory_order_relaxed) + sched.npidle.load() > 0 &&
          p->sysmon_syscallwhen + kForcePreemptNs > now)
        continue;
      syscall_retake = true;
    }
    if (s == kPRunning) {
      uint32_t t = p->schedtick_pub.load(std::memory_order_acquire);
      if (p->sysmon_schedtick != t) {
        // A new slice: it began when the scheduler says, not when we saw it.
        p->sysmon_schedtick = t;
        p->sysmon_retry_at = 0;
        p->sysmon_schedwhen =
            g_tick_rate.to_nanotime(p->schedwhen.load(std::memory_order_relaxed), now, now_ticks);
      }
      int64_t due = p->sysmon_schedwhen + kForcePreemptNs;
      // A timer due on this P waits for the running G (only this P's
      // scheduler runs this P's timers): cut the slice short once it has
      // run kTimerSliceMinNs, rather than leave the timer's goroutine late
      // by up to a whole slice as Go does.
      int64_t tw = p->timer0_when.load(std::memory_order_relaxed);
      if (tw != 0) {
        int64_t tdue = std::max(tw, p->sysmon_schedwhen + kTimerSliceMinNs);
        if (tdue < due) due = tdue;
      }
      if (due < p->sysmon_retry_at) due = p->sysmon_retry_at;
      if (due <= now) {
        preemptone(p);
        // The signal may land where preemption is unsafe (libc, a runtime
        // lock): ask again in 1 ms, not after another full slice.
        p->sysmon_retry_at = now + kPreemptRetryNs;
        due = p->sysmon_retry_at;
      }
      if (*next_check == 0 || due < *next_check) *next_check = due;
    }
    if (syscall_retake) {
      uint32_t expect = kPSyscall;
      if (p->status.compare_exchange_strong(expect, kPIdle, std::memory_order_acq_rel)) {
        n++;
        g_retakes.fetch_add(1, std::memory_order_relaxed);
        handoffp(p);
      }
    }
  }
  return n;
}

bool all_idle() {
  return sched.npidle.load(std::memory_order_acquire) == gomaxprocs_n.load() &&
         sched.runq_size.load(std::memory_order_relaxed) == 0;
}

void schedtrace(int64_t now, int64_t start) {
  rt::detail::FixedText t;
  t << "SCHED " << (now - start) / 1'000'000 << "ms: gomaxprocs=" << gomaxprocs_n.load()
    << " idleprocs=" << sched.npidle.load() << " spinningthreads=" << sched.nmspinning.load()
    << " runqueue=" << sched.runq_size.load() << " [";
  for (int32_t i = 0; i < gomaxprocs_n.load(); i++) {
    P* p = allp[i];
    uint32_t n = p->runq_tail.load() - p->runq_head.load();
    t << (i ? " " : "") << n;
  }
  t << "]\n";
  t.write_to(2);
}

// The earliest timer deadline on a P that is running a G (0 = none).
int64_t earliest_running_timer() {
  int64_t earliest = 0;
  int32_t procs = gomaxprocs_n.load(std::memory_order_acquire);
  for (int32_t i = 0; i < procs; i++) {
    P* p = allp[i];
    if (p->status.load(std::memory_order_relaxed) != kPRunning) continue;
    int64_t w = p->timer0_when.load(std::memory_order_relaxed);
    if (w != 0 && (earliest == 0 || w < earliest)) earliest = w;
  }
  return earliest;
}

// Sleeps sleep_us, or until sysmon_timer_added sees an earlier deadline.
// Dekker-style with sysmon_timer_added: sysmon publishes its wake time and
// then reads the Ps' earliest timers; the adder publishes its timer and then
// reads the wake time (a seq_cst fence on each side between the store and
// the load). Either sysmon sees the new timer and shortens its sleep, or
// the adder sees the long sleep and wakes it.
void timed_sleep(int64_t sleep_us) {
  int64_t until = nanotime() + sleep_us * 1000;
  g_sysmon_until.store(until, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  int64_t t = earliest_running_timer();
  if (t != 0 && t < until) {
    // Cut the slice at the timer, but not sooner than the minimum slice;
    // retake() works out which; a short sleep is enough to get there.
    until = std::max(t, nanotime() + kMinDelayUs * 1000);
    g_sysmon_until.store(until, std::memory_order_relaxed);
  }
  notesleep(&g_sysmon_note, until);
  g_sysmon_until.store(0, std::memory_order_relaxed);
}

void* sysmon_main(void*) {
  pthread_setname_np(pthread_self(), "rt-sysmon");
  int64_t delay = kMinDelayUs;  // the backed-off tick
  int64_t sleep_us = kMinDelayUs;  // this round's sleep: the tick, or sooner
  int idle = 0;
  g_tick_rate.start();
  int64_t start = nanotime();
  int64_t trace_every = int64_t{rt::detail::config().debug.schedtrace} * 1'000'000;
  int64_t last_trace = start;
  for (;;) {
    if (idle == 0) {
      delay = kMinDelayUs;
    } else if (idle > 50) {
      delay = delay * 2 > kMaxDelayUs ? kMaxDelayUs : delay * 2;
    }
    if (sleep_us > delay) sleep_us = delay;
    timed_sleep(sleep_us);
    sleep_us = delay;
    int64_t now = nanotime();
    if (all_idle() && trace_every == 0) {
      // Nothing runs: sleep until a P gets busy (or a long timeout, for the
      // periodic hooks).
      g_sysmon_sleeping.store(true, std::memory_order_seq_cst);
      if (all_idle()) notesleep(&g_sysmon_note, nanotime() + kDeepSleepNs);
      g_sysmon_sleeping.store(false, std::memory_order_relaxed);
      idle = 0;
      now = nanotime();
    }
    g_rounds.fetch_add(1, std::memory_order_relaxed);
    int64_t next_check = 0;
    if (retake(now, &next_check) != 0) {
      idle = 0;
    } else {
      idle++;
    }
    // Wake for the next slice that falls due rather than a backed-off tick,
    // so a 10 ms slice is preempted near 10 ms.
    if (next_check != 0) {
      int64_t until_us = (next_check - nanotime()) / 1000 + 1;
      sleep_us = until_us < kMinDelayUs ? kMinDelayUs : until_us;
    } else {
      sleep_us = kMaxDelayUs;  // capped by the tick at the top of the loop
    }
    int nh = g_nhooks.load(std::memory_order_acquire);
    for (int i = 0; i < nh; i++) {
      if (auto f = g_hooks[i].load(std::memory_order_acquire)) f(now);
    }
    if (trace_every > 0 && now - last_trace >= trace_every) {
      last_trace = now;
      schedtrace(now, start);
    }
  }
  return nullptr;
}

}  // namespace

void start_sysmon() {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 256 << 10);
  // sysmon never runs goroutines or takes SIGURG.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_t th;
  int rc = pthread_create(&th, &attr, sysmon_main, nullptr);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  pthread_attr_destroy(&attr);
  if (rc != 0) rt::detail::fatal("cannot start sysmon thread");
}

void sysmon_timer_added(int64_t when) {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  int64_t until = g_sysmon_until.load(std::memory_order_relaxed);
  if (until != 0 && when < until) notewakeup(&g_sysmon_note);
}

void sysmon_wake() {
  if (g_sysmon_sleeping.load(std::memory_order_seq_cst)) notewakeup(&g_sysmon_note);
}

void sysmon_add_hook(void (*fn)(int64_t)) {
  int i = g_nhooks.load(std::memory_order_relaxed);
  if (i >= 8) rt::detail::fatal("sysmon_add_hook: too many hooks");
  g_hooks[i].store(fn, std::memory_order_release);
  g_nhooks.store(i + 1, std::memory_order_release);
}

bool deadlock_detection_enabled() { return g_main_running.load(std::memory_order_acquire); }
void set_main_running(bool running) { g_main_running.store(running, std::memory_order_release); }

SysmonStats sysmon_stats() {
  return SysmonStats{g_rounds.load(), g_preempts.load(), g_retakes.load()};
}

}  // namespace rt::sched
