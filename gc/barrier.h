// The barrier entry points the runtime's own structures use (the Ref and
// Root store barrier is declared with Ref, in rt/ref.h).
//
// A channel moves whole elements between goroutine stacks and its buffer,
// neither of which has a Ref store on the way. While the collector marks,
// each element the channel moves is shaded word by word (conservatively)
// before it moves: that is Go's barrier on typedmemmove into and out of a
// channel buffer and on the direct stack-to-stack hand-off. Shading the
// value that leaves a slot covers deletion (it may be going to a black
// stack); shading the value that enters covers insertion (into a buffer
// already scanned). The caller holds the channel's lock, which keeps a
// goroutine from being stopped between the phase test and the move, and
// a plain thread has entered the collector's gate before taking it.
#pragma once

#include <cstddef>

namespace rt::detail {

// Shades every GC'd object any word of [p, p + n) points into, if the
// collector is marking; nothing otherwise.
void shade_words_barrier(const void* p, size_t n);

// Set while the runtime constructs elements inside one of its own scanned
// buffers (a channel's ring): an rt::Ref constructed there is not the
// misplaced Ref that ref_constructed reports.
inline thread_local int t_scanned_runtime_buffer = 0;
struct ScannedBufferScope {
  ScannedBufferScope() { t_scanned_runtime_buffer++; }
  ~ScannedBufferScope() { t_scanned_runtime_buffer--; }
  ScannedBufferScope(const ScannedBufferScope&) = delete;
  ScannedBufferScope& operator=(const ScannedBufferScope&) = delete;
};

}  // namespace rt::detail
