// rt::RWMutex: Go's sync.RWMutex (sync/rwmutex.go), writer-preferring.
//
// reader_count_ counts readers holding or waiting for the read lock. A
// writer first takes w_ (so writers queue among themselves), then subtracts
// kMaxReaders (2^30) from reader_count_: from then on the count is
// negative and every new rlock() parks on reader_sem_. The value it
// subtracted from, r, is the number of readers still inside; the writer adds
// r to reader_wait_ and, unless those readers have already left, parks on
// writer_sem_. Each departing reader that sees a negative count decrements
// reader_wait_; the one that brings it to zero releases writer_sem_.
// (A reader may decrement reader_wait_ before the writer has added r, taking
// it below zero; the writer's addition then lands on exactly zero and it
// does not park.) unlock() adds kMaxReaders back, which yields the number
// of readers that queued meanwhile, releases reader_sem_ that many times,
// then releases w_.
//
// Invariants: reader_count_ >= 0 without a writer; in [-kMaxReaders,
// 0) with one (plus the readers that queued). A runlock that brings the
// count to -1 (no writer) or to -kMaxReaders - 1 (writer, no reader) is a
// runlock without rlock; an unlock that finds the count >= 0 before adding
// is an unlock without lock: both are fatal errors, as in Go.
//
// Memory orders. rlock's fetch_add is an acquire and runlock's fetch_sub a
// release; the writer's fetch_sub and fetch_add on reader_count_ and the
// reader_wait_ updates are acq_rel. Since every update of reader_count_ is
// a read-modify-write, each continues the release sequences before it: the
// writer's subtraction synchronises with every reader that left before it,
// and its reader_wait_ addition (or, when it parks, the semaphore) with
// every reader that left after. Readers that queued synchronise with the
// writer through reader_sem_ (seq_cst, sema.h), those that arrive after
// unlock through its release addition.
#include <atomic>
#include <cstdint>

#include "rt/sync.h"
#include "runtime/fatal.h"
#include "sched/gmp.h"
#include "sched/sema.h"

namespace rt {

namespace {
constexpr int32_t kMaxReaders = 1 << 30;
}  // namespace

void RWMutex::rlock_slow() {
  // A writer is pending or active: wait for its unlock.
  sched::semacquire(&reader_sem_, {.lifo = false, .reason = sched::WaitReason::kSyncRWMutexRLock});
}

bool RWMutex::try_rlock() noexcept {
  int32_t c = reader_count_.load(std::memory_order_relaxed);
  for (;;) {
    if (c < 0) return false;
    if (reader_count_.compare_exchange_weak(c, c + 1, std::memory_order_acquire,
                                            std::memory_order_relaxed))
      return true;
  }
}

void RWMutex::runlock_slow(int32_t r) {
  if (r + 1 == 0 || r + 1 == -kMaxReaders) rt::detail::fatal("sync: RUnlock of unlocked RWMutex");
  // A writer is pending: the last reader it waits for wakes it.
  if (reader_wait_.fetch_sub(1, std::memory_order_acq_rel) - 1 == 0)
    sched::semrelease(&writer_sem_, /*handoff=*/false);
}

void RWMutex::lock() {
  // Writers queue on w_ first.
  w_.lock();
  // Announce the writer; r readers are still inside.
  int32_t r = reader_count_.fetch_sub(kMaxReaders, std::memory_order_acq_rel);
  if (r != 0 && reader_wait_.fetch_add(r, std::memory_order_acq_rel) + r != 0)
    sched::semacquire(&writer_sem_, {.lifo = false, .reason = sched::WaitReason::kSyncRWMutexLock});
}

bool RWMutex::try_lock() noexcept {
  if (!w_.try_lock()) return false;
  int32_t zero = 0;
  if (!reader_count_.compare_exchange_strong(zero, -kMaxReaders, std::memory_order_acq_rel,
                                             std::memory_order_relaxed)) {
    w_.unlock();
    return false;
  }
  return true;
}

void RWMutex::unlock() {
  // Announce that no writer is active; r readers queued meanwhile.
  int32_t r = reader_count_.fetch_add(kMaxReaders, std::memory_order_acq_rel) + kMaxReaders;
  if (r >= kMaxReaders) rt::detail::fatal("sync: Unlock of unlocked RWMutex");
  for (int32_t i = 0; i < r; i++) sched::semrelease(&reader_sem_, /*handoff=*/false);
  // Let the next writer in.
  w_.unlock();
}

}  // namespace rt
