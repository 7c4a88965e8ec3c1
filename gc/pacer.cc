// The pacer: heap goal, trigger and assist ratio. See pacer.h.
#include "gc/pacer.h"

#include <algorithm>
#include <atomic>
#include <climits>

#include "alloc/mheap.h"
#include "gc/mark.h"
#include "runtime/env.h"
#include "runtime/lock.h"
#include "sched/gmp.h"
#include "sched/stack.h"

namespace rt::collector::pacer {

namespace {

constexpr uint64_t kHeapMinimum = uint64_t{4} << 20;  // at GOGC=100
constexpr uint64_t kLimitHeadroom = uint64_t{1} << 20;
constexpr uint64_t kTriggerDen = 64;
constexpr uint64_t kMinTriggerNum = 45;  // ~0.70 of the way from marked to goal
constexpr uint64_t kMaxTriggerNum = 61;  // ~0.95
constexpr double kGoalUtilization = 0.25;
constexpr double kMaxOvershoot = 1.05;  // the heap's bound while marking, x goal
constexpr double kRetainExtra = 1.10;      // the scavenger keeps 110% of the goal
constexpr double kLimitReduceExtra = 0.95;  // ... or 95% of the limit

// Settings; INT_MIN / 0 until read from the environment.
std::atomic<int> g_percent{INT_MIN};
std::atomic<int64_t> g_limit{0};

std::atomic<uint64_t> g_heap_live{0};
// The scannable part of heap live: reset with it at mark termination to
// what the cycle scanned plus its scannable black allocation.
std::atomic<uint64_t> g_heap_scan_live{0};
std::atomic<uint64_t> g_scan_at_start{0};  // g_heap_scan_live at sweep termination
// Dead bytes the last mark left that the sweep has not freed yet: set at
// mark termination (heap live then, less marked), lowered by note_swept;
// may dip below 0 (heap live counts whole batches), read clamped.
std::atomic<int64_t> g_unswept_dead{0};
// Committed after each cycle (and on a setting change), read lock-free.
std::atomic<uint64_t> g_heap_marked{0};
std::atomic<uint64_t> g_percent_goal{0};
std::atomic<bool> g_committed{false};  // g_percent_goal is set
std::atomic<uint64_t> g_runway{0};
std::atomic<uint64_t> g_expected_scan{0};      // last heap + stack + globals scan
std::atomic<uint64_t> g_last_stack_globals{0}; // last stack + globals scan
std::atomic<uint64_t> g_triggered{0};
std::atomic<uint64_t> g_cycle_goal{0};
std::atomic<uint64_t> g_live_at_term{0};
std::atomic<int64_t> g_last_end{0};

rt::detail::Lock g_lock;  // guards what follows and commits
double g_cons_mark = 0;
// The last measurements: the estimate is their maximum (Go 1.21's
// smoothing; 1.19's PI controller swings to 0 on noisy short cycles,
// which puts the trigger at 95% of the runway and the heap over its goal).
double g_last_cons_mark[4] = {};
int64_t g_mark_start = 0;
uint64_t g_last_heap_scan = 0, g_last_stack_scan = 0, g_globals_scan = 0;
CycleSummary g_history[kHistory];
uint64_t g_cycles = 0;

void ensure_settings() {
  if (g_percent.load(std::memory_order_acquire) != INT_MIN) return;
  const rt::detail::Config& c = rt::detail::config();
  int expected = INT_MIN;
  int64_t lim = c.memlimit ? *c.memlimit : kNoLimit;
  int64_t zero = 0;
  g_limit.compare_exchange_strong(zero, lim, std::memory_order_relaxed);
  g_percent.compare_exchange_strong(expected, c.gogc, std::memory_order_acq_rel);
}

uint64_t heap_minimum(int percent) { return kHeapMinimum * static_cast<uint64_t>(percent) / 100; }

// Recomputes the GOGC goal and the runway. Caller holds g_lock.
void commit_locked() {
  int percent = gc_percent();
  uint64_t marked = g_heap_marked.load(std::memory_order_relaxed);
  uint64_t goal = UINT64_MAX;
  if (percent >= 0) {
    goal = marked + (marked + g_last_stack_scan + g_globals_scan) * static_cast<uint64_t>(percent) / 100;
    goal = std::max(goal, heap_minimum(percent));
  }
  g_percent_goal.store(goal, std::memory_order_relaxed);
  g_committed.store(true, std::memory_order_release);
  uint64_t expected = g_last_heap_scan + g_last_stack_scan + g_globals_scan;
  g_expected_scan.store(expected, std::memory_order_relaxed);
  g_last_stack_globals.store(g_last_stack_scan + g_globals_scan, std::memory_order_relaxed);
  double runway = g_cons_mark * (1 - kGoalUtilization) / kGoalUtilization * static_cast<double>(expected);
  g_runway.store(runway <= 0 ? 0 : static_cast<uint64_t>(std::min(runway, 1e18)), std::memory_order_relaxed);
}

uint64_t percent_goal() {
  if (g_committed.load(std::memory_order_acquire)) return g_percent_goal.load(std::memory_order_relaxed);
  rt::detail::LockGuard lk(g_lock);
  if (!g_committed.load(std::memory_order_relaxed)) commit_locked();
  return g_percent_goal.load(std::memory_order_relaxed);
}

struct Memory {
  uint64_t mapped = 0;     // sys - heap released
  uint64_t heap_free = 0;  // free heap pages not released
  uint64_t heap_inuse = 0;
  uint64_t nonheap_fixed = 0;  // stacks + span metadata
};

Memory read_memory() {
  Memory m;
  rt::sched::StackStats ss = rt::sched::stack_stats();
  m.nonheap_fixed = ss.in_use_bytes + ss.pooled_bytes;
  if (rt::alloc::MHeap::initialized()) {
    rt::alloc::MHeap::PageStats st = rt::alloc::MHeap::get().page_stats();
    uint64_t released = st.released + st.cached_released;
    uint64_t retained = st.sys > released ? st.sys - released : 0;
    m.heap_inuse = st.inuse;
    m.heap_free = retained > st.inuse ? retained - st.inuse : 0;
    m.nonheap_fixed += st.span_meta;
    m.mapped = retained + m.nonheap_fixed;
  } else {
    m.mapped = m.nonheap_fixed;
  }
  return m;
}

// Go's memoryLimitHeapGoal: the heap the limit leaves after everything
// else the runtime holds, less any overage and 1 MiB of headroom.
uint64_t memory_limit_goal(int64_t limit_signed) {
  uint64_t limit = static_cast<uint64_t>(std::max<int64_t>(limit_signed, 0));
  uint64_t marked = g_heap_marked.load(std::memory_order_relaxed);
  Memory m = read_memory();
  // Heap object bytes: heap live and the dead objects the sweep has not
  // freed yet (Go's heapAlloc counts them too), at most the in-use spans
  // (the rest of those spans is fragmentation, which counts as non-heap
  // memory). Without the dead, the goal would drop to the marked heap
  // during every sweep and start the next cycle at once.
  int64_t dead = std::max<int64_t>(g_unswept_dead.load(std::memory_order_relaxed), 0);
  uint64_t heap_alloc = std::min(heap_live() + static_cast<uint64_t>(dead), m.heap_inuse);
  uint64_t nonheap = m.mapped - std::min(m.mapped, m.heap_free + heap_alloc);
  uint64_t overage = m.mapped > limit ? m.mapped - limit : 0;
  if (nonheap + overage >= limit) return marked;
  uint64_t goal = limit - (nonheap + overage);
  goal = goal < 2 * kLimitHeadroom ? kLimitHeadroom : goal - kLimitHeadroom;
  return std::max(goal, marked);
}

// Moves a counter that others add to concurrently from `from` to `to`.
void rebase(std::atomic<uint64_t>& counter, uint64_t from, uint64_t to) {
  if (from > to) {
    counter.fetch_sub(from - to, std::memory_order_relaxed);
  } else {
    counter.fetch_add(to - from, std::memory_order_relaxed);
  }
}

// The allocation the pacer may not have seen when the heap reaches the
// trigger: a batch per P, and one more while the cycle starts.
uint64_t batch_reserve() {
  auto procs = static_cast<uint64_t>(std::max(rt::sched::gomaxprocs_n.load(std::memory_order_relaxed), 1));
  return (procs + 1) * kAllocFlushBytes;
}

uint64_t trigger_for(uint64_t goal) {
  if (goal == UINT64_MAX) return UINT64_MAX;
  uint64_t marked = g_heap_marked.load(std::memory_order_relaxed);
  if (marked >= goal) return goal;
  uint64_t span = goal - marked;
  uint64_t min_trigger = marked + span / kTriggerDen * kMinTriggerNum;
  uint64_t max_trigger = marked + span / kTriggerDen * kMaxTriggerNum;
  if (goal > kHeapMinimum && goal - kHeapMinimum > max_trigger) max_trigger = goal - kHeapMinimum;
  uint64_t reserve = batch_reserve();
  if (goal > reserve) max_trigger = std::min(max_trigger, goal - reserve);
  max_trigger = std::max(max_trigger, min_trigger);
  uint64_t runway = g_runway.load(std::memory_order_relaxed);
  uint64_t t = runway > goal ? min_trigger : goal - runway;
  return std::clamp(t, min_trigger, max_trigger);
}

}  // namespace

int gc_percent() {
  ensure_settings();
  return g_percent.load(std::memory_order_relaxed);
}

int set_gc_percent(int percent) {
  ensure_settings();
  if (percent < 0) percent = -1;
  rt::detail::LockGuard lk(g_lock);
  int old = g_percent.exchange(percent, std::memory_order_relaxed);
  commit_locked();
  return old;
}

int64_t memory_limit() {
  ensure_settings();
  return g_limit.load(std::memory_order_relaxed);
}

int64_t set_memory_limit(int64_t bytes) {
  ensure_settings();
  if (bytes < 0) return g_limit.load(std::memory_order_relaxed);
  rt::detail::LockGuard lk(g_lock);
  int64_t old = g_limit.exchange(bytes, std::memory_order_relaxed);
  commit_locked();
  return old;
}

void note_alloc(uint64_t bytes, uint64_t scan_bytes) {
  g_heap_live.fetch_add(bytes, std::memory_order_relaxed);
  if (scan_bytes != 0) g_heap_scan_live.fetch_add(scan_bytes, std::memory_order_relaxed);
}

uint64_t heap_live() { return g_heap_live.load(std::memory_order_relaxed); }

void note_swept(uint64_t bytes) {
  if (bytes != 0) g_unswept_dead.fetch_sub(static_cast<int64_t>(bytes), std::memory_order_relaxed);
}

uint64_t heap_goal() {
  uint64_t goal = percent_goal();
  int64_t limit = memory_limit();
  if (limit != kNoLimit) goal = std::min(goal, memory_limit_goal(limit));
  return goal;
}

uint64_t trigger() { return trigger_for(heap_goal()); }

bool test_trigger() {
  if (gc_percent() < 0 && memory_limit() == kNoLimit) return false;
  // The cheap test first: below the GOGC trigger and no limit, no cycle.
  uint64_t live = heap_live();
  if (memory_limit() == kNoLimit) return live >= trigger_for(percent_goal());
  return live >= trigger();
}

uint64_t mapped_ready() { return read_memory().mapped; }

bool over_memory_limit(uint64_t* excess) {
  int64_t limit = memory_limit();
  if (limit == kNoLimit) return false;
  uint64_t mapped = mapped_ready();
  uint64_t lim = static_cast<uint64_t>(std::max<int64_t>(limit, 0));
  if (mapped <= lim) return false;
  *excess = mapped - lim;
  return true;
}

void start_cycle(int64_t now) {
  uint64_t goal = heap_goal();  // before g_lock: the first reading commits
  rt::detail::LockGuard lk(g_lock);
  g_mark_start = now;
  g_triggered.store(heap_live(), std::memory_order_relaxed);
  g_scan_at_start.store(g_heap_scan_live.load(std::memory_order_relaxed), std::memory_order_relaxed);
  g_cycle_goal.store(goal, std::memory_order_relaxed);
  g_mark_counters.stack_scanned_bytes.store(0, std::memory_order_relaxed);
  g_mark_counters.globals_scanned_bytes.store(0, std::memory_order_relaxed);
}

void end_cycle(const MarkResult& r) {
  rt::detail::LockGuard lk(g_lock);
  uint64_t live_end = heap_live();
  uint64_t triggered = g_triggered.load(std::memory_order_relaxed);
  // Allocated during the mark: black, live for this cycle.
  uint64_t alloc_black = live_end > triggered ? live_end - triggered : 0;
  uint64_t marked = r.marked_bytes + alloc_black;
  uint64_t work = r.heap_scan + r.stack_scan + r.globals_scan;
  int64_t duration = r.now - g_mark_start;
  double before = g_cons_mark;
  // Go's cons/mark: allocation per unit of mutator CPU over scan work per
  // unit of GC CPU, with the mark CPU this cycle actually used. Forced
  // cycles say nothing about the allocation rate.
  if (!r.forced && duration > 0 && work > 0 && live_end > triggered) {
    double u = static_cast<double>(r.assist_ns + r.background_ns) /
               (static_cast<double>(duration) * std::max(r.procs, 1));
    u = std::clamp(u, 0.05, 0.95);
    double current = static_cast<double>(live_end - triggered) * u / (static_cast<double>(work) * (1 - u));
    g_cons_mark = current;
    for (double c : g_last_cons_mark) g_cons_mark = std::max(g_cons_mark, c);
    std::copy(g_last_cons_mark + 1, g_last_cons_mark + 4, g_last_cons_mark);
    g_last_cons_mark[3] = current;
  }
  // Heap live restarts from the marked heap, its scannable part from what
  // was scanned plus the scannable black allocation (concurrent allocation
  // keeps adding to both: they move by the difference).
  rebase(g_heap_live, live_end, marked);
  // The world is stopped and the last sweep is over: nothing else writes it.
  g_unswept_dead.store(live_end > marked ? static_cast<int64_t>(live_end - marked) : 0, std::memory_order_relaxed);
  uint64_t scan_end = g_heap_scan_live.load(std::memory_order_relaxed);
  uint64_t scan_start = g_scan_at_start.load(std::memory_order_relaxed);
  rebase(g_heap_scan_live, scan_end, r.heap_scan + (scan_end > scan_start ? scan_end - scan_start : 0));
  g_live_at_term.store(live_end, std::memory_order_relaxed);
  g_heap_marked.store(marked, std::memory_order_relaxed);
  g_last_heap_scan = r.heap_scan;
  g_last_stack_scan = r.stack_scan;
  g_globals_scan = r.globals_scan;
  g_last_end.store(r.now, std::memory_order_relaxed);
  commit_locked();
  CycleSummary& s = g_history[g_cycles % kHistory];
  s.triggered = triggered;
  s.heap_live_end = live_end;
  s.goal = g_cycle_goal.load(std::memory_order_relaxed);
  s.heap_marked = marked;
  s.next_goal = heap_goal();
  s.next_trigger = trigger_for(s.next_goal);
  s.cons_mark = before;
  g_cycles++;
}

uint64_t cycle_goal() { return g_cycle_goal.load(std::memory_order_relaxed); }
uint64_t cycle_triggered() { return g_triggered.load(std::memory_order_relaxed); }
uint64_t cycle_heap_live_at_termination() { return g_live_at_term.load(std::memory_order_relaxed); }
int64_t last_cycle_end_ns() { return g_last_end.load(std::memory_order_relaxed); }

void assist_ratios(double* work_per_byte, double* bytes_per_work) {
  int percent = gc_percent();
  if (percent < 0) percent = 100000;  // Go's stand-in for "no GOGC goal"
  uint64_t live = heap_live();
  uint64_t work = g_mark_counters.scanned_bytes.load(std::memory_order_relaxed) +
                  g_mark_counters.stack_scanned_bytes.load(std::memory_order_relaxed) +
                  g_mark_counters.globals_scanned_bytes.load(std::memory_order_relaxed);
  int64_t goal = static_cast<int64_t>(
      std::min<uint64_t>(memory_limit() == kNoLimit ? cycle_goal() : heap_goal(), INT64_MAX / 4));
  int64_t triggered = static_cast<int64_t>(g_triggered.load(std::memory_order_relaxed));
  int64_t expected = static_cast<int64_t>(g_expected_scan.load(std::memory_order_relaxed));
  // Worst case: every scannable object that was there when the mark began
  // (later ones are black) and the stacks and globals.
  int64_t max_work = static_cast<int64_t>(g_scan_at_start.load(std::memory_order_relaxed) +
                                          g_last_stack_globals.load(std::memory_order_relaxed));
  // Products of the goal are formed in double and clamped before the
  // cast: with GOGC off and no limit the goal stands at INT64_MAX / 4.
  auto to_bytes = [](double x) { return static_cast<int64_t>(std::min(x, static_cast<double>(INT64_MAX / 2))); };
  // The most the heap may reach while marking (see pacer.h).
  int64_t bound = std::max(goal, to_bytes(static_cast<double>(goal) * kMaxOvershoot) -
                                     static_cast<int64_t>(batch_reserve()));
  if (static_cast<int64_t>(work) > expected) {
    // More work than expected: stretch the goal in proportion, up to the
    // hard goal, and expect the worst case.
    if (expected > 0 && goal > triggered) {
      int64_t ext = to_bytes(static_cast<double>(goal - triggered) / static_cast<double>(expected) *
                                 static_cast<double>(max_work) + static_cast<double>(triggered));
      int64_t hard = to_bytes((1.0 + percent / 100.0) * static_cast<double>(goal));
      goal = std::min({ext, hard, bound});
    }
    expected = max_work;
  }
  if (static_cast<int64_t>(live) > goal) {
    goal = bound;
    expected = max_work;
  }
  // Until marking is over, assume at least 5% of the expected work is left
  // (Go's floor is 1000 units): near the end of the estimate the ratio
  // would otherwise let a little credit pay for most of the runway while
  // mark termination is still to come.
  int64_t work_left = std::max<int64_t>(expected - static_cast<int64_t>(work), std::max<int64_t>(1000, expected / 20));
  int64_t heap_left = std::max<int64_t>(goal - static_cast<int64_t>(live), 1);
  *work_per_byte = static_cast<double>(work_left) / static_cast<double>(heap_left);
  *bytes_per_work = static_cast<double>(heap_left) / static_cast<double>(work_left);
}

size_t scavenge_goal_bytes() {
  uint64_t goal = 0;
  uint64_t pg = percent_goal();
  if (pg != UINT64_MAX) goal = static_cast<uint64_t>(static_cast<double>(pg) * kRetainExtra);
  int64_t limit = memory_limit();
  if (limit != kNoLimit) {
    Memory m = read_memory();
    double room = static_cast<double>(limit) * kLimitReduceExtra - static_cast<double>(m.nonheap_fixed);
    uint64_t lim_goal = room <= 0 ? 1 : static_cast<uint64_t>(room);
    goal = goal == 0 ? lim_goal : std::min(goal, lim_goal);
  }
  return static_cast<size_t>(goal);
}

uint64_t recent_cycles(CycleSummary* out, int max, int* n) {
  rt::detail::LockGuard lk(g_lock);
  uint64_t avail = std::min<uint64_t>(g_cycles, kHistory);
  uint64_t take = std::min<uint64_t>(avail, static_cast<uint64_t>(std::max(max, 0)));
  for (uint64_t i = 0; i < take; i++) out[i] = g_history[(g_cycles - take + i) % kHistory];
  *n = static_cast<int>(take);
  return g_cycles;
}

}  // namespace rt::collector::pacer
