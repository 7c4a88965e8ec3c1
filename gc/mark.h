// Marking: from roots and stacks to every reachable GC'd object, while the
// program runs.
//
// Tri-colour: white = mark bit clear in this cycle's bitmap (phase.h);
// grey = marked and queued on a GcWork (gcwork.h); black = marked and scanned
// (or noscan, or allocated during the cycle). shade() resolves a candidate
// word through the allocator's span table (interior pointers included;
// free slots and raw allocations ignored), sets the mark bit with an atomic
// OR (several markers race; exactly one wins and queues the object) and
// queues scan objects. drain() pops and scans: by the type's pointer map
// when precise, every word when conservative or not yet known. Objects over
// kObletBytes are queued whole once and scanned as 128 KiB oblets, so no
// single work item is unbounded.
//
// Stacks are scanned conservatively, one goroutine at a time while it is
// suspended (suspend_g: parked or runnable ones are claimed, running ones
// stop at a safe point with their registers spilled on their stack), from
// the saved SP (syscall SP in a syscall scope) to the top, plus the
// goroutine's task captures and local-storage slots. The collecting
// goroutine scans its caller's frames and registers (see own_stack_ranges). With the
// hybrid barrier (barrier.cc) a stack is scanned once per cycle: after its
// scan it stays black. Plain threads' stacks are not roots.
//
// Heap words are read with relaxed atomic loads: a mutator may store a Ref
// while a marker reads it, and the barrier has shaded both values.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "gc/gcwork.h"

namespace rt::sched {
struct G;
}

namespace rt::collector {

inline constexpr size_t kObletBytes = 128 << 10;

// Work done this cycle (reset at sweep termination).
struct MarkCounters {
  std::atomic<uint64_t> marked_objects{0};  // shaded (not allocated black)
  std::atomic<uint64_t> marked_bytes{0};    // their slot bytes
  std::atomic<uint64_t> scanned_bytes{0};        // heap scan work
  // The pacer's other scan work: goroutine stacks (with their closures and
  // goroutine-local slots), and Root words plus channel ring bytes.
  std::atomic<uint64_t> stack_scanned_bytes{0};
  std::atomic<uint64_t> globals_scanned_bytes{0};
};
inline MarkCounters g_mark_counters;

// Shades the object holding address w (no-op if none or already marked).
void shade(uintptr_t w, GcWork* gw);
void scan_range(uintptr_t lo, uintptr_t hi, GcWork* gw);  // conservative

// Pops and scans work items until about budget_bytes were scanned or no
// work is left (locally or globally). Returns the bytes scanned.
// `yield`: poll for preemption between objects (goroutines only; the P may
// change: the GcWork is re-fetched).
size_t drain(GcWork* gw, size_t budget_bytes);
size_t drain_preemptible(size_t budget_bytes);

void mark_roots(GcWork* gw);
// Buffered channels' rings (chan/chanscan.cc); not under a work-list lock:
// it takes channel locks.
void mark_chan_buffers();
// Suspends g (not the caller), reports the memory ranges to scan
// conservatively (its stack from the saved SP, its task's captures and its
// local-storage slots), resumes it. False if it was dead.
using RangeFn = void (*)(uintptr_t lo, uintptr_t hi, void* ctx);
bool goroutine_ranges(sched::G* g, RangeFn fn, void* ctx);
// The same for the collecting goroutine: from the floor its entry into the
// collector recorded (with its caller's registers spilled below it) to
// the top. The collector's own frames below the floor are not scanned:
// they hold stale words (span and slot addresses from earlier sweeps)
// that would keep arbitrary objects alive.
void set_own_stack_floor(uintptr_t lo);
void own_stack_ranges(RangeFn fn, void* ctx);
// Scans every goroutine but the caller, one at a time, each while
// suspended; goroutines created during the walk need no scan (newproc
// shades their tasks while marking).
void scan_goroutines();
// The calling goroutine's stack and registers (nothing on a plain thread).
void mark_own_stack(GcWork* gw);
// Called by newproc (through a scheduler hook) for every new goroutine:
// while marking, its task's captures are shaded (its stack starts black).
void shade_new_goroutine(sched::G* g);

}  // namespace rt::collector
