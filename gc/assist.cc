// Mark assists: debt, credit stealing, the assist queue. See assist.h.
#include "gc/assist.h"

#include <algorithm>
#include <atomic>
#include <cmath>

#include "gc/cpulimit.h"
#include "gc/gcaccount.h"
#include "gc/mark.h"
#include "gc/pacer.h"
#include "gc/phase.h"
#include "runtime/lock.h"
#include "sched/gmp.h"
#include "sched/proc.h"

namespace rt::collector::assist {

namespace {

// The least scan work one assist does (Go's gcOverAssistWork): fewer,
// larger assists; the surplus is credit.
constexpr int64_t kOverAssistWork = 64 << 10;

std::atomic<uint32_t> g_epoch{1};
std::atomic<int64_t> g_bg_credit{0};  // scan work, may dip below 0 briefly

struct Waiter {
  rt::sched::G* g;
  Waiter* next;
};
rt::detail::Lock g_queue_lock;
Waiter* g_head = nullptr;  // g_queue_lock
Waiter* g_tail = nullptr;
std::atomic<bool> g_queue_nonempty{false};

std::atomic<uint64_t> g_assists{0}, g_parks{0}, g_stolen{0}, g_paid{0};

void enqueue_locked(Waiter* w) {
  w->next = nullptr;
  if (g_tail) {
    g_tail->next = w;
  } else {
    g_head = w;
  }
  g_tail = w;
  g_queue_nonempty.store(true, std::memory_order_relaxed);
}

Waiter* pop_locked() {
  Waiter* w = g_head;
  if (!w) return nullptr;
  g_head = w->next;
  if (!g_head) {
    g_tail = nullptr;
    g_queue_nonempty.store(false, std::memory_order_relaxed);
  }
  return w;
}

bool unlock_queue(rt::sched::G*, void*) {
  g_queue_lock.unlock();
  return true;
}

// Parks g until background work pays its debt or marking ends. Returns
// false at once when marking ended, true (try again) when credit appeared
// meanwhile.
bool park(rt::sched::G* g) {
  g_queue_lock.lock();
  if (!marking() || g->gc_assist_epoch != g_epoch.load(std::memory_order_relaxed)) {
    g_queue_lock.unlock();
    return false;
  }
  if (g_bg_credit.load(std::memory_order_relaxed) > 0) {
    g_queue_lock.unlock();
    return true;
  }
  Waiter w{g, nullptr};
  enqueue_locked(&w);
  g_parks.fetch_add(1, std::memory_order_relaxed);
  rt::sched::gopark(unlock_queue, nullptr, rt::sched::WaitReason::kGCAssistWait);
  return false;
}

}  // namespace

void start_cycle() {
  g_epoch.fetch_add(1, std::memory_order_relaxed);
  g_bg_credit.store(0, std::memory_order_relaxed);
}

void alloc(uint64_t bytes) {
  rt::sched::G* g = rt::sched::getg();
  if (!g) return;
  uint32_t epoch = g_epoch.load(std::memory_order_relaxed);
  if (g->gc_assist_epoch != epoch) {
    g->gc_assist_epoch = epoch;
    g->gc_assist_bytes = 0;
  }
  g->gc_assist_bytes -= static_cast<int64_t>(bytes);
  if (g->gc_assist_bytes >= 0) return;
  cpulimit::update(rt::sched::nanotime());
  if (cpulimit::limiting()) return;
  g_assists.fetch_add(1, std::memory_order_relaxed);
  for (;;) {
    double work_per_byte, bytes_per_work;
    pacer::assist_ratios(&work_per_byte, &bytes_per_work);
    int64_t debt = -g->gc_assist_bytes;
    int64_t work = static_cast<int64_t>(std::ceil(work_per_byte * static_cast<double>(debt)));
    if (work < kOverAssistWork) work = kOverAssistWork;
    // 1. Steal background credit.
    int64_t credit = g_bg_credit.load(std::memory_order_relaxed);
    if (credit > 0) {
      int64_t stolen = std::min(credit, work);
      g_bg_credit.fetch_sub(stolen, std::memory_order_relaxed);
      g_stolen.fetch_add(static_cast<uint64_t>(stolen), std::memory_order_relaxed);
      g->gc_assist_bytes += static_cast<int64_t>(bytes_per_work * static_cast<double>(stolen)) + 1;
      if (stolen == work || g->gc_assist_bytes >= 0) return;
      work -= stolen;
    }
    // 2. Scan.
    size_t done;
    {
      MarkCpuSpan cpu(MarkCpu::kAssist);
      done = drain_preemptible(static_cast<size_t>(work));
    }
    g->gc_assist_bytes += static_cast<int64_t>(bytes_per_work * static_cast<double>(done));
    if (g->gc_assist_bytes >= 0) return;
    // 3. Nothing left to scan here: wait for the workers (again from 1 if
    // credit appeared meanwhile).
    if (!park(g)) return;
  }
}

void flush_background(uint64_t work) {
  if (work == 0) return;
  if (!g_queue_nonempty.load(std::memory_order_relaxed)) {
    g_bg_credit.fetch_add(static_cast<int64_t>(work), std::memory_order_relaxed);
    return;
  }
  double work_per_byte, bytes_per_work;
  pacer::assist_ratios(&work_per_byte, &bytes_per_work);
  auto scan_bytes = static_cast<int64_t>(bytes_per_work * static_cast<double>(work));
  rt::detail::LockGuard lk(g_queue_lock);
  while (scan_bytes > 0 && g_head) {
    rt::sched::G* g = g_head->g;
    if (scan_bytes + g->gc_assist_bytes >= 0) {
      // Paid off: ready it (its Waiter lives on its stack: not touched after).
      scan_bytes += g->gc_assist_bytes;
      g->gc_assist_bytes = 0;
      pop_locked();
      g_paid.fetch_add(1, std::memory_order_relaxed);
      rt::sched::goready(g);
    } else {
      // Partly paid: it goes to the back so that others get a turn.
      g->gc_assist_bytes += scan_bytes;
      scan_bytes = 0;
      Waiter* w = pop_locked();
      enqueue_locked(w);
    }
  }
  if (scan_bytes > 0) {
    g_bg_credit.fetch_add(static_cast<int64_t>(work_per_byte * static_cast<double>(scan_bytes)),
                          std::memory_order_relaxed);
  }
}

void end_cycle() {
  Waiter* list;
  {
    rt::detail::LockGuard lk(g_queue_lock);
    list = g_head;
    g_head = g_tail = nullptr;
    g_queue_nonempty.store(false, std::memory_order_relaxed);
  }
  while (list) {
    Waiter* next = list->next;
    rt::sched::goready(list->g);
    list = next;
  }
}

Stats stats() {
  return Stats{g_assists.load(std::memory_order_relaxed), g_parks.load(std::memory_order_relaxed),
               g_stolen.load(std::memory_order_relaxed), g_paid.load(std::memory_order_relaxed)};
}

}  // namespace rt::collector::assist
