// Helpers shared by the channel suites (chan, select, timer, Context and
// the channel examples):
// - Tracked: an element type that counts its live copies, so a test can
//   check that the runtime destroys every element it constructs exactly
//   once (a double destruction drives the count negative, a leak leaves it
//   positive);
// - waiting_receivers / waiting_senders: how many waiters a channel has
//   queued, read from the runtime's hchan under its lock, so a test can
//   wait until goroutines are really parked before acting;
// - wait_until: polls a condition with a generous liveness bound.
//
// Outside namespace rt, as the other test helpers (see goroutine_fixture.h).
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

#include "chan/hchan.h"
#include "rt/chan.h"
#include "rt/sched.h"
#include "tests/goroutine_fixture.h"

namespace gotest {


// Live-object counts for Tracked values of one test.
struct TrackCounts {
  std::atomic<int64_t> live{0};
  std::atomic<int64_t> constructed{0};  // every constructor, copies and moves included
  std::atomic<int64_t> destroyed{0};
};

// A value that reports every construction and destruction to its counts.
class Tracked {
 public:
  Tracked() = default;  // untracked (for recv()'s T{} on a closed channel)
  Tracked(TrackCounts* c, int64_t v) : counts_(c), value_(v) { born(); }
  Tracked(const Tracked& o) : counts_(o.counts_), value_(o.value_) { born(); }
  Tracked(Tracked&& o) noexcept : counts_(o.counts_), value_(o.value_) {
    o.value_ = -1;
    born();
  }
  Tracked& operator=(Tracked o) noexcept {
    std::swap(o.counts_, counts_);
    std::swap(o.value_, value_);
    return *this;
  }
  ~Tracked() {
    if (counts_) {
      counts_->live.fetch_sub(1, std::memory_order_relaxed);
      counts_->destroyed.fetch_add(1, std::memory_order_relaxed);
    }
  }
  int64_t value() const { return value_; }

 private:
  void born() {
    if (counts_) {
      counts_->live.fetch_add(1, std::memory_order_relaxed);
      counts_->constructed.fetch_add(1, std::memory_order_relaxed);
    }
  }
  TrackCounts* counts_ = nullptr;
  int64_t value_ = 0;
};

namespace detail_ {
inline int count_waiters(rt::detail::ChanCore* c, bool senders) {
  if (!c) return 0;
  int n = 0;
  c->lock.lock();
  for (rt::detail::Sudog* s = (senders ? c->sendq : c->recvq).first; s; s = s->next) {
    // A sudog of a select that somebody already won is stale: it is only
    // waiting for its select to unlink it.
    if (!s->sel || s->sel->done.load(std::memory_order_acquire) == 0) n++;
  }
  c->lock.unlock();
  return n;
}
}  // namespace detail_

template <typename T>
int waiting_receivers(const rt::Chan<T>& ch) {
  return detail_::count_waiters(ch.core(), false);
}
template <typename T>
int waiting_senders(const rt::Chan<T>& ch) {
  return detail_::count_waiters(ch.core(), true);
}

// Polls cond() until it holds or `timeout` passes; returns cond(). Sleeps
// the goroutine (or the thread, outside goroutines) between polls.
template <typename C>
bool wait_until(C&& cond, std::chrono::milliseconds timeout = std::chrono::milliseconds(10000)) {
  auto end = Clock::now() + timeout;
  while (!cond()) {
    if (Clock::now() > end) return cond();
    rt::sleep(std::chrono::microseconds(200));
  }
  return true;
}

}  // namespace gotest

