// rt::WaitGroup: Go's sync.WaitGroup (sync/waitgroup.go).
//
// One 64-bit state word: the counter (signed) in the high 32 bits, the
// number of waiters in the low 32, plus a semaphore the waiters park on.
//
// add(delta) adds delta << 32. If the counter stays above zero, or there
// are no waiters, that is all. If it reaches zero with waiters, the caller
// is the only one entitled to touch the state (adds that start from zero
// must not race with wait, and wait does not register when it sees a zero
// counter), so it stores 0 - clearing the waiter count, which makes the
// WaitGroup reusable at once - and releases the semaphore once per waiter.
// wait() returns at once on a zero counter; otherwise it registers by a CAS
// of waiters + 1 and parks. A woken waiter must find the state zero: if a
// new round started before it returned, that is misuse.
//
// The misuse checks are Go's and throw rt::Panic with Go's messages:
// negative counter; a positive add from zero while waiters are registered,
// or a state changed between reaching zero and the reset (add racing wait);
// a woken waiter finding a non-zero state (reuse before wait returned).
//
// Memory orders: add's fetch_add is acq_rel, so every done() releases its
// goroutine's work and the add that reaches zero acquires all of it; wait's
// load and CAS are acquire, so a waiter that sees zero sees that work. A
// parked waiter synchronises with the releaser through the semaphore
// (seq_cst), after the releaser's acquire. The reset store and the checks
// after waking are seq_cst, as in Go.
#include <atomic>
#include <cstdint>

#include "rt/sync.h"
#include "sched/gmp.h"
#include "sched/sema.h"

namespace rt {

void WaitGroup::add(int delta) {
  uint64_t state = state_.fetch_add(static_cast<uint64_t>(static_cast<int64_t>(delta)) << 32,
                                    std::memory_order_acq_rel) +
                   (static_cast<uint64_t>(static_cast<int64_t>(delta)) << 32);
  auto v = static_cast<int32_t>(state >> 32);
  auto w = static_cast<uint32_t>(state);
  if (v < 0) throw Panic("sync: negative WaitGroup counter");
  if (w != 0 && delta > 0 && v == delta)
    throw Panic("sync: WaitGroup misuse: Add called concurrently with Wait");
  if (v > 0 || w == 0) return;
  // The counter reached zero with waiters: nobody else may change the state
  // now. Check it cheaply anyway.
  if (state_.load(std::memory_order_seq_cst) != state)
    throw Panic("sync: WaitGroup misuse: Add called concurrently with Wait");
  state_.store(0, std::memory_order_seq_cst);
  for (; w != 0; w--) sched::semrelease(&sema_, /*handoff=*/false);
}

void WaitGroup::wait() {
  uint64_t state = state_.load(std::memory_order_acquire);
  for (;;) {
    if (static_cast<int32_t>(state >> 32) == 0) return;
    if (state_.compare_exchange_weak(state, state + 1, std::memory_order_acquire,
                                     std::memory_order_acquire)) {
      sched::semacquire(&sema_, {.lifo = false, .reason = sched::WaitReason::kSyncWaitGroupWait});
      if (state_.load(std::memory_order_seq_cst) != 0)
        throw Panic("sync: WaitGroup is reused before previous Wait has returned");
      return;
    }
  }
}

}  // namespace rt
