// Finalizers (Go's SetFinalizer): the table of registered finalizers, the
// queue of those due, and the finalizer goroutine that runs them.
//
// A registered object is not a root, but what it points at is: mark_roots
// scans each registered object's payload (not the object itself) and the
// finalizer's captures, so when the object dies everything its finalizer
// may touch is still marked. After mark termination (phase kSweep, before
// sweeping starts and after weak pointers are cleared),
// queue_dead_finalizers takes every registered object left unmarked, sets
// its mark bit (it survives this cycle; its referents are marked already)
// and moves it to the queue, which is a root (object and captures) until
// its finalizer has run on the finalizer goroutine. The object is freed by
// a later cycle if nothing reaches it then. Both passes walk the finalizer
// table, not the heap, and run outside any pause.
#pragma once

#include <cstdint>

#include "gc/gcwork.h"

namespace rt::collector {

// While marking: shade what registered and queued finalizers reach.
void mark_finalizer_roots(GcWork* gw);
// After mark termination: queue the finalizers of unmarked objects
// (resurrecting them); returns how many were queued.
uint64_t queue_dead_finalizers(uint32_t e);
// Finalizers run so far.
uint64_t finalizers_run();

}  // namespace rt::collector
