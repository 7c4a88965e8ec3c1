// Small scheduler primitives: the monotonic clock, futex notes (one-shot
// wake-ups an M or thread sleeps on), the status CAS that honours scan
// claims, and wait-reason names.
#include <sched.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif
#include <time.h>

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

bool notesleep(std::atomic<uint32_t>* note, int64_t until) {
  while (note->load(std::memory_order_acquire) == 0) {
    if (until == 0) {
      rt::detail::futex_wait(note, 0);
    } else {
      int64_t left = until - nanotime();
      if (left <= 0) return false;  // timed out; the note stays as it is
      rt::detail::futex_wait_timeout(note, 0, left);
    }
  }
  note->store(0, std::memory_order_relaxed);
  return true;
}

void notewakeup(std::atomic<uint32_t>* note) {
  note->store(1, std::memory_order_release);
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
    case WaitReason::kSyscallExit: return "syscall exit";
  }
  return "?";
}

}  // namespace rt::sched
