// rt::Semaphore: a weighted semaphore with x/sync/semaphore's semantics,
// built on rt::Mutex, the runtime's semaphores (sched/sema.h) and channels.
//
// State, under mu_: the units held (cur_) and a FIFO of blocked acquires.
// Each blocked acquire is a SemaphoreWaiter on the acquirer's own stack.
// Whoever frees units (release, or a cancelled waiter returning a grant)
// runs grant_waiters_locked: while the front waiter fits, it adds the
// waiter's units to cur_, unlinks it, marks it granted and wakes it - all
// under mu_, so the units are the waiter's from that moment, before it even
// runs. Serving stops at the first waiter that does not fit (no overtaking:
// see rt/semaphore.h), so the front waiter never fits when mu_ is free.
//
// How a waiter sleeps and is woken:
//   - acquire(n), or acquire(ctx, n) with a ctx that can never be done:
//     the waiter parks on its own runtime semaphore word (semacquire), and
//     the granter semreleases it. Nothing else can end this wait, so the
//     waiter (and its word) outlives the granter's semrelease, which touches
//     the word only before the waiter can return (sema.h).
//   - acquire(ctx, n) with a cancellable ctx: the waiter selects on its own
//     `ready` channel and ctx.done(). The granter closes `ready` under mu_
//     through a copy of the channel, because a waiter woken by the close may
//     return (and drop its reference) before close() has finished. If done
//     fires first, the waiter takes mu_ and looks at `granted`: a granted
//     waiter puts its units back (cur_ -= n, then grants the next waiters);
//     an ungranted one unlinks itself (and, if it was at the front, the
//     waiters behind it may now fit). So cancellation never leaks units, and
//     never both grants and withdraws a waiter. A waiter woken by `ready`
//     that then finds ctx done gives the units back too (x/sync's rule: a
//     done ctx wins).
//
// Memory order: units change hands only under mu_. A release (under mu_)
// happens before the grant that passes its units on (under mu_, later), and
// the grant happens before the waiter resumes (semrelease's seq_cst update
// of the word the waiter reads; a channel close and the receive it ends).
// So whatever a holder wrote is visible to the next holder of its units.
#include "rt/semaphore.h"

#include <atomic>
#include <cstdint>
#include <mutex>

#include "rt/chan.h"
#include "rt/panic.h"
#include "sched/sema.h"

namespace rt {

namespace detail {

struct SemaphoreWaiter {
  explicit SemaphoreWaiter(int64_t weight) : n(weight) {}

  const int64_t n;                    // units wanted
  SemaphoreWaiter* prev = nullptr;    // queue links; guarded by the semaphore's mu_
  SemaphoreWaiter* next = nullptr;
  bool granted = false;               // guarded by mu_: set when unlinked by a grant
  // Wake-up: `ready` is nil for a waiter parked on `sema`, else closed on
  // the grant.
  std::atomic<uint32_t> sema{0};
  Chan<Unit> ready;
};

}  // namespace detail

namespace {

void check_weight(int64_t n) {
  if (n < 0) throw Panic("semaphore: negative weight");
}

// A request that can never be granted, with no ctx to end it: park for
// good, as x/sync does on a nil done channel.
[[noreturn]] void park_forever() {
  for (;;) Chan<Unit>().recv();
}

bool is_closed(Chan<Unit>& ch) {
  Unit u;
  return ch.try_recv(u) == Chan<Unit>::TryRecv::kClosed;
}

}  // namespace

Semaphore::Semaphore(int64_t n) : size_(n) { check_weight(n); }

void Semaphore::push_back_locked(Waiter* w) {
  w->prev = tail_;
  w->next = nullptr;
  if (tail_) {
    tail_->next = w;
  } else {
    head_ = w;
  }
  tail_ = w;
}

void Semaphore::unlink_locked(Waiter* w) {
  if (w->prev) {
    w->prev->next = w->next;
  } else {
    head_ = w->next;
  }
  if (w->next) {
    w->next->prev = w->prev;
  } else {
    tail_ = w->prev;
  }
  w->prev = w->next = nullptr;
}

void Semaphore::grant_waiters_locked() {
  while (Waiter* w = head_) {
    // Stop at the first that does not fit, even if a later one would: a
    // large request must not starve behind a stream of small ones.
    if (size_ - cur_ < w->n) break;
    cur_ += w->n;
    unlink_locked(w);
    w->granted = true;
    if (w->ready) {
      Chan<Unit> ready = w->ready;  // our own reference: see the file comment
      ready.close();
    } else {
      sched::semrelease(&w->sema);  // w may be gone once this returns
    }
  }
}

void Semaphore::return_units_locked(int64_t n) {
  cur_ -= n;
  grant_waiters_locked();
}

bool Semaphore::try_acquire(int64_t n) {
  check_weight(n);
  std::lock_guard<Mutex> g(mu_);
  if (size_ - cur_ < n || head_ != nullptr) return false;
  cur_ += n;
  return true;
}

void Semaphore::acquire(int64_t n) {
  check_weight(n);
  mu_.lock();
  if (size_ - cur_ >= n && head_ == nullptr) {
    cur_ += n;
    mu_.unlock();
    return;
  }
  if (n > size_) {
    // Do not queue: it would hold up every waiter behind it forever.
    mu_.unlock();
    park_forever();
  }
  Waiter w(n);
  push_back_locked(&w);
  mu_.unlock();
  sched::semacquire(&w.sema);
  // Granted: cur_ already counts our units.
}

ContextError Semaphore::acquire(const Context& ctx, int64_t n) {
  check_weight(n);
  Chan<Unit> done = ctx.done();
  if (!done) {
    // A ctx that can never be done: the cheaper wait, no channel.
    acquire(n);
    return ContextError::kNone;
  }
  Waiter w(n);
  {
    std::unique_lock<Mutex> lk(mu_);
    // A ctx done before we got here fails even if the units are free.
    if (ContextError e = ctx.err(); e != ContextError::kNone) return e;
    if (size_ - cur_ >= n && head_ == nullptr) {
      cur_ += n;
      return ContextError::kNone;
    }
    if (n > size_) {
      lk.unlock();
      done.recv();
      return ctx.err();
    }
    w.ready = make_chan<Unit>();
    push_back_locked(&w);
  }
  int fired = rt::select(recv_case(w.ready), recv_case(done));
  if (fired == 1) {
    // ctx is done; we may have been granted meanwhile.
    std::lock_guard<Mutex> g(mu_);
    if (w.granted) {
      return_units_locked(n);
    } else {
      unlink_locked(&w);
      // If w was at the front, the waiters behind it may fit now.
      grant_waiters_locked();
    }
    return ctx.err();
  }
  // Granted; but a ctx done by now still wins, as in x/sync.
  if (is_closed(done)) {
    release(n);
    return ctx.err();
  }
  return ContextError::kNone;
}

void Semaphore::release(int64_t n) {
  check_weight(n);
  {
    std::lock_guard<Mutex> g(mu_);
    if (n <= cur_) {
      cur_ -= n;
      grant_waiters_locked();
      return;
    }
  }
  throw Panic("semaphore: released more than held");
}

}  // namespace rt
