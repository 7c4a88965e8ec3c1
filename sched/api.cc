// The public goroutine API (<rt/sched.h>) on top of the scheduler.
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <new>

#include "rt/sched.h"
#include "runtime/fatal.h"
#include "runtime/lock.h"
#include "sched/proc.h"
#include "sched/stw.h"
#include "sched/sysmon.h"
#include "sched/timers.h"

namespace rt {

using sched::G;
using sched::getg;

namespace detail {

void go_impl(void* fn, size_t size, void (*invoke)(void*), void (*destroy)(void*)) {
  struct Boxed {
    void* fn;
    void (*invoke)(void*);
    void (*destroy)(void*);
    Boxed(void* f, void (*i)(void*), void (*d)(void*)) : fn(f), invoke(i), destroy(d) {}
    Boxed(Boxed&& o) noexcept : fn(o.fn), invoke(o.invoke), destroy(o.destroy) { o.fn = nullptr; }
    ~Boxed() {
      if (fn) destroy(fn);
    }
    void operator()() { invoke(fn); }
  };
  sched::newproc(sched::Task(Boxed(fn, invoke, destroy)), /*system=*/false, fn, size);
}

namespace {
std::atomic<int> g_gls_next{0};
void (*g_gls_destroy[sched::kGlsSlots])(void*);
}  // namespace

int gls_key_alloc(void (*destroy)(void*)) {
  int k = g_gls_next.fetch_add(1, std::memory_order_relaxed);
  if (k >= sched::kGlsSlots) fatal("GoroutineLocal: more than 16 keys");
  g_gls_destroy[k] = destroy;
  return k;
}

void* gls_get(int key) {
  G* g = getg();
  if (!g) fatal("GoroutineLocal used outside a goroutine");
  return g->gls[key];
}

void gls_set(int key, void* value) {
  G* g = getg();
  if (!g) fatal("GoroutineLocal used outside a goroutine");
  g->gls[key] = value;
}

}  // namespace detail

namespace sched {
// Destroys a finished goroutine's locals (called from g_entry's exit path).
void gls_destroy(G* g) {
  for (int k = 0; k < kGlsSlots; k++) {
    if (g->gls[k]) {
      void* v = g->gls[k];
      g->gls[k] = nullptr;
      detail::g_gls_destroy[k](v);
    }
  }
}
}  // namespace sched

namespace {

template <typename Fn>
int run_main(Fn&& body) {
  sched::schedinit();
  std::atomic<uint32_t> done{0};
  int status = 0;
  sched::set_main_running(true);
  go([&] {
    status = body();
    sched::set_main_running(false);
    done.store(1, std::memory_order_release);
    rt::detail::futex_wake(&done, 1);
  });
  while (done.load(std::memory_order_acquire) == 0) rt::detail::futex_wait(&done, 0);
  return status;
}

}  // namespace

namespace detail {
int run_impl(int, char**, std::function<int()> main_fn) {
  return run_main([&] { return main_fn(); });
}
}  // namespace detail

void gosched() { sched::gosched(); }

void sleep(std::chrono::nanoseconds d) { sched::sleep_ns(d.count()); }

void yield_point() { sched::preempt_check(); }

int64_t num_goroutine() { return sched::user_goroutines(); }

int gomaxprocs(int n) {
  sched::schedinit();
  int old = sched::gomaxprocs_n.load(std::memory_order_relaxed);
  if (n > 0 && n != old) sched::procresize(n);
  return old;
}

int64_t goid() {
  G* g = getg();
  return g ? g->id : 0;
}

void lock_os_thread() {
  G* g = getg();
  if (!g) return;  // a plain thread is always "locked" to itself
  sched::M* m = g->m.load(std::memory_order_relaxed);
  if (g->lock_count++ == 0) {
    g->lockedm = m;
    m->lockedg = g;
  }
}

void unlock_os_thread() {
  G* g = getg();
  if (!g || g->lock_count == 0) return;
  if (--g->lock_count == 0) {
    g->lockedm->lockedg = nullptr;
    g->lockedm = nullptr;
  }
}

ExternalWaker::ExternalWaker() : active_(true) { sched::external_wakers_add(1); }
ExternalWaker::~ExternalWaker() {
  if (active_) sched::external_wakers_add(-1);
}
ExternalWaker& ExternalWaker::operator=(ExternalWaker&& other) noexcept {
  if (this != &other) {
    if (active_) sched::external_wakers_add(-1);
    active_ = other.active_;
    other.active_ = false;
  }
  return *this;
}

void SyscallScope::enter() {
  // Nested scopes: only the outermost one leaves and retakes the P.
  G* g = getg();
  active_ = g != nullptr && g->status.load(std::memory_order_relaxed) == sched::kGRunning;
  if (active_) sched::entersyscall();
}

SyscallScope::~SyscallScope() {
  if (active_) {
    int saved = errno;  // the blocking call's errno must survive the hand-off
    sched::exitsyscall();
    sched::set_thread_errno(saved);  // on the thread we resumed on (proc.h)
  }
}

NoPreemptScope::NoPreemptScope() {
  if (G* g = getg()) g->nopreempt++;
}

NoPreemptScope::~NoPreemptScope() {
  if (G* g = getg()) g->nopreempt--;
}

}  // namespace rt
