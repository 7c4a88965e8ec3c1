// The weak table. See weak.h and <rt/weak.h>.
#include "gc/weak.h"

#include "gc/gate.h"
#include "gc/heapobj.h"
#include "gc/mark.h"
#include "gc/phase.h"
#include "gc/gcwork.h"
#include "rt/weak.h"
#include "runtime/lock.h"

namespace rt::collector {

namespace {

rt::detail::Lock g_weak_lock;
rt::detail::WeakNode g_head;  // sentinel of a circular list; guarded by g_weak_lock

void* reveal(uintptr_t hidden) { return reinterpret_cast<void*>(~hidden); }
uintptr_t hide(const void* p) { return ~reinterpret_cast<uintptr_t>(p); }
rt::detail::WeakNode* next_of(const rt::detail::WeakNode* n) { return static_cast<rt::detail::WeakNode*>(reveal(n->next_hidden)); }
rt::detail::WeakNode* prev_of(const rt::detail::WeakNode* n) { return static_cast<rt::detail::WeakNode*>(reveal(n->prev_hidden)); }

void init_locked() {
  if (!next_of(&g_head)) g_head.next_hidden = g_head.prev_hidden = hide(&g_head);
}

bool is_marked(void* p, uint32_t e) {
  Managed m;
  return find_managed(reinterpret_cast<uintptr_t>(p), &m) && bit_test(marks_of(m.span, e), m.idx);
}

}  // namespace

uint64_t clear_dead_weaks(uint32_t e) {
  uint64_t cleared = 0;
  rt::detail::LockGuard g(g_weak_lock);
  init_locked();
  for (rt::detail::WeakNode* n = next_of(&g_head); n != &g_head; n = next_of(n)) {
    void* p = reveal(n->hidden.load(std::memory_order_relaxed));
    if (p && !is_marked(p, e)) {
      n->hidden.store(~uintptr_t{0}, std::memory_order_relaxed);
      cleared++;
    }
  }
  return cleared;
}

}  // namespace rt::collector

namespace rt::detail {

void weak_register(WeakNode* n, void* target) {
  n->hidden.store(~reinterpret_cast<uintptr_t>(target), std::memory_order_relaxed);
  LockGuard g(rt::collector::g_weak_lock);
  rt::collector::init_locked();
  using namespace rt::collector;
  WeakNode* last = prev_of(&g_head);
  n->next_hidden = hide(&g_head);
  n->prev_hidden = hide(last);
  last->next_hidden = hide(n);
  g_head.prev_hidden = hide(n);
}

void weak_unregister(WeakNode* n) {
  using namespace rt::collector;
  LockGuard g(g_weak_lock);
  prev_of(n)->next_hidden = n->next_hidden;
  next_of(n)->prev_hidden = n->prev_hidden;
  n->next_hidden = n->prev_hidden = ~uintptr_t{0};
}

void* weak_lock(const WeakNode* n) {
  using namespace rt::collector;
  // The phase test and what follows must not be split by a pause: librt
  // code on goroutines, the gate elsewhere.
  PlainGate gate;
  void* p = reveal(n->hidden.load(std::memory_order_relaxed));
  if (!p) return nullptr;
  switch (phase()) {
    case kMark:
      // The caller is about to hold p on a stack the collector may have
      // scanned already: shade it.
      if (GcWork* gw = local_work()) {
        shade(reinterpret_cast<uintptr_t>(p), gw);
      } else {
        with_shared_work([](GcWork* w, void* p) { shade(reinterpret_cast<uintptr_t>(p), w); }, p);
      }
      return p;
    case kSweep:
      // Marking is over: unmarked means dead, whether or not the clearing
      // pass has reached this node yet.
      return is_marked(p, epoch()) ? p : nullptr;
    case kOff:
      break;
  }
  return p;
}

}  // namespace rt::detail
