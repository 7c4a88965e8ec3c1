// rt::Cond's queue: Go's notifyList (runtime/sema.go).
//
// Cond::wait takes a ticket (notify_list_add: wait++) while it still holds
// the user's lock, releases that lock, and only then queues itself
// (notify_list_wait). A signal that comes in between must still wake it, so
// the list works with tickets, not with queue positions: `notify` is the
// ticket of the next waiter to wake. notify_one wakes ticket `notify` and
// increments it; notify_all sets `notify` to `wait`, waking every ticket
// handed out. notify_list_wait returns at once if its ticket is already
// below `notify` (it was signalled before it could park); otherwise it
// queues with its ticket and parks. notify_one, finding the notified ticket
// not queued yet, just advances `notify`: that waiter will see it and not
// park. Tickets compare with wraparound (int32 of the difference).
//
// Waiters live on their own stacks: goroutines park (the list lock is
// released by gopark's unlock function on g0, once the goroutine has
// switched out, so a notifier that dequeues it can ready it at once); plain
// threads sleep on a futex note.
//
// Memory orders. notify_list_add's fetch_add is acq_rel and the notifiers'
// fast path loads `wait` and `notify` with acquire: the usual caller takes
// its ticket under the user's lock and the notifier changes the condition
// under the same lock before notifying, so the lock orders the ticket
// before the notifier's load of `wait`, which therefore sees it (a notifier
// that does not hold the lock has no ordering to respect, as in Go).
// `notify` and the waiter list change only under the list lock; `notify` is
// stored with release for the fast path. The user's data is handed over by
// the user's lock, which the woken waiter re-takes.
#include <atomic>
#include <cstdint>
#include <new>

#include "rt/sync.h"
#include "runtime/lock.h"
#include "sched/gmp.h"
#include "sched/proc.h"

namespace rt::detail {

struct NotifyWaiter {
  sched::G* g = nullptr;           // nullptr: a plain thread sleeping on note
  std::atomic<uint32_t> note{0};
  uint32_t ticket = 0;
  NotifyWaiter* next = nullptr;
};

namespace {

static_assert(sizeof(Lock) == sizeof(NotifyList::lock) && alignof(Lock) <= 4,
              "NotifyList::lock must hold an rt::detail::Lock");

Lock* list_lock(NotifyList* l) { return std::launder(reinterpret_cast<Lock*>(l->lock)); }

// a < b, modulo 2^32.
bool ticket_less(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) < 0; }

bool unlock_list(sched::G*, void* arg) {
  list_lock(static_cast<NotifyList*>(arg))->unlock();
  return true;
}

void ready(NotifyWaiter* s) {
  if (sched::G* g = s->g) {
    sched::goready(g);
  } else {
    sched::notewakeup(&s->note);
  }
}

}  // namespace

NotifyList::NotifyList() noexcept { new (lock) Lock(); }

uint32_t notify_list_add(NotifyList* l) noexcept {
  return l->wait.fetch_add(1, std::memory_order_acq_rel);
}

void notify_list_wait(NotifyList* l, uint32_t ticket) {
  Lock* lk = list_lock(l);
  lk->lock();
  // Already notified (between add and now): do not park.
  if (ticket_less(ticket, l->notify.load(std::memory_order_relaxed))) {
    lk->unlock();
    return;
  }
  NotifyWaiter s;
  s.g = sched::getg();
  s.ticket = ticket;
  if (l->tail == nullptr) {
    l->head = &s;
  } else {
    l->tail->next = &s;
  }
  l->tail = &s;
  if (s.g) {
    sched::gopark(unlock_list, l, sched::WaitReason::kSyncCondWait);
  } else {
    lk->unlock();
    sched::notesleep(&s.note);
  }
}

void notify_list_notify_all(NotifyList* l) noexcept {
  // Fast path: no ticket handed out since the last notification.
  if (l->wait.load(std::memory_order_acquire) == l->notify.load(std::memory_order_acquire)) return;
  Lock* lk = list_lock(l);
  lk->lock();
  NotifyWaiter* s = l->head;
  l->head = l->tail = nullptr;
  l->notify.store(l->wait.load(std::memory_order_acquire), std::memory_order_release);
  lk->unlock();
  while (s) {
    // Read next before readying: the waiter's frame dies once it runs.
    NotifyWaiter* next = s->next;
    ready(s);
    s = next;
  }
}

void notify_list_notify_one(NotifyList* l) noexcept {
  if (l->wait.load(std::memory_order_acquire) == l->notify.load(std::memory_order_acquire)) return;
  Lock* lk = list_lock(l);
  lk->lock();
  uint32_t t = l->notify.load(std::memory_order_relaxed);
  if (t == l->wait.load(std::memory_order_acquire)) {
    lk->unlock();
    return;
  }
  // Ticket t is now notified, whether or not its waiter has queued yet.
  l->notify.store(t + 1, std::memory_order_release);
  for (NotifyWaiter *p = nullptr, *s = l->head; s != nullptr; p = s, s = s->next) {
    if (s->ticket == t) {
      NotifyWaiter* n = s->next;
      if (p) {
        p->next = n;
      } else {
        l->head = n;
      }
      if (n == nullptr) l->tail = p;
      lk->unlock();
      ready(s);
      return;
    }
  }
  lk->unlock();
}

}  // namespace rt::detail
