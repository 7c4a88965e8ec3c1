// Small scheduler primitives: the monotonic clock, futex notes (one-shot
// wake-ups an M or thread sleeps on), the status CAS that honours scan
// claims, and wait-reason names.
#include <sched.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif
#include <time.h>

#include <algorithm>

#include "runtime/fatal.h"
#include "runtime/lock.h"
#include "sched/proc.h"

namespace rt::sched {

using rt::detail::fatal;
using rt::detail::FixedText;

bool g_tsc_invariant = false;

bool tsc_is_invariant() {
#if defined(__x86_64__)
  // CPUID leaf 0x80000007, EDX bit 8: the TSC runs at a constant rate in
  // every power state (Linux's constant_tsc + nonstop_tsc).
  unsigned a, b, c, d;
  if (__get_cpuid(0x80000000, &a, &b, &c, &d) && a >= 0x80000007 &&
      __get_cpuid(0x80000007, &a, &b, &c, &d))
    return (d >> 8) & 1;
#endif
  return false;
}

int64_t nanotime() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

void cas_status_slow(G* g, uint32_t from, uint32_t to) {
  for (int i = 0;; i++) {
    uint32_t cur = from;
    if (g->status.compare_exchange_weak(cur, to, std::memory_order_acq_rel)) return;
    if ((cur & ~kGScan) != from) {
      FixedText t;
      t << "cas_status: goroutine " << g->id << " in status " << uint64_t{cur} << ", want "
        << uint64_t{from};
      fatal(t);
    }
    // Someone holds the scan bit: wait for them.
    if (i > 100) sched_yield();
  }
}

// A note's word: kNoteClear, kNoteWoken, or kNoteSleeping (a sleeper may
// be in futex_wait on it). The sleeper announces itself by CAS clear ->
// sleeping before it waits, so notewakeup, which exchanges in woken, issues
// the futex wake only when it replaced kNoteSleeping: a wake-up of a
// spinning or not-yet-sleeping waiter costs no system call (on a VM, a
// futex wake of a halted vCPU costs tens of microseconds). acq_rel on both
// exchanges: the sleeper's reads after waking see the waker's writes
// before notewakeup (release by the waker, acquire by the sleeper's load).
constexpr uint32_t kNoteClear = 0, kNoteWoken = 1, kNoteSleeping = 2;

bool notesleep(std::atomic<uint32_t>* note, int64_t until) {
  for (;;) {
    uint32_t v = note->load(std::memory_order_acquire);
    if (v == kNoteWoken) break;
    if (v == kNoteClear &&
        !note->compare_exchange_strong(v, kNoteSleeping, std::memory_order_acq_rel)) {
      continue;  // woken meanwhile
    }
    if (until == 0) {
      rt::detail::futex_wait(note, kNoteSleeping);
    } else {
      int64_t left = until - nanotime();
      if (left <= 0) {
        // Timed out: withdraw the sleeper mark unless a wake-up landed.
        uint32_t s = kNoteSleeping;
        if (note->compare_exchange_strong(s, kNoteClear, std::memory_order_acq_rel)) return false;
        break;  // s == kNoteWoken
      }
      rt::detail::futex_wait_timeout(note, kNoteSleeping, left);
    }
  }
  note->store(kNoteClear, std::memory_order_relaxed);
  return true;
}

bool notepoll(std::atomic<uint32_t>* note, int64_t ns, bool (*keep_polling)(int64_t now)) {
  int64_t until = nanotime() + ns;
  for (uint32_t i = 1;; i++) {
    if (note->load(std::memory_order_acquire) == kNoteWoken) {
      note->store(kNoteClear, std::memory_order_relaxed);
      return true;
    }
    rt::detail::cpu_relax();
    // Every few microseconds: the clock, and now and then a yield in case
    // the thread we wait for needs this CPU (more threads than cores).
    if (i % 64 == 0) {
      int64_t now = nanotime();
      if (now >= until || (keep_polling && !keep_polling(now))) return false;
      if (i % 1024 == 0) sched_yield();
    }
  }
}

bool notesleep_spinning(std::atomic<uint32_t>* note, int64_t spin_ns, int64_t until) {
  if (until != 0) spin_ns = std::min(spin_ns, until - nanotime());
  if (spin_ns > 0 && notepoll(note, spin_ns)) return true;
  return notesleep(note, until);
}

void notewakeup(std::atomic<uint32_t>* note) {
  if (note->exchange(kNoteWoken, std::memory_order_acq_rel) == kNoteSleeping)
    rt::detail::futex_wake(note, 1);
}

const char* wait_reason_string(WaitReason r) {
  switch (r) {
    case WaitReason::kNone: return "";
    case WaitReason::kChanReceiveNilChan: return "chan receive (nil chan)";
    case WaitReason::kChanSendNilChan: return "chan send (nil chan)";
    case WaitReason::kSelectNoCases: return "select (no cases)";
    case WaitReason::kChanReceive: return "chan receive";
    case WaitReason::kChanSend: return "chan send";
    case WaitReason::kSelect: return "select";
    case WaitReason::kSleep: return "sleep";
    case WaitReason::kSemacquire: return "semacquire";
    case WaitReason::kSyncMutexLock: return "sync.Mutex.Lock";
    case WaitReason::kSyncRWMutexRLock: return "sync.RWMutex.RLock";
    case WaitReason::kSyncRWMutexLock: return "sync.RWMutex.Lock";
    case WaitReason::kSyncCondWait: return "sync.Cond.Wait";
    case WaitReason::kSyncWaitGroupWait: return "sync.WaitGroup.Wait";
    case WaitReason::kSyncOnce: return "sync.Once.Do";
    case WaitReason::kPreempted: return "preempted";
    case WaitReason::kGCWorkerIdle: return "GC worker (idle)";
    case WaitReason::kGCAssistWait: return "GC assist wait";
    case WaitReason::kFinalizerWait: return "finalizer wait";
    case WaitReason::kForceGCIdle: return "force gc (idle)";
    case WaitReason::kStopTheWorld: return "stop the world";
    case WaitReason::kForEachP: return "wait for all Ps to run a safe-point function";
    case WaitReason::kSyscallExit: return "syscall exit";
  }
  return "?";
}

}  // namespace rt::sched
