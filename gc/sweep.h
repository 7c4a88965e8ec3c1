// Sweeping: freeing the managed objects that marking left white, while the
// program runs.
//
// After mark termination the phase is kSweep (phase.h): no barrier, but new
// objects are still allocated black. sweep_heap walks every in-use span of
// the heap (the page -> span table) under a span walk pin (MHeap::
// begin_span_walk: no span is released or reused under it; the collector
// holds it from the start of the cycle) and, word by word: reads the
// managed bits (acquire) and then this cycle's mark bits, so an object
// allocated meanwhile is either unseen or seen marked; takes managed &
// ~marked as dead; adds up the live slot bytes; and clears the other
// epoch's bitmap, which the next cycle will mark into and which nobody
// writes during this one. Each dead object's destructor runs (on the
// sweeping goroutine, user code, outside any pause), its managed bit is
// cleared and its slot goes back through the allocator's explicit-free
// path (local or remote free bits, folded in at the span's next reclaim;
// a large object's span goes back to the page heap once the pin is gone).
//
// Nothing here runs with the world stopped, so no pause grows with the heap.
#pragma once

#include <cstdint>

namespace rt::collector {

struct SweepResult {
  uint64_t live_bytes = 0;
  uint64_t live_objects = 0;
  uint64_t freed_objects = 0;
  uint64_t destroyed = 0;  // destructor calls (elements)
};

// Sweeps the whole heap for the cycle that marked into bitmap `e`.
SweepResult sweep_heap(uint32_t e);

}  // namespace rt::collector
