// rt::Mutex: Go's sync.Mutex (internal/sync/mutex.go) on the runtime's
// semaphores (sched/sema.h).
//
// State word (int32): bit 0 kLocked (Mutex::kLocked), bit 1 kWoken, bit 2 kStarving, and the
// number of goroutines parked on sema_ in the bits above (state >> 3). A
// thread of control that finds the mutex taken either spins (below), or
// counts itself as a waiter in the state word and parks on sema_.
//
// Normal mode. Waiters queue FIFO on the semaphore, but a woken waiter does
// not own the mutex: it competes with newly arriving lockers, which usually
// win because they are already on a CPU. A waiter that loses goes back to
// the *front* of the queue (lifo). kWoken tells unlock that a waiter is
// already awake (woken, or spinning), so unlock does not wake another one.
//
// Starvation mode. A waiter that waited more than 1 ms sets kStarving. Then
// unlock hands the mutex directly to the head waiter (semrelease with
// handoff, and a directed yield to it): it leaves kLocked clear but the
// mutex counts as held while kStarving is set, so newcomers neither spin nor
// barge; they queue at the tail. The waiter that receives the mutex sets
// kLocked and drops itself from the waiter count in one addition, and
// clears kStarving if it waited less than 1 ms or was the last waiter
// (otherwise two goroutines could ping-pong in starvation mode forever).
//
// Spinning (Go's sync_runtime_canSpin): at most 4 rounds of 30 PAUSE
// instructions, only on a multicore machine, only while GOMAXPROCS exceeds
// idle Ps + spinning Ms + 1 (some other P is running, perhaps the holder)
// and the spinner's own P has nothing else to run. On a plain thread (no P)
// only the first two rules apply.
//
// Memory orders. Taking the mutex is an acquire (the fast-path CAS, the
// slow-path CAS that sets kLocked, or the fetch_add of a waiter receiving it
// in starvation mode); releasing it is the release fetch_sub in unlock().
// The other state CASes are acq_rel, which keeps the arithmetic of the
// waiter count consistent with the flags. In starvation mode the hand-over
// itself goes through the semaphore: the unlocker's release fetch_sub
// precedes its semrelease, whose seq_cst update of sema_ the waiter's
// acquisition reads, so the previous critical section happens before the
// next one. Wake-ups cannot be lost: the semaphore counts releases that
// find no sleeper (see sema.h).
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>

#include "rt/sync.h"
#include "runtime/fatal.h"
#include "sched/gmp.h"
#include "sched/proc.h"
#include "sched/sema.h"

namespace rt {

namespace {

constexpr int32_t kWoken = 2;
constexpr int32_t kStarving = 4;
constexpr int kWaiterShift = 3;
constexpr int64_t kStarvationThresholdNs = 1'000'000;
constexpr int kActiveSpin = 4;      // Go's active_spin
constexpr int kActiveSpinCnt = 30;  // Go's active_spin_cnt

std::atomic<uint64_t> g_starvation_entries{0};

bool can_spin(int iter) {
  if (iter >= kActiveSpin || sched::ncpu() <= 1) return false;
  sched::P* p = sched::getp();
  if (p == nullptr) return true;  // plain thread: nobody else to run here
  int32_t busy = sched::sched.npidle.load(std::memory_order_relaxed) +
                 sched::sched.nmspinning.load(std::memory_order_relaxed) + 1;
  if (sched::gomaxprocs_n.load(std::memory_order_relaxed) <= busy) return false;
  return sched::runq_empty(p);
}

void do_spin() {
  for (int i = 0; i < kActiveSpinCnt; i++) rt::detail::cpu_relax();
}

[[noreturn]] void inconsistent() { rt::detail::fatal("sync: inconsistent mutex state"); }

}  // namespace

bool Mutex::try_lock() noexcept {
  int32_t old = state_.load(std::memory_order_relaxed);
  if (old & (kLocked | kStarving)) return false;
  // A woken waiter may be about to retry; we are running, so we may take
  // the mutex before it does (normal mode only).
  return state_.compare_exchange_strong(old, old | kLocked, std::memory_order_acquire,
                                        std::memory_order_relaxed);
}

void Mutex::lock_slow() {
  sched::preempt_check();  // a sync operation is a cooperative safe point
  int64_t wait_start = 0;
  bool starving = false;
  bool awoke = false;
  int iter = 0;
  int32_t old = state_.load(std::memory_order_relaxed);
  for (;;) {
    // Spin only while locked in normal mode: in starvation mode the mutex
    // goes to the head waiter, never to us.
    if ((old & (kLocked | kStarving)) == kLocked && can_spin(iter)) {
      // Claim kWoken so that unlock does not wake a waiter we would race.
      if (!awoke && (old & kWoken) == 0 && (old >> kWaiterShift) != 0 &&
          state_.compare_exchange_strong(old, old | kWoken, std::memory_order_relaxed,
                                         std::memory_order_relaxed)) {
        awoke = true;
      }
      do_spin();
      iter++;
      old = state_.load(std::memory_order_relaxed);
      continue;
    }
    int32_t want = old;
    // A starving mutex belongs to the queue: newcomers must not take it.
    if ((old & kStarving) == 0) want |= kLocked;
    if (old & (kLocked | kStarving)) want += 1 << kWaiterShift;
    // Switch to starvation mode, but only if the mutex is held: unlock
    // expects a starving mutex to have waiters.
    if (starving && (old & kLocked)) want |= kStarving;
    if (awoke) {
      // We were woken (or claimed kWoken while spinning): clear it either way.
      if ((want & kWoken) == 0) inconsistent();
      want &= ~kWoken;
    }
    if (state_.compare_exchange_strong(old, want, std::memory_order_acq_rel,
                                       std::memory_order_relaxed)) {
      if ((old & (kLocked | kStarving)) == 0) break;  // took it
      if ((want & kStarving) && !(old & kStarving))
        g_starvation_entries.fetch_add(1, std::memory_order_relaxed);
      // A waiter that already waited goes back to the front of the queue.
      bool lifo = wait_start != 0;
      if (wait_start == 0) wait_start = sched::nanotime();
      sched::semacquire(&sema_, {.lifo = lifo, .reason = sched::WaitReason::kSyncMutexLock});
      starving = starving || sched::nanotime() - wait_start > kStarvationThresholdNs;
      old = state_.load(std::memory_order_acquire);
      if (old & kStarving) {
        // Handed to us in starvation mode: kLocked is clear and we are still
        // counted as a waiter. Fix both in one step.
        if ((old & (kLocked | kWoken)) != 0 || (old >> kWaiterShift) == 0) inconsistent();
        int32_t delta = kLocked - (1 << kWaiterShift);
        if (!starving || (old >> kWaiterShift) == 1) {
          // Leave starvation mode: it is slow, and two goroutines could
          // otherwise hand the mutex back and forth in it forever.
          delta -= kStarving;
        }
        state_.fetch_add(delta, std::memory_order_acq_rel);
        break;
      }
      awoke = true;
      iter = 0;
    }
    // CAS failure reloaded `old`.
  }
}

void Mutex::unlock_slow(int32_t now) {
  if (((now + kLocked) & kLocked) == 0) rt::detail::fatal("sync: unlock of unlocked mutex");
  if ((now & kStarving) == 0) {
    int32_t old = now;
    for (;;) {
      // No waiters, or someone is already awake or holds the mutex again:
      // nobody to wake. A starving mutex is not ours to hand over: we did
      // not see kStarving when we released it.
      if ((old >> kWaiterShift) == 0 || (old & (kLocked | kWoken | kStarving)) != 0) break;
      // Take the right to wake one waiter.
      int32_t want = (old - (1 << kWaiterShift)) | kWoken;
      if (state_.compare_exchange_strong(old, want, std::memory_order_acq_rel,
                                         std::memory_order_relaxed)) {
        sched::semrelease(&sema_, /*handoff=*/false);
        break;
      }
    }
  } else {
    // Starvation mode: give the mutex to the head waiter and yield to it.
    // kLocked stays clear (the waiter sets it), but kStarving keeps
    // newcomers out meanwhile.
    sched::semrelease(&sema_, /*handoff=*/true);
  }
  sched::preempt_check();
}

namespace detail {
uint64_t mutex_starvation_entries() noexcept {
  return g_starvation_entries.load(std::memory_order_relaxed);
}
}  // namespace detail

}  // namespace rt
