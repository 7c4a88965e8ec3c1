// The collector: concurrent tri-colour mark-sweep cycles, triggered by
// allocation or run by rt::gc().
//
// A cycle (run_cycle), one at a time (the collector semaphore):
//  1. rotate sync.Pool caches; pin spans (no span released until the end).
//  2. Sweep termination, world stopped: flip the mark epoch (phase.h), turn
//     on the write barrier and allocate-black (phase kMark). Constant work.
//  3. Concurrent mark: the Root set, the caller's own stack, then every
//     goroutine's stack one at a time (mark.h); mark workers (system
//     goroutines, 25% of GOMAXPROCS, at least one), the collecting
//     goroutine and assisting allocators drain the grey lists.
//  4. Mark termination, world stopped: move every P's leftover work to the
//     global list and drain it within a small budget; if work remains,
//     restart the world and go back to 3 (counted as a retry). Otherwise
//     marking is complete: RT_DEBUG=gccheckmark=1 verifies it here
//     (checkmark.h); the phase becomes kSweep.
//  5. Concurrent sweep (sweep.h) by the collecting goroutine and, one
//     chunk per 64 KiB they allocate, by allocating goroutines; then phase
//     kOff, spans unpinned, the next trigger set, statistics recorded.
// Each pause is timed from the stop request to the world running again.
// After 5 the cycle hands its record (pause timestamps, mark CPU, heap
// figures) to gcaccount.h, which keeps MemStats' GC fields and prints the
// gctrace line; assists and mark drains are timed for it (MarkCpuSpan).
//
// RT_DEBUG=gcstoptheworld=1 runs 3 and 4 inside the first pause (one long
// stop, no concurrency): the reference the concurrent mode is checked
// against.
//
// Trigger (a stand-in for the pacer): make() counts the bytes it allocates
// (per thread, flushed every 64 KiB); when the bytes since the last cycle
// reach max(4 MiB, marked x GOGC/100) (marked: the bytes the last mark
// found reachable), a background goroutine runs a cycle.
// While marking, each flush makes the allocating goroutine assist: it
// scans twice the bytes it allocated before it allocates, up to 32 times
// that as allocation runs past the trigger. Plain threads neither trigger
// nor assist; RT_GOGC=off turns triggering off.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace rt::collector {

void collect();
void account_allocation(size_t bytes);
// The trigger in bytes (for tests); 0 = off.
uint64_t trigger_bytes();
// Overrides RT_DEBUG's gcstoptheworld / gccheckmark (for tests; -1 keeps
// the current value). Takes effect at the next cycle.
void set_debug_modes(int stoptheworld, int checkmark);
// Test hook: an object whose mark bit mark termination clears before
// gccheckmark verifies (to see the verifier catch a marking bug).
inline std::atomic<void*> g_test_unmark_before_verify{nullptr};

}  // namespace rt::collector
