// The write barrier: every Ref and Root store passes here.
//
// Go's hybrid barrier (Yuasa deletion + Dijkstra insertion): while the
// collector marks, shade the value being overwritten and the value being
// stored, then store. Deletion shading keeps alive an object whose last
// heap reference moves to an already-scanned (black) stack; insertion
// shading keeps alive an object stored from a not-yet-scanned (grey) stack
// into a black object. Together they let each stack be scanned once, with
// no re-scan at mark termination. Go shades the new value only while the
// storing goroutine's stack is grey; librt always does (no per-G colour
// bit to test, and conservative stacks make the distinction worth little).
//
// The flag test and the store must not be split by a stop-the-world: the
// store would land after marking started, unshaded. On goroutines this is
// librt code with no safe point, which neither the preemption signal nor a
// cooperative check interrupts. Plain threads (and goroutines in a syscall
// scope, which a stop does not stop) pass the gate (gate.h), which the
// collector closes around its pauses, and shade into the shared work list.
#include "gc/barrier.h"
#include "gc/gate.h"
#include "gc/mark.h"
#include "gc/phase.h"
#include "rt/gc.h"
#include "sched/gmp.h"

namespace rt::collector {

namespace {

struct Pair {
  uintptr_t old_value, new_value;
};

void shade_pair(GcWork* gw, void* arg) {
  auto* p = static_cast<Pair*>(arg);
  shade(p->old_value, gw);
  shade(p->new_value, gw);
}

}  // namespace

}  // namespace rt::collector

namespace rt::detail {

void ref_store(void** slot, void* value) {
  using namespace rt::collector;
  if (__builtin_expect(stopped_by_the_world(), 1)) {
    if (__builtin_expect(marking(), 0)) {
      Pair p{__atomic_load_n(reinterpret_cast<uintptr_t*>(slot), __ATOMIC_RELAXED),
             reinterpret_cast<uintptr_t>(value)};
      shade_pair(local_work(), &p);
    }
    __atomic_store_n(slot, value, __ATOMIC_RELAXED);
    return;
  }
  PlainGate gate;
  if (marking()) {
    Pair p{__atomic_load_n(reinterpret_cast<uintptr_t*>(slot), __ATOMIC_RELAXED), reinterpret_cast<uintptr_t>(value)};
    with_shared_work(shade_pair, &p);
  }
  __atomic_store_n(slot, value, __ATOMIC_RELAXED);
}

namespace {

struct Words {
  uintptr_t lo, hi;
};

void shade_words(rt::collector::GcWork* gw, void* arg) {
  auto* w = static_cast<Words*>(arg);
  rt::collector::scan_range(w->lo, w->hi, gw);
}

}  // namespace

void shade_words_barrier(const void* p, size_t n) {
  using namespace rt::collector;
  if (__builtin_expect(!marking(), 1)) return;
  Words w{reinterpret_cast<uintptr_t>(p), reinterpret_cast<uintptr_t>(p) + n};
  if (stopped_by_the_world()) {
    shade_words(local_work(), &w);
  } else {
    with_shared_work(shade_words, &w);
  }
}

}  // namespace rt::detail
