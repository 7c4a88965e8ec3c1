// The root set. See roots.h.
#include "gc/roots.h"

#include "gc/gate.h"
#include "gc/mark.h"
#include "gc/phase.h"
#include "rt/gc.h"
#include "rt/root.h"
#include "runtime/lock.h"

namespace rt::collector {

namespace {
rt::detail::Lock g_roots_lock;
rt::detail::RootNode g_head;  // sentinel of a circular list; guarded by g_roots_lock
size_t g_count = 0;           // guarded by g_roots_lock

void init_locked() {
  if (!g_head.next) g_head.next = g_head.prev = &g_head;
}
}  // namespace

void for_each_root(void (*f)(void* ptr, void* arg), void* arg) {
  rt::detail::LockGuard g(g_roots_lock);
  init_locked();
  for (rt::detail::RootNode* n = g_head.next; n != &g_head; n = n->next) {
    if (n->ptr) f(n->ptr, arg);
  }
}

size_t root_count() {
  rt::detail::LockGuard g(g_roots_lock);
  return g_count;
}

}  // namespace rt::collector

namespace rt::detail {

void root_register(RootNode* n) {
  LockGuard g(rt::collector::g_roots_lock);
  rt::collector::init_locked();
  n->next = &rt::collector::g_head;
  n->prev = rt::collector::g_head.prev;
  rt::collector::g_head.prev->next = n;
  rt::collector::g_head.prev = n;
  rt::collector::g_count++;
}

void root_unregister(RootNode* n) {
  // A Root going away deletes a reference, like a store of null: while
  // marking, shade its target (the barrier's deletion half), or an object
  // copied from it to a scanned stack could be freed.
  PlainGate gate;
  if (rt::collector::marking()) {
    auto target = reinterpret_cast<uintptr_t>(__atomic_load_n(&n->ptr, __ATOMIC_RELAXED));
    if (rt::collector::GcWork* gw = rt::collector::local_work()) {
      rt::collector::shade(target, gw);
    } else {
      rt::collector::with_shared_work(
          [](rt::collector::GcWork* w, void* t) { rt::collector::shade(reinterpret_cast<uintptr_t>(t), w); },
          reinterpret_cast<void*>(target));
    }
  }
  LockGuard g(rt::collector::g_roots_lock);
  n->prev->next = n->next;
  n->next->prev = n->prev;
  n->next = n->prev = nullptr;
  rt::collector::g_count--;
}

}  // namespace rt::detail
