// Sweeping a span: bringing its allocation bits up to date for the current
// sweep generation.
//
// Today a span's garbage is what explicit frees returned; the collector adds
// its mark bits here (mark_bits become alloc_bits). The sweepgen protocol is
// Go's: a span with sweepgen == heap - 2 needs sweeping; whoever moves it to
// heap - 1 with a CAS owns the sweep; heap means swept.
#pragma once

#include <cstdint>

#include "alloc/mspan.h"

namespace rt::alloc {

// Sweeps `s` for heap sweep generation `sg` if it still needs it. The caller
// owns the span (popped it from an mcentral list). Returns false if the span
// was empty and went back to the heap (then `s` must not be touched again).
bool sweep_span(MSpan* s, uint32_t sg);

}  // namespace rt::alloc
