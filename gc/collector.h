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
// Pacing (pacer.h decides, this file asks): make() counts the slot bytes it
// allocates (per thread, told to the pacer every 64 KiB); with the phase
// off, a flush that finds heap live at the pacer's trigger wakes a
// background goroutine that runs a cycle. While marking, each flush makes
// the goroutine pay its assist debt (assist.h); while the GC CPU limiter
// is on (cpulimit.h) nobody assists and the collecting goroutine leaves
// marking to the workers. Over the memory limit, each flush first returns
// free pages to the OS. sysmon starts a cycle when none ran for 2 minutes
// (Go's forcegcperiod; not with GOGC=off) and updates the limiter. The
// cycle hands the pacer its mark results at mark termination; after the
// sweep the scavenger's goal follows the pacer's. Plain threads neither
// trigger nor assist.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace rt::collector {

void collect();
// make() of `bytes` (scan: the object holds pointers): tells the pacer in
// 64 KiB batches per thread, and pays assists / starts cycles there.
void account_allocation(size_t bytes, bool scan);
// The heap-live trigger in bytes (for tests); 0 = off.
uint64_t trigger_bytes();
// sysmon's forced-cycle period (Go's forcegcperiod, 2 minutes); ns <= 0
// restores it. For tests.
void set_force_gc_period_for_test(int64_t ns);
// Overrides RT_DEBUG's gcstoptheworld / gccheckmark (for tests; -1 keeps
// the current value). Takes effect at the next cycle.
void set_debug_modes(int stoptheworld, int checkmark);
// Test hook: an object whose mark bit mark termination clears before
// gccheckmark verifies (to see the verifier catch a marking bug).
inline std::atomic<void*> g_test_unmark_before_verify{nullptr};

}  // namespace rt::collector
