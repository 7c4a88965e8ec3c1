// Run queues: each P's lock-free local ring with its runnext slot, and the
// global queue under Sched::lock (Go's runqput / runqget / runqgrab /
// globrunqget).
//
// Memory orders on the local ring (single producer: the owner; many
// consumers: the owner and thieves):
// - the owner stores a slot (relaxed), then publishes it with a release
//   store of runq_tail; consumers load runq_tail with acquire, so a slot
//   they may read is fully written;
// - consumers claim slots by CAS on runq_head (release on success, so the
//   owner's acquire load of runq_head before reusing a slot orders the
//   thief's read of that slot before the owner's overwrite);
// - a thief that copied slots and then lost its CAS discards the copy.
#include <unistd.h>

#include <atomic>

#include "runtime/fatal.h"
#include "sched/proc.h"

namespace rt::sched {

using rt::detail::fatal;

namespace {

// Moves half the local queue plus g to the global queue (the local queue is
// full). Returns false if the queue is no longer full (the caller retries).
bool runq_put_slow(P* p, G* g, uint32_t h, uint32_t t) {
  constexpr uint32_t n = kRunqSize / 2;
  G* batch[n + 1];
  if (t - h != kRunqSize) fatal("runq_put_slow: queue is not full");
  for (uint32_t i = 0; i < n; i++) batch[i] = p->runq[(h + i) % kRunqSize].load(std::memory_order_relaxed);
  if (!p->runq_head.compare_exchange_strong(h, h + n, std::memory_order_release,
                                            std::memory_order_relaxed))
    return false;
  batch[n] = g;
  for (uint32_t i = 0; i < n; i++) batch[i]->schedlink = batch[i + 1];
  batch[n]->schedlink = nullptr;
  rt::detail::LockGuard lk(sched.lock);
  globrunq_put_batch(batch[0], batch[n], n + 1);
  return true;
}

}  // namespace

bool runq_put(P* p, G* g, bool next) {
  if (next) {
    // Only the owner sets runnext; thieves only take it (CAS to null). So
    // an empty slot can be filled with a plain release store, and a full
    // one must be swapped atomically.
    G* old = p->runnext.load(std::memory_order_relaxed);
    if (old == nullptr) {
      p->runnext.store(g, std::memory_order_release);
      return true;
    }
    old = p->runnext.exchange(g, std::memory_order_acq_rel);
    if (!old) return true;
    g = old;  // the displaced runnext goes to the tail
  }
  for (;;) {
    uint32_t h = p->runq_head.load(std::memory_order_acquire);
    uint32_t t = p->runq_tail.load(std::memory_order_relaxed);
    if (t - h < kRunqSize) {
      p->runq[t % kRunqSize].store(g, std::memory_order_relaxed);
      p->runq_tail.store(t + 1, std::memory_order_release);
      return true;
    }
    if (runq_put_slow(p, g, h, t)) return false;
  }
}

G* runq_get(P* p, bool* inherit_time) {
  // runnext first; it inherits the current time slice.
  G* next = p->runnext.load(std::memory_order_relaxed);
  if (next && p->runnext.compare_exchange_strong(next, nullptr, std::memory_order_acquire,
                                                 std::memory_order_relaxed)) {
    *inherit_time = true;
    return next;
  }
  *inherit_time = false;
  for (;;) {
    uint32_t h = p->runq_head.load(std::memory_order_acquire);
    uint32_t t = p->runq_tail.load(std::memory_order_relaxed);
    if (t == h) return nullptr;
    G* g = p->runq[h % kRunqSize].load(std::memory_order_relaxed);
    if (p->runq_head.compare_exchange_weak(h, h + 1, std::memory_order_release,
                                           std::memory_order_relaxed))
      return g;
  }
}

bool runq_empty(P* p) {
  // A consistent snapshot: tail re-read to rule out a concurrent put that
  // moved runnext into the ring between our loads.
  for (;;) {
    uint32_t h = p->runq_head.load(std::memory_order_acquire);
    uint32_t t = p->runq_tail.load(std::memory_order_acquire);
    G* next = p->runnext.load(std::memory_order_acquire);
    if (t == p->runq_tail.load(std::memory_order_acquire)) return h == t && next == nullptr;
  }
}

uint32_t runq_steal(P* p, P* victim, bool steal_runnext, G** first) {
  G* batch[kRunqSize / 2];
  uint32_t n;
  for (;;) {
    uint32_t h = victim->runq_head.load(std::memory_order_acquire);
    uint32_t t = victim->runq_tail.load(std::memory_order_acquire);
    n = t - h;
    n = n - n / 2;
    // Never more than our own queue can take (it is normally empty).
    uint32_t room = kRunqSize - (p->runq_tail.load(std::memory_order_relaxed) -
                                 p->runq_head.load(std::memory_order_acquire));
    if (n > room + 1) n = room + 1;  // +1: the one we run at once
    if (n == 0) {
      if (steal_runnext) {
        G* next = victim->runnext.load(std::memory_order_acquire);
        if (next) {
          // The victim is likely about to run it (it was just readied):
          // give it a moment first, as Go does.
          if (victim->status.load(std::memory_order_relaxed) == kPRunning) usleep(3);
          if (victim->runnext.compare_exchange_strong(next, nullptr, std::memory_order_acquire,
                                                      std::memory_order_relaxed)) {
            *first = next;
            return 1;
          }
          continue;
        }
      }
      return 0;
    }
    if (n > kRunqSize / 2) continue;  // read an inconsistent h/t pair: retry
    for (uint32_t i = 0; i < n; i++)
      batch[i] = victim->runq[(h + i) % kRunqSize].load(std::memory_order_relaxed);
    if (victim->runq_head.compare_exchange_strong(h, h + n, std::memory_order_acq_rel,
                                                  std::memory_order_relaxed))
      break;
  }
  // Run the last one; queue the rest locally (n was capped to the room).
  *first = batch[n - 1];
  if (n > 1) {
    uint32_t t = p->runq_tail.load(std::memory_order_relaxed);
    for (uint32_t i = 0; i < n - 1; i++) p->runq[(t + i) % kRunqSize].store(batch[i], std::memory_order_relaxed);
    p->runq_tail.store(t + n - 1, std::memory_order_release);
  }
  return n;
}

void globrunq_put(G* g) {
  g->schedlink = nullptr;
  if (sched.runq_tail) {
    sched.runq_tail->schedlink = g;
  } else {
    sched.runq_head = g;
  }
  sched.runq_tail = g;
  sched.runq_size.fetch_add(1, std::memory_order_seq_cst);
}

void globrunq_put_batch(G* head, G* tail, int32_t n) {
  tail->schedlink = nullptr;
  if (sched.runq_tail) {
    sched.runq_tail->schedlink = head;
  } else {
    sched.runq_head = head;
  }
  sched.runq_tail = tail;
  sched.runq_size.fetch_add(n, std::memory_order_seq_cst);
}

G* globrunq_get(P* p, int32_t max) {
  int32_t size = sched.runq_size.load(std::memory_order_relaxed);
  if (size == 0) return nullptr;
  int32_t procs = gomaxprocs_n.load(std::memory_order_acquire);
  int32_t n = size / procs + 1;
  if (n > size) n = size;
  if (max > 0 && n > max) n = max;
  if (n > static_cast<int32_t>(kRunqSize / 2)) n = kRunqSize / 2;
  sched.runq_size.fetch_sub(n, std::memory_order_relaxed);
  G* g = sched.runq_head;
  sched.runq_head = g->schedlink;
  if (!sched.runq_head) sched.runq_tail = nullptr;
  g->schedlink = nullptr;
  for (int32_t i = 1; i < n; i++) {
    G* g1 = sched.runq_head;
    sched.runq_head = g1->schedlink;
    if (!sched.runq_head) sched.runq_tail = nullptr;
    g1->schedlink = nullptr;
    // Put locally without runq_put's overflow path (which takes
    // Sched::lock, held here); callers' queues are empty, but be safe.
    uint32_t h = p->runq_head.load(std::memory_order_acquire);
    uint32_t t = p->runq_tail.load(std::memory_order_relaxed);
    if (t - h < kRunqSize) {
      p->runq[t % kRunqSize].store(g1, std::memory_order_relaxed);
      p->runq_tail.store(t + 1, std::memory_order_release);
    } else {
      globrunq_put(g1);
    }
  }
  return g;
}

}  // namespace rt::sched
