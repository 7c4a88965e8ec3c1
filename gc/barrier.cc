// The write barrier's hook: every Ref and Root store passes here.
//
// Today the collector stops the world to mark, so goroutines need no
// barrier: a store is one instruction inside this librt function, which the
// preemption signal never interrupts, so a stop never splits it from its
// check. Plain threads are not stopped; their stores pass the gate
// (gate.h) so none lands while the collector marks. The concurrent
// collector will add here, behind a "marking" flag test: shade the old and
// the new target into the P's buffer (Go's hybrid barrier).
#include "rt/gc.h"
#include "sched/gmp.h"

namespace rt::detail {

void ref_store(void** slot, void* value) {
  if (__builtin_expect(rt::sched::getg() != nullptr, 1)) {
    *slot = value;
    return;
  }
  PlainGate gate;
  *slot = value;
}

}  // namespace rt::detail
