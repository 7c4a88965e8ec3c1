// Per-P caches of free goroutine structs and of goroutine stacks.
//
// A goroutine that ends gives its stack to its P's stack cache (LIFO, so
// the next goroutine started there runs on the hottest stack) and its G to
// the P's free list; a new goroutine takes a G from the free list and gets
// a stack only when it first runs. Both caches belong to their P's owner
// (no lock); the free lists spill half to and refill half from Sched::gfree
// under Sched::lock, so a spawning P and a finishing P balance out.
//
// Under ThreadSanitizer each running or parked goroutine also holds a TSan
// fiber (its own shadow call stack and vector clock). TSan counts fibers
// as threads (at most 8128 at once) and a new one costs a thread's worth
// of TSan state (about 0.8 MB, mapped and cleared: milliseconds), so
// fibers are pooled: a goroutine takes one when it first runs and returns
// it when it exits, and the pool only grows to the most goroutines started
// and unfinished at once. A fiber is created on g0, so all g0 did so far
// happens before the goroutine's first instruction; g_entry is
// uninstrumented, so an exit leaves the fiber's shadow stack as empty as
// it was found.
#include "runtime/lock.h"
#include "runtime/tsan.h"
#include "sched/proc.h"

namespace rt::sched {

using rt::detail::LockGuard;

// Free Gs (without stacks: goexit0 gives the stack to its P's stack
// cache), first on the P's own list, then on the global one.
constexpr int32_t kPGFreeMax = 64;

// Per-P stack cache: the stacks of goroutines that just ended on this P,
// hot in its cache, for the next goroutines it starts.
Stack stack_get(P* p) {
  if (p && p->nstackcache > 0) return p->stackcache[--p->nstackcache];
  return stack_alloc();
}

void stack_put(P* p, Stack s) {
  if (s.empty()) return;
  if (p && p->nstackcache < kPStackCache) {
    p->stackcache[p->nstackcache++] = s;
    return;
  }
  stack_free(s);
}

G* gfget(P* p) {
  if (p && !p->gfree) {
    // Refill half a list from the global one.
    LockGuard lk(sched.lock);
    while (p->ngfree < kPGFreeMax / 2 && sched.gfree) {
      G* g = sched.gfree;
      sched.gfree = g->schedlink;
      sched.ngfree--;
      g->schedlink = p->gfree;
      p->gfree = g;
      p->ngfree++;
    }
  }
  if (p && p->gfree) {
    G* g = p->gfree;
    p->gfree = g->schedlink;
    p->ngfree--;
    g->schedlink = nullptr;
    return g;
  }
  if (p) return nullptr;
  LockGuard lk(sched.lock);
  G* g = sched.gfree;
  if (g) {
    sched.gfree = g->schedlink;
    g->schedlink = nullptr;
    sched.ngfree--;
  }
  return g;
}

void gfput(P* p, G* g) {
  if (!p) {
    LockGuard lk(sched.lock);
    g->schedlink = sched.gfree;
    sched.gfree = g;
    sched.ngfree++;
    return;
  }
  g->schedlink = p->gfree;
  p->gfree = g;
  if (++p->ngfree < kPGFreeMax) return;
  // Spill half to the global list.
  LockGuard lk(sched.lock);
  while (p->ngfree > kPGFreeMax / 2) {
    G* x = p->gfree;
    p->gfree = x->schedlink;
    p->ngfree--;
    x->schedlink = sched.gfree;
    sched.gfree = x;
    sched.ngfree++;
  }
}

#if defined(RT_TSAN)
namespace {
rt::detail::Lock g_fiber_pool_lock;
void** g_fiber_pool = nullptr;  // g_fiber_pool_lock
size_t g_nfiber_pool = 0, g_fiber_pool_cap = 0;
}  // namespace

void* tsan_fiber_get() {
  {
    LockGuard lk(g_fiber_pool_lock);
    if (g_nfiber_pool > 0) return g_fiber_pool[--g_nfiber_pool];
  }
  return __tsan_create_fiber(0);
}

void tsan_fiber_put(void* fiber) {
  LockGuard lk(g_fiber_pool_lock);
  if (g_nfiber_pool == g_fiber_pool_cap) {
    size_t cap = g_fiber_pool_cap ? g_fiber_pool_cap * 2 : 256;
    void** n = new void*[cap];
    for (size_t i = 0; i < g_nfiber_pool; i++) n[i] = g_fiber_pool[i];
    delete[] g_fiber_pool;
    g_fiber_pool = n;
    g_fiber_pool_cap = cap;
  }
  g_fiber_pool[g_nfiber_pool++] = fiber;
}
#endif

}  // namespace rt::sched
