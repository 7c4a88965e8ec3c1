// A weighted semaphore, after golang.org/x/sync/semaphore's Weighted: a
// capacity of n units that goroutines acquire and release in any amounts.
//
//   rt::Semaphore sem(4);                       // at most 4 units held
//   sem.acquire(1); ...; sem.release(1);        // parks while 4 are held
//   if (sem.acquire(ctx, 2) != rt::ContextError::kNone) return;  // ctx done
//   if (sem.try_acquire(1)) { ...; sem.release(1); }
//
// Waiters are served strictly in arrival order: release() grants units to
// the waiters at the front of the queue while they fit, and stops at the
// first that does not, even if a later, smaller request would fit. A large
// request is thus never starved by a stream of small ones (a semaphore of n
// units used as a reader/writer lock, readers taking 1 and writers n, lets
// a writer in). Likewise, while anybody waits, try_acquire fails and
// acquire queues even if the units are free.
//
// Blocking parks the goroutine (on a plain thread that runs no goroutine,
// the thread blocks). Errors, as in x/sync:
//   - release() of more units than are held throws
//     rt::Panic("semaphore: released more than held"); the semaphore is left
//     unchanged.
//   - A request larger than the capacity can never be granted: acquire(ctx,
//     n) waits for ctx to be done (without holding up other waiters) and
//     returns its error; acquire(n) parks for good (a deadlock, if nothing
//     else runs, as in Go).
// Added here (x/sync does not check): a negative capacity or weight throws
// rt::Panic("semaphore: negative weight").
//
// Not copyable or movable. It must not be destroyed while a goroutine waits
// in acquire; units still held at destruction are simply forgotten.
#pragma once

#include <cstdint>

#include "rt/context.h"
#include "rt/sync.h"

namespace rt {

namespace detail {
struct SemaphoreWaiter;  // a blocked acquire, on the acquirer's stack (sched/semaphore.cc)
}

class Semaphore {
 public:
  // A semaphore of n units, all free.
  explicit Semaphore(int64_t n);
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;

  // Acquires n units, parking until they are granted (FIFO among waiters).
  void acquire(int64_t n);

  // Acquires n units or gives up when ctx is done: returns kNone with the
  // units held, or ctx's error with none held. A ctx already done fails even
  // if the units are free. If the grant and the cancellation race, the
  // cancellation wins and the granted units go back to the semaphore (to
  // the next waiters), so none are lost.
  [[nodiscard]] ContextError acquire(const Context& ctx, int64_t n);

  // Acquires n units if they are free and nobody waits; never blocks.
  bool try_acquire(int64_t n);

  // Returns n units and grants waiters, in order, as many as now fit.
  // Throws rt::Panic("semaphore: released more than held") if fewer than n
  // are held.
  void release(int64_t n);

 private:
  using Waiter = detail::SemaphoreWaiter;

  // Grants the front waiters while they fit and wakes them. mu_ held.
  void grant_waiters_locked();
  void push_back_locked(Waiter* w);
  void unlink_locked(Waiter* w);
  // Gives a granted waiter's units back (its acquire was cancelled).
  void return_units_locked(int64_t n);

  // Invariants (whenever mu_ is free):
  //   0 <= cur_ <= size_;
  //   the front waiter, if any, does not fit: size_ - cur_ < head_->n
  //   (otherwise it would have been granted), so a free unit never idles
  //   while the queue could use it, and a newcomer that finds a queue joins
  //   it instead of overtaking;
  //   a waiter is on the list exactly while it is neither granted nor
  //   cancelled; granting (cur_ += n, unlink, mark granted) and withdrawing
  //   a cancelled waiter both happen under mu_, so exactly one of them
  //   happens to each waiter.
  // Lock order: mu_, then the runtime locks taken under it (a waiter's
  // channel's or runtime semaphore bucket's to wake it, a Context's to read
  // its error); nothing takes mu_ while holding those.
  const int64_t size_;
  Mutex mu_;
  int64_t cur_ = 0;          // units held; guarded by mu_
  Waiter* head_ = nullptr;   // FIFO of blocked acquires; guarded by mu_
  Waiter* tail_ = nullptr;   // guarded by mu_
};

}  // namespace rt
