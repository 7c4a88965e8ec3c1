// Sweeping: freeing the managed objects that marking left white, while the
// program runs, shared between the collecting goroutine and allocators.
//
// After mark termination the phase is kSweep (phase.h): no barrier, but new
// objects are still allocated black. sweep_begin publishes the heap's page
// range, cut into chunks of kSweepChunkPages pages; sweepers claim chunks
// with an atomic cursor (each chunk swept by exactly one) and sweep every
// span that starts in it: the collecting goroutine claims chunks until none
// is left, and while the phase is kSweep each allocating goroutine sweeps
// one chunk per 64 KiB it allocates (Go's proportional sweep), so
// allocation cannot outrun the sweep. Spans stay pinned meanwhile
// (MHeap::begin_span_walk, taken at the start of the cycle): none is
// released or reused under a sweeper.
//
// Sweeping a span, word by word: read the managed bits (acquire) and then
// this cycle's mark bits, so an object allocated meanwhile is either unseen
// or seen marked; managed & ~marked are dead; add up the live slot bytes;
// clear the other epoch's bitmap, which the next cycle will mark into and
// which nobody writes during this one. Each dead object's destructor runs
// (user code, on the sweeping goroutine, outside any pause), its managed
// bit is cleared and its slot goes back through the allocator's
// explicit-free path (local or remote free bits, folded in at the span's
// next reclaim; a large object's span goes back once the pin is gone).
// A small span left with no live object is noted on a list; when every
// chunk is swept, those that no allocator has taken since go back to the
// heap (Go's sweeper frees an emptied span at once; here the pin defers
// that anyway, and until the sweep ends allocation may still reuse them).
// Their pages then count as free, for the memory limit's goal and the
// scavenger, instead of idling on mcentral lists until the heap must grow.
//
// Nothing here runs with the world stopped, so no pause grows with the heap.
#pragma once

#include <cstddef>
#include <cstdint>

namespace rt::collector {

inline constexpr size_t kSweepChunkPages = 64;

struct SweepResult {
  uint64_t live_bytes = 0;
  uint64_t live_objects = 0;
  uint64_t freed_objects = 0;
  uint64_t freed_bytes = 0;  // their slot bytes
  uint64_t destroyed = 0;  // destructor calls (elements)
};

// Starts the sweep for the cycle that marked into bitmap `e` (the collector,
// after mark termination; until then allocators find nothing to claim).
void sweep_begin(uint32_t e);
// Sweeps up to max_chunks unclaimed chunks; returns how many it swept.
size_t sweep_some(size_t max_chunks);
// The collector: sweeps what is left, waits for chunks other goroutines
// claimed, returns the spans the sweep emptied (and nothing has allocated
// from since) to the heap, and returns the cycle's totals.
SweepResult sweep_finish();

}  // namespace rt::collector
