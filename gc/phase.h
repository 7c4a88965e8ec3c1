// The collector's phase and mark epoch, read on every barriered store and
// every allocation of a GC'd object.
//
// Phases of a cycle (collector.cc):
//   kOff    no cycle: the barrier and the allocator do nothing extra.
//   kMark   concurrent mark: the write barrier shades old and new targets,
//           new objects are allocated black.
//   kSweep  concurrent sweep: no barrier, but new objects are still
//           allocated black, so the sweeper (which frees managed slots whose
//           mark bit is clear) never frees an object made after marking.
//
// Two mark bitmaps per span alternate by cycle (MSpan::gc_marks[epoch]):
// cycle N marks into bitmap N % 2; its sweep reads that bitmap and clears
// the other one, which nobody writes while the epoch is N % 2. So every
// cycle starts with its bitmap all zero without clearing anything in a
// pause, and a late allocate-black bit can never outlive its cycle's sweep
// into a later mark.
//
// The phase changes only with the world stopped and the plain-thread gate
// closed (kOff -> kMark at sweep termination, kMark -> kSweep at mark
// termination), except kSweep -> kOff at the end of the sweep, which is
// safe unordered: an allocation that still sees kSweep only sets a bit in a
// bitmap the next sweep clears. Goroutines read the state inside librt
// functions with no safe point between the read and its use, so no stop
// separates them; plain threads pass the gate.
#pragma once

#include <atomic>
#include <cstdint>

#include "alloc/mspan.h"

namespace rt::collector {

enum Phase : uint32_t { kOff = 0, kMark = 1, kSweep = 2 };

// Low 2 bits: Phase; bit 2: the epoch (which mark bitmap this cycle uses).
// Relaxed reads suffice: writers are ordered against every reader by the
// stop-the-world (goroutines) or the gate's seq_cst handshake (plain
// threads).
inline std::atomic<uint32_t> g_gcstate{0};

// Sweep terminations so far: bumped by each cycle with the world stopped
// (begin_mark). A P's tiny block (heapobj.cc) from an earlier count is
// abandoned: it may be unmarked, and an object carved from it during
// marking would not be allocated black. Relaxed, as g_gcstate.
inline std::atomic<uint32_t> g_cycle_starts{0};

inline Phase phase() { return static_cast<Phase>(g_gcstate.load(std::memory_order_relaxed) & 3); }
inline bool marking() { return phase() == kMark; }
inline uint32_t epoch() { return (g_gcstate.load(std::memory_order_relaxed) >> 2) & 1; }

inline std::atomic<uint64_t>* marks_of(const alloc::MSpan* s, uint32_t e) { return s->gc_marks[e]; }
inline std::atomic<uint64_t>* marks_of(const alloc::MSpan* s) { return s->gc_marks[epoch()]; }

}  // namespace rt::collector
