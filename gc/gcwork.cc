// Grey work buffers. See gcwork.h.
#include "gc/gcwork.h"

#include <new>

#include "gc/mark.h"
#include "runtime/fatal.h"
#include "runtime/lock.h"
#include "runtime/meta_alloc.h"
#include "sched/gmp.h"

namespace rt::collector {

namespace {

rt::detail::Lock g_list_lock;
WorkBuf* g_full = nullptr;   // buffers holding items; g_list_lock
WorkBuf* g_free = nullptr;   // empty buffers; g_list_lock
size_t g_nfree = 0;          // g_list_lock
std::atomic<size_t> g_global_bufs{0};

rt::detail::Lock g_shared_lock;
GcWork g_shared;  // plain threads and syscall scopes; g_shared_lock

WorkBuf* new_buf() {
  void* mem = rt::detail::meta_malloc(sizeof(WorkBuf));
  if (!mem) rt::detail::fatal("runtime: out of memory for GC work buffers");
  return new (mem) WorkBuf();
}

WorkBuf* take_free() {
  {
    rt::detail::LockGuard g(g_list_lock);
    if (WorkBuf* b = g_free) {
      g_free = b->next;
      g_nfree--;
      b->next = nullptr;
      return b;
    }
  }
  return new_buf();
}

void put_full(WorkBuf* b) {
  rt::detail::LockGuard g(g_list_lock);
  b->next = g_full;
  g_full = b;
  g_global_bufs.fetch_add(1, std::memory_order_release);
}

void put_free_locked(WorkBuf* b) {
  b->n = 0;
  b->next = g_free;
  g_free = b;
  g_nfree++;
}

}  // namespace

void GcWork::flush() {
  if (!cur_ || cur_->n == 0) return;
  put_full(cur_);
  cur_ = nullptr;
}

void GcWork::flush_counters() {
  if (marked_objects == 0) return;
  g_mark_counters.marked_objects.fetch_add(marked_objects, std::memory_order_relaxed);
  g_mark_counters.marked_bytes.fetch_add(marked_bytes, std::memory_order_relaxed);
  marked_objects = marked_bytes = 0;
}

void GcWork::refill_for_push() {
  if (cur_) put_full(cur_);  // full
  cur_ = take_free();
}

bool GcWork::refill_for_pop() {
  if (g_global_bufs.load(std::memory_order_acquire) == 0) return false;
  rt::detail::LockGuard g(g_list_lock);
  WorkBuf* b = g_full;
  if (!b) return false;
  g_full = b->next;
  b->next = nullptr;
  g_global_bufs.fetch_sub(1, std::memory_order_relaxed);
  if (cur_) put_free_locked(cur_);  // empty
  cur_ = b;
  return true;
}

GcWork* local_work() {
  sched::G* g = sched::getg();
  if (!g || g->status.load(std::memory_order_relaxed) == sched::kGSyscall) return nullptr;
  sched::P* p = sched::current_m()->p;
  if (!p->gc_state) p->gc_state = new GcWork();  // once per P, never freed
  return static_cast<GcWork*>(p->gc_state);
}

void with_shared_work(void (*f)(GcWork*, void*), void* arg) {
  rt::detail::LockGuard g(g_shared_lock);
  f(&g_shared, arg);
}

bool global_work_available() { return g_global_bufs.load(std::memory_order_acquire) != 0; }

void flush_p_work(sched::P* p) {
  auto* w = static_cast<GcWork*>(p->gc_state);
  if (w && !w->empty()) w->flush();
}

bool flush_all_stopped_world() {
  bool found = false;
  for (int i = 0; i < 1024; i++) {
    sched::P* p = sched::allp[i];
    if (!p) continue;
    auto* w = static_cast<GcWork*>(p->gc_state);
    if (!w) continue;
    w->flush_counters();
    if (!w->empty()) {
      w->flush();
      found = true;
    }
  }
  rt::detail::LockGuard g(g_shared_lock);
  g_shared.flush_counters();
  if (!g_shared.empty()) {
    g_shared.flush();
    found = true;
  }
  return found;
}

void reserve_buffers(size_t n) {
  for (;;) {
    {
      rt::detail::LockGuard g(g_list_lock);
      if (g_nfree >= n) return;
    }
    WorkBuf* b = new_buf();
    rt::detail::LockGuard g(g_list_lock);
    put_free_locked(b);
  }
}

}  // namespace rt::collector
