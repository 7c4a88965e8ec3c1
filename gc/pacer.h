// The pacer: when the next cycle starts and how hard allocation pays for
// marking (Go's gcControllerState, go1.19 mgcpacer.go).
//
// Heap live (Go's heapLive) is the bytes of make() since the last mark
// termination plus what that termination found live; it only grows
// between terminations (sweeping does not lower it).
//
// Goal. After each cycle (commit):
//   goal = marked + (marked + stack scan + globals scan) x GOGC/100,
//   at least 4 MiB x GOGC/100,
// where marked is what marking found live plus what was allocated (black)
// during the mark, stack scan the goroutine stack bytes the cycle scanned,
// globals scan the Root words and channel ring bytes it scanned. With a
// memory limit the goal is also capped, at every reading, so that the
// runtime's total memory (sys - heap released, Go's mappedReady) stays
// under the limit: limit - (non-heap memory + any overage) - 1 MiB, never
// below marked (Go's memoryLimitHeapGoal). GOGC=off leaves only that cap.
//
// Trigger. The cons/mark ratio (allocation rate over scan rate, measured
// per cycle; the estimate is the largest of the last five measurements,
// Go 1.21's smoothing) gives the runway: the bytes
// the program allocates while the next cycle scans its expected work at
// 25% utilisation. trigger = goal - runway, clamped to 70%..95% of the way
// from marked to goal (95%: at most goal - 4 MiB for big heaps), and
// at most goal - (GOMAXPROCS + 1) allocation batches: what the heap can
// pass the trigger by, unseen, before the cycle begins.
//
// Assist ratio (Go's revise): while marking, a goroutine owes
//   (expected scan work - work done) / (goal - heap live)
// units of scan work per byte it allocates; past the expected work the
// goal is stretched towards Go's hard goal (goal x (1 + GOGC/100)), past
// the goal by 10%, but here never past the bound: 5% over the goal, less
// the trigger's batch reserve. Past the bound every byte owes all the
// remaining work (a goroutine that finds none parks until marking ends).
// So heap live stays within 5% of the goal, where Go's may reach the hard
// goal, unless the CPU limiter turns assists off, or more threads allocate
// at once than the reserve has batches for (each adds its last batch
// before it assists; plain threads and allocation inside runtime locks
// never assist). The stretch is in proportion to the worst case: the
// scannable heap when the cycle started (objects allocated during the mark
// are black and never scanned) plus stacks and globals. Go counts the
// scannable heap live at each reading, which grows with the mark's own
// allocation; a steady heap then stretches a cycle that finds a little
// more work than the last by the whole runway's worth.
#pragma once

#include <cstddef>
#include <cstdint>

namespace rt::collector::pacer {

inline constexpr int64_t kNoLimit = INT64_MAX;
// Each thread tells the pacer about its allocation in batches of this many
// bytes (collector.cc): heap live lags the real heap by up to one batch
// per thread, and the trigger keeps that much room below the goal.
inline constexpr uint64_t kAllocFlushBytes = uint64_t{64} << 10;

// Settings (RT_GOGC / RT_MEMLIMIT at first use). Setters return the old
// value and recompute the goal; set_memory_limit with a negative argument
// only reads.
int gc_percent();
int set_gc_percent(int percent);
int64_t memory_limit();
int64_t set_memory_limit(int64_t bytes);

// Heap live, bytes, of which `scan_bytes` in objects that hold pointers
// (Go's heapScan: the most the next cycle can have to scan).
void note_alloc(uint64_t bytes, uint64_t scan_bytes);
uint64_t heap_live();
// The sweep freed `bytes` of dead objects (slot bytes). Until the sweep
// reaches them, the dead objects marking left still occupy the heap; the
// memory limit's goal counts them as heap, not as memory beside it.
void note_swept(uint64_t bytes);

// The goal now (with the memory limit's cap at this moment); UINT64_MAX
// when neither GOGC nor a limit bounds the heap.
uint64_t heap_goal();
// The trigger for that goal; UINT64_MAX = never.
uint64_t trigger();
// Should an allocation start a cycle now?
bool test_trigger();

// Runtime memory now (Go's mappedReady: sys - heap released) and whether
// it exceeds the memory limit by more than a scavenge quantum; `excess`
// receives the bytes over.
uint64_t mapped_ready();
bool over_memory_limit(uint64_t* excess);

// Cycle transitions, called by the collector. start_cycle at sweep
// termination (world stopped).
void start_cycle(int64_t now);
struct MarkResult {
  uint64_t marked_bytes = 0;   // marked by the scan (not allocated black)
  uint64_t heap_scan = 0;      // scan work: heap bytes scanned
  uint64_t stack_scan = 0;     // stack bytes scanned
  uint64_t globals_scan = 0;   // Root words and channel ring bytes
  int64_t assist_ns = 0;       // mark CPU of this cycle by kind
  int64_t background_ns = 0;
  int32_t procs = 1;
  int64_t now = 0;
  bool forced = false;         // rt::gc(): not a sample of the allocation rate
};
// At mark termination (world stopped): measures cons/mark, resets heap
// live to the marked heap, commits the next goal and trigger.
void end_cycle(const MarkResult& r);
// The goal that was in force during the cycle in progress or just ended
// (the gctrace goal) and the heap live at its mark termination.
uint64_t cycle_goal();
uint64_t cycle_triggered();  // heap live when the cycle started
uint64_t cycle_heap_live_at_termination();
int64_t last_cycle_end_ns();  // nanotime of the last mark termination; 0 = none

// Scan work per byte allocated and its inverse, now (Go's
// assistWorkPerByte / assistBytesPerWork). Only meaningful while marking.
void assist_ratios(double* work_per_byte, double* bytes_per_work);

// The background scavenger's retained-heap goal from the pacer: 110% of
// the goal's need, or what the limit leaves; 0 when nothing bounds it.
size_t scavenge_goal_bytes();

// Per-cycle figures for tests (a ring of the last kHistory cycles).
struct CycleSummary {
  uint64_t triggered = 0;       // heap live when the cycle started
  uint64_t heap_live_end = 0;   // heap live at mark termination
  uint64_t goal = 0;            // the goal in force during the cycle
  uint64_t heap_marked = 0;     // marked + allocated black
  uint64_t next_goal = 0;
  uint64_t next_trigger = 0;
  double cons_mark = 0;
};
inline constexpr int kHistory = 256;
// Copies up to `max` most recent summaries, oldest first; returns how many
// cycles ended in total (so callers can tell which are new).
uint64_t recent_cycles(CycleSummary* out, int max, int* n);

}  // namespace rt::collector::pacer
