// Semaphores by address. See sema.h.
//
// Each bucket keeps a list of "root" waiters, one per address with waiters;
// a root heads the FIFO list of the other waiters on its address (Go keeps
// the roots in a treap; a short list is enough here because a bucket rarely
// holds more than a few distinct addresses). Every waiter lives on its
// waiting goroutine's (or thread's) stack.
#include "sched/sema.h"

#include <sched.h>

#include "runtime/fatal.h"
#include "runtime/lock.h"
#include "sched/proc.h"
#include "sched/timers.h"

namespace rt::sched {

using rt::detail::Lock;

namespace {

struct SemaWaiter {
  G* g = nullptr;                     // nullptr: a thread waits on note
  std::atomic<uint32_t> note{0};
  std::atomic<uint32_t>* addr = nullptr;
  SemaWaiter* rnext = nullptr;  // root list (roots only)
  SemaWaiter* rprev = nullptr;
  SemaWaiter* wnext = nullptr;  // this address's wait list
  SemaWaiter* wtail = nullptr;  // last of the wait list (roots only)
  uint32_t ticket = 0;          // 1: the count was handed to us
  bool queued = false;          // guarded by the bucket lock
  bool timed_out = false;
};

struct alignas(64) Bucket {
  Lock lock;
  std::atomic<uint32_t> nwait{0};
  SemaWaiter* roots = nullptr;  // guarded by lock
};

constexpr size_t kBuckets = 251;
Bucket g_buckets[kBuckets];

Bucket* bucket_of(std::atomic<uint32_t>* addr) {
  return &g_buckets[(reinterpret_cast<uintptr_t>(addr) >> 3) % kBuckets];
}

bool can_acquire(std::atomic<uint32_t>* addr) {
  uint32_t v = addr->load(std::memory_order_seq_cst);
  while (v > 0) {
    if (addr->compare_exchange_weak(v, v - 1, std::memory_order_seq_cst)) return true;
  }
  return false;
}

SemaWaiter* find_root(Bucket* b, std::atomic<uint32_t>* addr) {
  for (SemaWaiter* r = b->roots; r; r = r->rnext)
    if (r->addr == addr) return r;
  return nullptr;
}

void replace_root(Bucket* b, SemaWaiter* old, SemaWaiter* with) {
  with->rnext = old->rnext;
  with->rprev = old->rprev;
  if (old->rprev) {
    old->rprev->rnext = with;
  } else {
    b->roots = with;
  }
  if (old->rnext) old->rnext->rprev = with;
  old->rnext = old->rprev = nullptr;
}

void unlink_root(Bucket* b, SemaWaiter* r) {
  if (r->rprev) {
    r->rprev->rnext = r->rnext;
  } else {
    b->roots = r->rnext;
  }
  if (r->rnext) r->rnext->rprev = r->rprev;
  r->rnext = r->rprev = nullptr;
}

void enqueue(Bucket* b, SemaWaiter* s, bool lifo) {
  s->queued = true;
  s->wnext = nullptr;
  SemaWaiter* r = find_root(b, s->addr);
  if (!r) {
    s->wtail = s;
    s->rprev = nullptr;
    s->rnext = b->roots;
    if (b->roots) b->roots->rprev = s;
    b->roots = s;
    return;
  }
  if (lifo) {
    s->wnext = r;
    s->wtail = r->wtail;
    replace_root(b, r, s);
  } else {
    r->wtail->wnext = s;
    r->wtail = s;
  }
}

SemaWaiter* dequeue(Bucket* b, std::atomic<uint32_t>* addr) {
  SemaWaiter* r = find_root(b, addr);
  if (!r) return nullptr;
  if (SemaWaiter* next = r->wnext) {
    next->wtail = r->wtail;
    replace_root(b, r, next);
  } else {
    unlink_root(b, r);
  }
  r->wnext = r->wtail = nullptr;
  r->queued = false;
  return r;
}

// Removes a specific waiter (time-out). Bucket lock held; s->queued.
void remove_waiter(Bucket* b, SemaWaiter* s) {
  SemaWaiter* r = find_root(b, s->addr);
  if (r == s) {
    dequeue(b, s->addr);
    return;
  }
  SemaWaiter* prev = r;
  while (prev->wnext != s) prev = prev->wnext;
  prev->wnext = s->wnext;
  if (r->wtail == s) r->wtail = prev;
  s->wnext = nullptr;
  s->queued = false;
}

void ready(SemaWaiter* s) {
  if (s->g) {
    goready(s->g);
  } else {
    notewakeup(&s->note);
  }
}

bool unlock_bucket(G*, void* arg) {
  static_cast<Bucket*>(arg)->lock.unlock();
  return true;
}

struct TimedPark {
  Bucket* b;
  Timer* t;
};

bool unlock_bucket_arm_timer(G*, void* arg) {
  auto* tp = static_cast<TimedPark*>(arg);
  add_timer(tp->t);
  tp->b->lock.unlock();
  return true;
}

struct TimeoutArg {
  Bucket* b;
  SemaWaiter* s;
};

void sema_timeout(void* arg, int64_t) {
  auto* ta = static_cast<TimeoutArg*>(arg);
  bool wake = false;
  {
    rt::detail::LockGuard lk(ta->b->lock);
    if (ta->s->queued) {
      remove_waiter(ta->b, ta->s);
      ta->b->nwait.fetch_sub(1, std::memory_order_seq_cst);
      ta->s->timed_out = true;
      wake = true;
    }
  }
  if (wake) ready(ta->s);
}

// Returns false on time-out (deadline != 0).
bool acquire(std::atomic<uint32_t>* addr, int64_t deadline, SemaWaitOpts opts) {
  if (can_acquire(addr)) return true;
  Bucket* b = bucket_of(addr);
  SemaWaiter s;
  s.g = getg();
  s.addr = addr;
  bool lifo = opts.lifo;
  for (;;) {
    b->lock.lock();
    b->nwait.fetch_add(1, std::memory_order_seq_cst);
    if (can_acquire(addr)) {
      b->nwait.fetch_sub(1, std::memory_order_seq_cst);
      b->lock.unlock();
      return true;
    }
    if (deadline != 0 && nanotime() >= deadline) {
      b->nwait.fetch_sub(1, std::memory_order_seq_cst);
      b->lock.unlock();
      return false;
    }
    s.ticket = 0;
    s.timed_out = false;
    enqueue(b, &s, lifo);
    if (s.g) {
      if (deadline == 0) {
        gopark(unlock_bucket, b, opts.reason);
      } else {
        Timer t;
        TimeoutArg ta{b, &s};
        t.when = deadline;
        t.f = sema_timeout;
        t.arg = &ta;
        TimedPark tp{b, &t};
        gopark(unlock_bucket_arm_timer, &tp, opts.reason);
        stop_timer(&t, /*wait_running=*/true);
      }
    } else {
      b->lock.unlock();
      if (deadline == 0) {
        notesleep(&s.note);
      } else {
        bool woke = notesleep(&s.note, deadline);
        bool gave_up = false;
        if (!woke) {
          rt::detail::LockGuard lk(b->lock);
          if (s.queued) {
            remove_waiter(b, &s);
            b->nwait.fetch_sub(1, std::memory_order_seq_cst);
            gave_up = true;
          }
        }
        // Not queued any more: a releaser dequeued us; its wake-up is coming.
        if (!woke && !gave_up) notesleep(&s.note);
        s.timed_out = gave_up;
      }
    }
    if (s.timed_out) return can_acquire(addr);
    if (s.ticket != 0 || can_acquire(addr)) return true;
    // Woken but the count was taken by a barging acquirer: queue again, at
    // the front this time.
    lifo = true;
  }
}

}  // namespace

void semacquire(std::atomic<uint32_t>* addr, SemaWaitOpts opts) { acquire(addr, 0, opts); }

bool semacquire_until(std::atomic<uint32_t>* addr, int64_t deadline, SemaWaitOpts opts) {
  return acquire(addr, deadline == 0 ? 1 : deadline, opts);
}

void semrelease(std::atomic<uint32_t>* addr, bool handoff) {
  Bucket* b = bucket_of(addr);
  addr->fetch_add(1, std::memory_order_seq_cst);
  if (b->nwait.load(std::memory_order_seq_cst) == 0) return;
  SemaWaiter* s;
  {
    rt::detail::LockGuard lk(b->lock);
    if (b->nwait.load(std::memory_order_relaxed) == 0) return;
    s = dequeue(b, addr);
    if (s) b->nwait.fetch_sub(1, std::memory_order_seq_cst);
  }
  if (!s) return;
  bool handed = handoff && can_acquire(addr);
  if (handed) s->ticket = 1;
  ready(s);
  // Directed yield: let the waiter we handed the count to run now.
  if (handed && getg() && rt::detail::held_runtime_locks() == 0) goyield();
}

uint32_t sema_waiters(std::atomic<uint32_t>* addr) {
  Bucket* b = bucket_of(addr);
  rt::detail::LockGuard lk(b->lock);
  uint32_t n = 0;
  for (SemaWaiter* r = find_root(b, addr); r; r = r->wnext) n++;
  return n;
}

}  // namespace rt::sched
