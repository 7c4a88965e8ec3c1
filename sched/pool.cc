// rt::Pool<T>'s type-erased core: Go's sync.Pool (sync/pool.go) with a
// locked per-P deque in place of Go's lock-free poolChain.
//
// Each pool has one Local per P (indexed by P id, up to the runtime's limit
// of 1024 Ps), allocated when that P first touches the pool:
//   priv         one object, taken and given back by the P that owns it;
//   shared       a ring of objects: the owner pushes and pops at the head
//                (LIFO, cache-warm), other Ps steal from the tail;
//   victim_priv, victim
//                the same two, one GC cycle older.
// get: own priv, own shared head, other Ps' shared tails, own victim_priv,
// every victim tail (own P first); the caller (Pool<T>) then falls back to
// its factory. put: own priv if empty, else own shared head.
//
// Pinning. get and put find "their" Local by the P id of the calling M, and
// must not migrate to another M between reading the id and using the
// Local: they raise the thread's runtime-lock count around the access (the
// signal handler never preempts such a thread; Go's procPin) and never park
// inside it. User code (destructors, the factory) runs only outside it.
// Plain threads have no P and use P 0's Local: all operations below are
// safe under concurrent use of one Local, so this costs only contention.
//
// Concurrency. priv and victim_priv are atomic slots: taken by exchange
// (acq_rel), filled by CAS from null (release), so each object has exactly
// one owner even while pool_cleanup or a plain thread races with the P's
// own goroutine. The rings are guarded by Local::lock (a runtime lock,
// never held across user code or a park); nshared / nvictim mirror their
// sizes for lock-free "is it empty" hints that may be stale (then a get may
// miss an object, which a cache may do, or take the lock for nothing).
// nlocal is the number of Local slots in use (1 + highest P id), raised by
// a release CAS after the slot is published; readers load it acquire.
//
// The victim cache (pool_cleanup, Go's poolCleanup, run at the start of
// every GC): under the registry lock, for every pool and Local, the old
// victim objects are detached and the primary ones become victims; the
// detached objects are destroyed after all locks are released. victim_state
// packs a cleanup generation (high 32 bits) with the number of Locals that
// may hold victims (low 32); a get that finds no victim anywhere clears the
// count with a CAS on the whole word, so it cannot erase the count a
// concurrent cleanup just published.

#include <atomic>
#include <cstdint>
#include <new>
#include <utility>
#include <vector>

#include "rt/sync.h"
#include "runtime/lock.h"
#include "runtime/meta_alloc.h"
#include "sched/gmp.h"
#include "sched/proc.h"

namespace rt::detail {

namespace {

constexpr int kMaxP = 1024;  // the runtime's GOMAXPROCS limit (stw.cc)

// A growable ring of object pointers. Owner side: push_head / pop_head;
// thieves: pop_tail. Guarded by its Local's lock.
struct Ring {
  void** buf = nullptr;
  uint32_t cap = 0;   // 0 or a power of two
  uint32_t head = 0;  // slot after the newest
  uint32_t n = 0;

  bool push_head(void* x) {
    if (n == cap && !grow()) return false;
    buf[head] = x;
    head = (head + 1) & (cap - 1);
    n++;
    return true;
  }
  void* pop_head() {
    if (n == 0) return nullptr;
    head = (head - 1) & (cap - 1);
    n--;
    return buf[head];
  }
  void* pop_tail() {
    if (n == 0) return nullptr;
    void* x = buf[(head - n) & (cap - 1)];
    n--;
    return x;
  }
  bool grow() {
    uint32_t ncap = cap ? cap * 2 : 8;
    auto* nbuf = static_cast<void**>(rt::detail::meta_malloc(sizeof(void*) * ncap));
    if (nbuf == nullptr) return false;
    for (uint32_t i = 0; i < n; i++) nbuf[i] = buf[(head - n + i) & (cap - 1)];
    rt::detail::meta_free(buf);
    buf = nbuf;
    cap = ncap;
    head = n;
    return true;
  }
};

struct alignas(128) Local {
  std::atomic<void*> priv{nullptr};
  std::atomic<void*> victim_priv{nullptr};
  std::atomic<uint32_t> nshared{0};  // == shared.n, written under lock
  std::atomic<uint32_t> nvictim{0};  // == victim.n, written under lock
  Lock lock;
  Ring shared;
  Ring victim;
};

// The registry of live pools, for pool_cleanup.
Lock g_registry_lock;
PoolCore::Impl* g_pools = nullptr;

int pin() {
  rt::detail::runtime_locks_inc();
  sched::P* p = sched::getp();
  return p ? p->id : 0;
}

void unpin() { rt::detail::runtime_locks_dec(); }

}  // namespace

struct PoolCore::Impl {
  void (*destroy)(void*) = nullptr;
  Impl* prev = nullptr;  // registry links (g_registry_lock)
  Impl* next = nullptr;
  std::atomic<int32_t> nlocal{0};
  std::atomic<uint64_t> victim_state{0};  // generation << 32 | Locals to search
  std::atomic<Local*> locals[kMaxP] = {};

  Local* local(int pid) { return locals[pid].load(std::memory_order_acquire); }

  // The Local of P `pid`, created if needed; nullptr if out of memory.
  Local* local_or_create(int pid) {
    if (Local* l = local(pid)) return l;
    void* mem = rt::detail::meta_malloc_aligned(sizeof(Local), alignof(Local));
    if (mem == nullptr) return nullptr;
    Local* l = new (mem) Local();
    Local* expected = nullptr;
    // release: the constructed Local is visible to whoever loads the slot.
    if (!locals[pid].compare_exchange_strong(expected, l, std::memory_order_acq_rel,
                                             std::memory_order_acquire)) {
      // Only P 0's slot is contended (plain threads share it).
      l->~Local();
      rt::detail::meta_free(l);
      return expected;
    }
    int32_t n = nlocal.load(std::memory_order_relaxed);
    while (n < pid + 1 &&
           !nlocal.compare_exchange_weak(n, pid + 1, std::memory_order_release,
                                         std::memory_order_relaxed)) {
    }
    return l;
  }

  // Steals from other Ps and the victim cache. Pinned.
  void* get_slow(int pid) {
    int32_t n = nlocal.load(std::memory_order_acquire);
    for (int32_t i = 0; i < n; i++) {
      Local* l = local((pid + i + 1) % n);
      if (l == nullptr || l->nshared.load(std::memory_order_relaxed) == 0) continue;
      LockGuard g(l->lock);
      if (void* x = l->shared.pop_tail()) {
        l->nshared.store(l->shared.n, std::memory_order_relaxed);
        return x;
      }
    }
    // The victim cache: own P's private object first, then every P's
    // shared victims, own P first (Go's order).
    uint64_t vs = victim_state.load(std::memory_order_acquire);
    auto vn = static_cast<int32_t>(static_cast<uint32_t>(vs));
    if (pid >= vn) return nullptr;
    if (Local* l = local(pid); l && l->victim_priv.load(std::memory_order_relaxed)) {
      if (void* x = l->victim_priv.exchange(nullptr, std::memory_order_acq_rel)) return x;
    }
    for (int32_t i = 0; i < vn; i++) {
      Local* l = local((pid + i) % vn);
      if (l == nullptr || l->nvictim.load(std::memory_order_relaxed) == 0) continue;
      LockGuard g(l->lock);
      if (void* x = l->victim.pop_tail()) {
        l->nvictim.store(l->victim.n, std::memory_order_relaxed);
        return x;
      }
    }
    // Empty: later gets skip the victim cache until the next cleanup.
    victim_state.compare_exchange_strong(vs, vs & ~uint64_t{0xffffffff},
                                         std::memory_order_relaxed, std::memory_order_relaxed);
    return nullptr;
  }

  // Detaches every object of `l` (both generations) into `out`.
  static void drain(Local* l, std::vector<void*>& out) {
    if (void* x = l->priv.exchange(nullptr, std::memory_order_acq_rel)) out.push_back(x);
    if (void* x = l->victim_priv.exchange(nullptr, std::memory_order_acq_rel)) out.push_back(x);
    LockGuard g(l->lock);
    while (void* x = l->shared.pop_head()) out.push_back(x);
    while (void* x = l->victim.pop_head()) out.push_back(x);
    l->nshared.store(0, std::memory_order_relaxed);
    l->nvictim.store(0, std::memory_order_relaxed);
  }
};

PoolCore::PoolCore(void (*destroy)(void*)) : impl_(new Impl()) {
  impl_->destroy = destroy;
  LockGuard g(g_registry_lock);
  impl_->next = g_pools;
  if (g_pools) g_pools->prev = impl_;
  g_pools = impl_;
}

PoolCore::~PoolCore() {
  {
    LockGuard g(g_registry_lock);
    if (impl_->prev) {
      impl_->prev->next = impl_->next;
    } else {
      g_pools = impl_->next;
    }
    if (impl_->next) impl_->next->prev = impl_->prev;
  }
  std::vector<void*> objs;
  for (int i = 0; i < kMaxP; i++) {
    Local* l = impl_->locals[i].load(std::memory_order_acquire);
    if (l == nullptr) continue;
    Impl::drain(l, objs);
    rt::detail::meta_free(l->shared.buf);
    rt::detail::meta_free(l->victim.buf);
    l->~Local();
    rt::detail::meta_free(l);
  }
  for (void* x : objs) impl_->destroy(x);
  delete impl_;
}

void* PoolCore::get() noexcept {
  int pid = pin();
  void* x = nullptr;
  if (Local* l = impl_->local(pid)) {
    if (l->priv.load(std::memory_order_relaxed) != nullptr)
      x = l->priv.exchange(nullptr, std::memory_order_acq_rel);
    if (x == nullptr && l->nshared.load(std::memory_order_relaxed) != 0) {
      LockGuard g(l->lock);
      x = l->shared.pop_head();
      l->nshared.store(l->shared.n, std::memory_order_relaxed);
    }
  }
  if (x == nullptr) x = impl_->get_slow(pid);
  unpin();
  return x;
}

void PoolCore::put(void* x) noexcept {
  int pid = pin();
  bool kept = false;
  if (Local* l = impl_->local_or_create(pid)) {
    void* expected = nullptr;
    // release: the object's contents travel with it to the next owner.
    if (l->priv.load(std::memory_order_relaxed) == nullptr &&
        l->priv.compare_exchange_strong(expected, x, std::memory_order_release,
                                        std::memory_order_relaxed)) {
      kept = true;
    } else {
      LockGuard g(l->lock);
      kept = l->shared.push_head(x);
      l->nshared.store(l->shared.n, std::memory_order_relaxed);
    }
  }
  unpin();
  // Out of memory for the pool's own structures: a cache may drop objects.
  if (!kept) impl_->destroy(x);
}

void pool_cleanup() {
  std::vector<std::pair<void*, void (*)(void*)>> dropped;
  {
    LockGuard g(g_registry_lock);
    for (PoolCore::Impl* p = g_pools; p != nullptr; p = p->next) {
      int32_t n = p->nlocal.load(std::memory_order_acquire);
      for (int32_t i = 0; i < n; i++) {
        Local* l = p->local(i);
        if (l == nullptr) continue;
        void* fresh = l->priv.exchange(nullptr, std::memory_order_acq_rel);
        if (void* old = l->victim_priv.exchange(fresh, std::memory_order_acq_rel))
          dropped.emplace_back(old, p->destroy);
        LockGuard lg(l->lock);
        while (void* x = l->victim.pop_head()) dropped.emplace_back(x, p->destroy);
        // The emptied victim ring's buffer becomes the new primary ring.
        std::swap(l->shared, l->victim);
        l->nshared.store(0, std::memory_order_relaxed);
        l->nvictim.store(l->victim.n, std::memory_order_relaxed);
      }
      uint64_t gen = (p->victim_state.load(std::memory_order_relaxed) >> 32) + 1;
      p->victim_state.store((gen << 32) | static_cast<uint32_t>(n), std::memory_order_release);
    }
  }
  // User destructors run with no runtime lock held.
  for (auto& [x, destroy] : dropped) destroy(x);
}

}  // namespace rt::detail
