// Per-P timer heaps. See timers.h.
#include "sched/timers.h"

#include <sched.h>
#include <time.h>

#include <cstdlib>

#include "runtime/fatal.h"
#include "sched/proc.h"
#include "sched/sysmon.h"

namespace rt::sched {

using rt::detail::LockGuard;

namespace {

// Binary min-heap on `when`, each timer knowing its index.
void sift_up(P* p, uint32_t i) {
  Timer* t = p->timers[i];
  while (i > 0) {
    uint32_t parent = (i - 1) / 2;
    Timer* pt = p->timers[parent];
    if (pt->when <= t->when) break;
    p->timers[i] = pt;
    pt->index = static_cast<int32_t>(i);
    i = parent;
  }
  p->timers[i] = t;
  t->index = static_cast<int32_t>(i);
}

void sift_down(P* p, uint32_t i) {
  Timer* t = p->timers[i];
  uint32_t n = p->ntimers;
  for (;;) {
    uint32_t c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && p->timers[c + 1]->when < p->timers[c]->when) c++;
    if (p->timers[c]->when >= t->when) break;
    p->timers[i] = p->timers[c];
    p->timers[i]->index = static_cast<int32_t>(i);
    i = c;
  }
  p->timers[i] = t;
  t->index = static_cast<int32_t>(i);
}

void publish_earliest(P* p) {
  p->timer0_when.store(p->ntimers ? p->timers[0]->when : 0, std::memory_order_release);
}

void heap_push(P* p, Timer* t) {
  if (p->ntimers == p->timers_cap) {
    uint32_t cap = p->timers_cap ? p->timers_cap * 2 : 64;
    auto** n = static_cast<Timer**>(realloc(p->timers, cap * sizeof(Timer*)));
    if (!n) rt::detail::fatal("timers: out of memory");
    p->timers = n;
    p->timers_cap = cap;
  }
  p->timers[p->ntimers] = t;
  t->pp.store(p, std::memory_order_relaxed);
  sift_up(p, p->ntimers++);
  publish_earliest(p);
}

void heap_remove(P* p, Timer* t) {
  uint32_t i = static_cast<uint32_t>(t->index);
  uint32_t last = --p->ntimers;
  if (i != last) {
    p->timers[i] = p->timers[last];
    p->timers[i]->index = static_cast<int32_t>(i);
    sift_down(p, i);
    sift_up(p, static_cast<uint32_t>(p->timers[i]->index));
  }
  t->index = -1;
  t->pp.store(nullptr, std::memory_order_relaxed);
  publish_earliest(p);
}

// Locks the heap t is in and returns it, or nullptr (unlocked) if t is in
// no heap. Retries if t moves while we take the lock.
P* lock_timer_heap(Timer* t) {
  for (;;) {
    P* p = t->pp.load(std::memory_order_acquire);
    if (!p) return nullptr;
    p->timers_lock.lock();
    if (t->pp.load(std::memory_order_relaxed) == p) return p;
    p->timers_lock.unlock();
  }
}

}  // namespace

void move_timer_locked(P* from, P* to, Timer* t) {
  heap_remove(from, t);
  heap_push(to, t);
}

void add_timer(Timer* t) {
  schedinit();
  P* p = getp();
  if (!p) p = allp[0];
  int64_t when = t->when;
  {
    LockGuard lk(p->timers_lock);
    if (t->index >= 0) rt::detail::fatal("add_timer: timer already pending");
    heap_push(p, t);
  }
  // Not t->when: once the lock is released the timer may fire and its
  // owner free it (a sleeping G's timer lives on its stack).
  wake_timer_waiter(when);
}

bool stop_timer(Timer* t, bool wait_running) {
  bool was = false;
  if (P* p = lock_timer_heap(t)) {
    heap_remove(p, t);
    p->timers_lock.unlock();
    was = true;
  }
  if (wait_running) {
    while (t->running.load(std::memory_order_acquire) != 0) sched_yield();
  }
  return was;
}

bool reset_timer(Timer* t, int64_t when) {
  bool was = stop_timer(t, false);
  t->when = when;
  add_timer(t);
  return was;
}

uint32_t run_timers(P* p, int64_t now) {
  uint32_t ran = 0;
  for (;;) {
    int64_t w = p->timer0_when.load(std::memory_order_acquire);
    if (w == 0 || w > now) return ran;
    void (*f)(void*, int64_t);
    void* arg;
    Timer* t;
    bool detached;
    {
      LockGuard lk(p->timers_lock);
      if (p->ntimers == 0 || p->timers[0]->when > now) continue;
      t = p->timers[0];
      f = t->f;
      arg = t->arg;
      detached = t->detached;
      if (!detached) t->running.fetch_add(1, std::memory_order_relaxed);
      if (t->period > 0) {
        // Re-arm in place; skip periods that were missed entirely.
        int64_t next = t->when + t->period;
        if (next <= now) next = now + t->period - (now - t->when) % t->period;
        t->when = next;
        sift_down(p, 0);
        publish_earliest(p);
      } else {
        heap_remove(p, t);
      }
    }
    f(arg, now);
    if (!detached) t->running.fetch_sub(1, std::memory_order_release);
    ran++;
  }
}

int64_t earliest_timer() {
  int64_t best = 0;
  int32_t n = gomaxprocs_n.load(std::memory_order_acquire);
  for (int32_t i = 0; i < n; i++) {
    int64_t w = allp[i]->timer0_when.load(std::memory_order_acquire);
    if (w != 0 && (best == 0 || w < best)) best = w;
  }
  return best;
}

namespace {

void ready_sleeper(void* arg, int64_t) { goready(static_cast<G*>(arg)); }

// Arms the sleep timer once the G is off its stack (so the timer cannot
// ready a G that is still running).
bool arm_sleep_timer(G*, void* arg) {
  add_timer(static_cast<Timer*>(arg));
  return true;
}

}  // namespace

void sleep_ns(int64_t d) {
  G* g = getg();
  if (!g) {
    if (d <= 0) return;
    struct timespec ts;
    ts.tv_sec = d / 1'000'000'000;
    ts.tv_nsec = d % 1'000'000'000;
    while (nanosleep(&ts, &ts) != 0) {
    }
    return;
  }
  if (d <= 0) {
    gosched();
    return;
  }
  Timer t;
  t.when = nanotime() + d;
  t.f = ready_sleeper;
  t.arg = g;
  gopark(arm_sleep_timer, &t, WaitReason::kSleep);
  // The timer fired (that is what readied us) and is out of every heap.
  // Wait out the tail of its run before t leaves scope.
  while (t.running.load(std::memory_order_acquire) != 0) sched_yield();
}

// An earlier deadline appeared: wake the timer-watcher M if it sleeps
// past it, or start an M to become the watcher if there is none.
void wake_timer_waiter(int64_t when) {
  sysmon_timer_added(when);
  M* w = nullptr;
  bool none;
  {
    LockGuard lk(sched.lock);
    none = sched.timer_waiter == nullptr;
    if (!none && when < sched.timer_waiter->park_until) {
      w = sched.timer_waiter;
      sched.timer_waiter = nullptr;  // it re-registers with the new deadline
    }
  }
  if (w) {
    notewakeup(&w->park);
  } else if (none) {
    wakep();  // an idle M will find nothing to run and watch the timers
  }
}

}  // namespace rt::sched
