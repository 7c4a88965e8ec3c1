// Goroutine creation, first run and exit, and the registry of every G.
//
// newproc takes a dead G from the P's (or the global) free list, or makes
// a new one and appends it to allg; gives it a fresh goid and its task,
// resets every field a previous life may have left, and makes it runnable:
// the current P's runnext from a goroutine, else the global run queue. A
// new G has no stack and no context (ctx == nullptr): execute() calls
// prepare_first_run the first time it runs the G, which takes a stack from
// the P's cache and makes a fiber context that starts in g_entry. So a
// burst of goroutines that have not run yet costs only their G structs.
//
// g_entry runs the task on the goroutine's stack, frees the task and the
// goroutine-local slots, and switches to g0 with SwitchAction::kExit;
// execute() then runs goexit0 (inline in proc.h) on g0, where the G is
// marked dead, its stack returns to the P's cache and it joins the free
// list.
//
// Counts: a G is counted alive (user or system) only together with being
// queued, under Sched::lock on the global path, and uncounted in goexit0;
// checkdead must never see a goroutine counted but unqueued, nor queued
// but uncounted.
//
// allg: Gs are never freed, only reused, so the registry only grows.
// Appends take g_allg_lock; readers (for_each_g) take no lock, because a
// goroutine dump may run in a signal handler (SIGQUIT) that interrupted
// allg_add on the same thread. Readers load the count (acquire), then the
// array (acquire). Growing copies into a larger array published (release)
// before any count that needs it, and replaced arrays are never freed
// (their total is less than the final array), so a reader's array is valid
// and holds at least the count it read.
#include <utility>

#include "runtime/lock.h"
#include "runtime/tsan.h"
#include "sched/panic.h"
#include "sched/proc.h"
#include "sched/switch.h"

namespace rt::sched {

using rt::detail::LockGuard;

std::atomic<void (*)(G*)> g_newproc_hook{nullptr};
std::atomic<int64_t> g_user_gs{0};
std::atomic<int64_t> g_system_gs{0};

void gls_destroy(G* g);  // api.cc

namespace {

std::atomic<int64_t> g_next_goid{1};

// The registry of every G ever created (see the file comment).
rt::detail::Lock g_allg_lock;
std::atomic<G**> g_allg{nullptr};
std::atomic<size_t> g_nallg{0};
size_t g_allg_cap = 0;  // g_allg_lock

void allg_add(G* g) {
  LockGuard lk(g_allg_lock);
  size_t n = g_nallg.load(std::memory_order_relaxed);
  G** arr = g_allg.load(std::memory_order_relaxed);
  if (n == g_allg_cap) {
    size_t cap = g_allg_cap ? g_allg_cap * 2 : 1024;
    // One extra slot past cap links the replaced array, which stays
    // allocated (see g_allg) and reachable, so LeakSanitizer does not
    // report it.
    G** grown = new G*[cap + 1];
    for (size_t i = 0; i < n; i++) grown[i] = arr[i];
    grown[cap] = reinterpret_cast<G*>(arr);
    arr = grown;
    g_allg.store(arr, std::memory_order_release);
    g_allg_cap = cap;
  }
  arr[n] = g;
  g_nallg.store(n + 1, std::memory_order_release);
}

// First code run on a new goroutine's stack. Never instrumented by TSan: it
// never returns (exit_to_g0), so its function-entry record would stay on
// the fiber's shadow stack, one more for every goroutine the fiber runs.
RT_NO_TSAN void g_entry(transfer_t t) {
  M* m = static_cast<M*>(t.data);
  m->g0ctx = t.fctx;
#if defined(RT_ASAN)
  __sanitizer_finish_switch_fiber(nullptr, nullptr, nullptr);
#endif
  G* g = m->curg.load(std::memory_order_relaxed);
  run_goroutine_body(g);  // panic.cc: escaping exceptions become a Go panic
  g->closure = nullptr;  // before the task frees it
  g->task.reset();
  gls_destroy(g);
  // Re-read the M: the G may have moved.
  M* now = current_m();
  now->action = SwitchAction::kExit;
  exit_to_g0(g, now);
}

}  // namespace

int64_t user_goroutines() { return g_user_gs.load(std::memory_order_relaxed); }

void for_each_g(void (*f)(G*, void*), void* arg) {
  size_t n = g_nallg.load(std::memory_order_acquire);
  G** arr = g_allg.load(std::memory_order_acquire);
  for (size_t i = 0; i < n; i++) f(arr[i], arg);
}

void prepare_first_run(P* p, G* g) {
  g->stack = stack_get(p);
  g->ctx = boost::context::detail::make_fcontext(reinterpret_cast<void*>(g->stack.hi),
                                                 g->stack.size(), g_entry);
#if defined(RT_TSAN)
  g->tsan_fiber = tsan_fiber_get();  // gcache.cc
#endif
}

G* newproc(Task fn, bool system, const void* closure, size_t closure_size) {
  schedinit();
  M* cm = current_m();
  G* g = gfget(cm ? cm->p : nullptr);
  if (!g) {
    g = new G();
    allg_add(g);
  }
  g->id = g_next_goid.fetch_add(1, std::memory_order_relaxed);
  g->task = std::move(fn);
  g->closure = closure;
  g->closure_size = closure_size;
  // Before the G is published: its task cannot finish and be freed under
  // the hook.
  if (void (*hook)(G*) = g_newproc_hook.load(std::memory_order_relaxed)) hook(g);
  g->system = system;
  g->gc_skip_scan.store(false, std::memory_order_relaxed);
  g->lockedm = nullptr;
  g->lock_count = 0;
  g->nopreempt = 0;
  g->preempt.store(false, std::memory_order_relaxed);
  g->preempt_stop.store(false, std::memory_order_relaxed);
  g->wait_reason = WaitReason::kNone;
  g->param = nullptr;
  for (void*& s : g->gls) s = nullptr;
  // No stack yet: execute() gives it one (a hot, recently freed one from
  // its P) the first time it runs, so a burst of goroutines that have not
  // started costs only their G structs.
  g->ctx = nullptr;
  g->status.store(kGRunnable, std::memory_order_release);
  M* m = current_m();
  // Count the goroutine only together with queueing it (under the lock on
  // the global path): checkdead must never see it counted but unqueued.
  if (m && m->p && m->curg.load(std::memory_order_relaxed)) {
    (system ? g_system_gs : g_user_gs).fetch_add(1, std::memory_order_relaxed);
    runq_put(m->p, g, true);
  } else {
    LockGuard lk(sched.lock);
    (system ? g_system_gs : g_user_gs).fetch_add(1, std::memory_order_relaxed);
    globrunq_put(g);
  }
  wakep();
  return g;
}

}  // namespace rt::sched
