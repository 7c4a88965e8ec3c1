// The collector's cycle, its mark workers, assists and trigger. See
// collector.h.
#include "gc/collector.h"

#include <sched.h>
#include <setjmp.h>

#include <algorithm>
#include <atomic>

#include "alloc/mheap.h"
#include "alloc/scavenger.h"
#include "alloc/sizeclasses.h"
#include "gc/assist.h"
#include "gc/checkmark.h"
#include "gc/cpulimit.h"
#include "gc/finalizer.h"
#include "gc/gate.h"
#include "gc/gcaccount.h"
#include "gc/heapobj.h"
#include "gc/idlemark.h"
#include "gc/mark.h"
#include "gc/pacer.h"
#include "gc/phase.h"
#include "gc/sweep.h"
#include "gc/weak.h"
#include "gc/gcwork.h"
#include "rt/gc.h"
#include "rt/sync.h"
#include "runtime/env.h"
#include "runtime/fatal.h"
#include "runtime/lock.h"
#include "rt/memstats.h"
#include "sched/gmp.h"
#include "sched/proc.h"
#include "sched/safepoint.h"
#include "sched/sema.h"
#include "sched/stack.h"
#include "sched/stw.h"
#include "sched/sysmon.h"
#include "sched/timers.h"

namespace rt::collector {

namespace {

// Go's forcegcperiod: sysmon starts a cycle when none ran for this long.
constexpr int64_t kForceGcPeriodNs = int64_t{120} * 1'000'000'000;
// Most scan work mark termination does with the world stopped before it
// gives up and restarts the world to finish concurrently.
constexpr size_t kStwDrainBudget = 64 << 10;
constexpr size_t kWorkerBudget = 256 << 10;
// The ragged barrier before mark termination: rounds that found work
// before the pause is tried regardless, and the wait for each.
constexpr int kMaxRaggedRounds = 4;
constexpr int64_t kRaggedTimeoutNs = 1'000'000;

std::atomic<uint32_t> g_collector_sema{1};  // one cycle at a time
std::atomic<bool> g_cycle_running{false};
thread_local uint64_t t_unflushed = 0;  // slot bytes of make() not yet told to the pacer
thread_local uint64_t t_unflushed_scan = 0;  // ... of which in scannable objects
std::atomic<int64_t> g_force_period{kForceGcPeriodNs};

std::atomic<int> g_stw_mode{-1};        // -1: from RT_DEBUG at first use
std::atomic<int> g_checkmark_mode{-1};

// The background cycle runner (allocation-triggered cycles) and the mark
// workers: system goroutines started at the first cycle.
std::atomic<uint32_t> g_bg_wake{0};
std::atomic<bool> g_bg_requested{false};
std::atomic<bool> g_bg_by_time{false};  // sysmon's request (runs even if not due)
// The goroutine inside run_cycle (its sweep runs destructors that may
// allocate: it must not wait for a cycle it is itself holding up).
std::atomic<rt::sched::G*> g_cycle_owner{nullptr};
std::atomic<uint32_t> g_worker_wake{0};
std::atomic<int32_t> g_workers_busy{0};
int32_t g_nworkers = 0;  // g_collector_sema
rt::detail::Lock g_start_lock;
bool g_started = false;  // g_start_lock

rt::detail::Lock g_stats_lock;
GcStats g_stats;  // guarded by g_stats_lock

bool mode_on(std::atomic<int>& mode, int from_env) {
  int m = mode.load(std::memory_order_relaxed);
  if (m < 0) {
    m = from_env != 0;
    mode.store(m, std::memory_order_relaxed);
  }
  return m != 0;
}

void run_cycle(uintptr_t own_floor, bool forced);

void background_runner() {
  rt::sched::getg()->gc_skip_scan.store(true, std::memory_order_relaxed);
  for (;;) {
    rt::sched::semacquire(&g_bg_wake);
    // Requests from here on ask for the next cycle (one made while this
    // one runs wakes the runner again; it runs only if still due).
    g_bg_requested.store(false, std::memory_order_relaxed);
    bool by_time = g_bg_by_time.exchange(false, std::memory_order_relaxed);
    if (by_time || pacer::test_trigger()) run_cycle(0, /*forced=*/false);
  }
}

// A mark worker drains while the collector marks, then sleeps until the
// next cycle (or the next restart after a failed mark termination).
void mark_worker() {
  rt::sched::getg()->gc_skip_scan.store(true, std::memory_order_relaxed);
  for (;;) {
    rt::sched::semacquire(&g_worker_wake);
    while (marking()) {
      g_workers_busy.fetch_add(1, std::memory_order_seq_cst);
      size_t done;
      {
        MarkCpuSpan cpu(MarkCpu::kBackground);
        done = drain_preemptible(kWorkerBudget);
      }
      assist::flush_background(done);
      g_workers_busy.fetch_sub(1, std::memory_order_seq_cst);
      if (done == 0) break;
    }
  }
}

void request_cycle();
void force_gc_check(int64_t now);

void start_background_goroutines() {
  rt::detail::LockGuard g(g_start_lock);
  if (g_started) return;
  g_started = true;
  // Go's forced GC and the limiter's updates ride on sysmon, from the
  // first cycle on (Go forces a cycle only after one has run).
  rt::sched::sysmon_add_hook(force_gc_check);
  rt::sched::g_newproc_hook.store(shade_new_goroutine, std::memory_order_relaxed);
  rt::sched::newproc(background_runner, /*system=*/true);
  // 25% of GOMAXPROCS, at least one (Go's dedicated workers; the
  // fractional share is left to the collecting goroutine and assists).
  int32_t procs = rt::sched::gomaxprocs_n.load(std::memory_order_relaxed);
  g_nworkers = std::max(1, (procs + 2) / 4);
  for (int32_t i = 0; i < g_nworkers; i++) rt::sched::newproc(mark_worker, /*system=*/true);
  // Idle-time workers, one per P (a P only lends itself while idle).
  start_idle_mark_workers(procs);
}

void wake_workers() {
  for (int32_t i = 0; i < g_nworkers; i++) rt::sched::semrelease(&g_worker_wake);
}

// Drains with the caller's GcWork (its P's, or the shared one off a P);
// `timed`: counted as background mark CPU (not inside a pause).
size_t help_drain(size_t budget, bool timed) {
  size_t done;
  {
    MarkCpuSpan cpu(MarkCpu::kBackground, timed, rt::trace::Kind::kMarkWorkerFractional);
    if (local_work()) {
      done = drain_preemptible(budget);
    } else {
      struct Arg {
        size_t budget, done;
      } a{budget, 0};
      with_shared_work([](GcWork* w, void* p) {
        auto* a = static_cast<Arg*>(p);
        a->done = drain(w, a->budget);
      }, &a);
      done = a.done;
    }
  }
  if (timed) assist::flush_background(done);
  return done;
}

// While the CPU limiter is on, the collecting goroutine leaves marking to
// the mark workers and naps instead (a goroutine sleep, or a thread yield
// off the scheduler).
bool nap_if_limited() {
  if (!cpulimit::limiting()) return false;
  if (rt::sched::getg()) {
    rt::sched::sleep_ns(200'000);
  } else {
    sched_yield();
  }
  return true;
}

void yield_briefly() {
  if (rt::sched::getg()) {
    rt::sched::gosched();
  } else {
    sched_yield();
  }
}

struct Pause {
  int64_t start = 0;
  int64_t total = 0;
  int64_t max = 0;
  int n = 0;
  int64_t each[16] = {};  // the cycle's single pauses (the first 16)
  // For the cycle's record: the first pause's request, stop and restart,
  // and the last restart (the last request is `start`).
  int64_t first_start = 0, first_stopped = 0, first_end = 0, end = 0;
  // For the execution tracer: the cycle's number (NumGC once it ends), and
  // whether the world restarts between sweep and mark termination.
  uint64_t cycle = 0;
  bool concurrent = true;
  void stop(const char* why) {
    gate_close();
    start = rt::sched::nanotime();
    rt::sched::stop_the_world(why);
    if (n == 0) {
      first_start = start;
      first_stopped = rt::sched::nanotime();
    }
  }
  void start_world() {
    rt::sched::start_the_world();
    int64_t d = rt::sched::nanotime() - start;
    gate_open();
    end = start + d;
    if (n == 0) first_end = end;
    total += d;
    max = std::max(max, d);
    if (n < 16) each[n] = d;
    trace_pause(d);
    n++;
  }
  // Records the pause that just ended (world running: the global buffer's
  // lock is allowed). Without concurrent marking the one pause holds both
  // terminations: it is split where the world was found stopped.
  void trace_pause(int64_t d) {
    using rt::trace::Kind;
    namespace td = rt::trace::detail;
    if (!td::on()) return;
    if (n == 0 && !concurrent) {
      td::emit(nullptr, Kind::kStwSweepTermination, start, first_stopped - start, 0, cycle, 0);
      td::emit(nullptr, Kind::kStwMarkTermination, first_stopped, start + d - first_stopped, 0, cycle, 0);
      return;
    }
    td::emit(nullptr, n == 0 ? Kind::kStwSweepTermination : Kind::kStwMarkTermination, start, d, 0,
             cycle, 0);
  }
};

// Sweep termination and the switch to marking, with the world stopped.
void begin_mark(Pause* pause) {
  pause->stop("gc sweep termination");
  uint32_t e = epoch() ^ 1;  // its bitmap is all clear: the last sweep cleared it
  g_mark_counters.marked_objects.store(0, std::memory_order_relaxed);
  g_mark_counters.scanned_bytes.store(0, std::memory_order_relaxed);
  g_mark_counters.marked_bytes.store(0, std::memory_order_relaxed);
  pacer::start_cycle(pause->start);
  assist::start_cycle();
  g_cycle_starts.fetch_add(1, std::memory_order_relaxed);  // every P's tiny block is abandoned
  g_gcstate.store(kMark | (e << 2), std::memory_order_seq_cst);
}

// Marks everything reachable; returns with the world stopped and no grey
// object left anywhere.
void mark_to_completion(Pause* pause, bool concurrent, uint64_t* retries) {
  int ragged_rounds = 0;
  if (concurrent) {
    pause->start_world();
    wake_workers();
  }
  // Roots: the Root set, channel rings, every goroutine's stack, the
  // caller's own.
  // Marked concurrently, the collecting goroutine's work is background
  // mark CPU; inside the pause (gcstoptheworld) the pause accounts for it.
  {
    MarkCpuSpan cpu(MarkCpu::kBackground, concurrent, rt::trace::Kind::kMarkWorkerFractional);
    if (GcWork* gw = local_work()) {
      mark_roots(gw);
      mark_finalizer_roots(gw);
      mark_own_stack(gw);
    } else {
      with_shared_work([](GcWork* w, void*) {
        mark_roots(w);
        mark_finalizer_roots(w);
      }, nullptr);
    }
    mark_chan_buffers();
    scan_goroutines();
  }
  for (;;) {
    while (!(concurrent && nap_if_limited()) && help_drain(kWorkerBudget, concurrent) != 0) {
    }
    if (concurrent) {
      // Let workers finish what they hold before trying to stop.
      while (g_workers_busy.load(std::memory_order_seq_cst) != 0 || global_work_available()) {
        if (nap_if_limited()) continue;
        if (help_drain(kWorkerBudget, true) == 0) yield_briefly();
      }
      // Go's ragged barrier: every P hands over the grey objects its
      // barriers buffered, each at a safe point of its own; what turns up
      // is drained with the world running, not in the pause. Bounded:
      // mutators keep shading, and the pause's own flush is the backstop
      // (it also reaches Ps in syscall scopes, which this skips).
      if (ragged_rounds < kMaxRaggedRounds) {
        ragged_rounds++;
        if (GcWork* gw = local_work()) gw->flush();
        rt::sched::for_each_p_at_safe_point(flush_p_work, kRaggedTimeoutNs);
        if (global_work_available()) continue;
      }
      reserve_buffers(8);
      pause->stop("gc mark termination");
    }
    // Work barriers left on Ps, and the shared list: finish it here if it
    // is small, else restart the world and go on concurrently.
    flush_all_stopped_world();
    size_t budget = concurrent ? kStwDrainBudget : SIZE_MAX;
    if (GcWork* gw = local_work()) {
      drain(gw, budget);
      if (gw->empty() && !global_work_available()) return;
      gw->flush();
    } else {
      struct Arg {
        size_t budget;
        bool empty;
      } a{budget, false};
      with_shared_work([](GcWork* w, void* p) {
        auto* a = static_cast<Arg*>(p);
        drain(w, a->budget);
        a->empty = w->empty() && !global_work_available();
        w->flush();
      }, &a);
      if (a.empty) return;
    }
    if (!concurrent) continue;
    ++*retries;
    pause->start_world();
    wake_workers();
  }
}

// The cycle's record (gcaccount.h) from its pauses; heap figures only
// when a trace line will show them (they cost a MemStats read).
void record_times(const Pause& pause, bool concurrent, CycleRecord* r) {
  r->t_sweep_term = pause.first_start;
  if (concurrent) {
    r->t_mark = pause.first_end;
    r->t_mark_term = pause.start;
  } else {
    // One pause: stopping is sweep termination, the rest mark termination.
    r->t_mark = r->t_mark_term = pause.first_stopped;
  }
  r->t_end = pause.end;
  r->pause_ns = pause.total;
}

// own_floor: where the collecting goroutine's caller state starts on its
// stack (0: nothing of it to scan, the background runner). forced: rt::gc().
void run_cycle(uintptr_t own_floor, bool forced) {
  rt::sched::semacquire(&g_collector_sema);
  g_cycle_owner.store(rt::sched::getg(), std::memory_order_relaxed);
  set_own_stack_floor(own_floor);
  g_cycle_running.store(true, std::memory_order_relaxed);
  start_background_goroutines();
  const auto& dbg = rt::detail::config().debug;
  bool concurrent = !mode_on(g_stw_mode, dbg.gcstoptheworld);
  bool checkmark = mode_on(g_checkmark_mode, dbg.gccheckmark);
  // sync.Pool's victim rotation, as Go's clearpools at the start of a
  // cycle; outside the pause: it destroys pooled objects (user code).
  rt::detail::pool_cleanup();
  // No span is released or reused from here to the end of the sweep:
  // markers resolve arbitrary words to spans, the sweeper walks them all.
  alloc::MHeap::get().begin_span_walk();
  Pause pause;
  pause.concurrent = concurrent;
  {
    rt::detail::LockGuard g(g_stats_lock);
    pause.cycle = g_stats.cycles + 1;  // only run_cycle counts, one at a time
  }
  uint64_t retries = 0;
  CycleRecord rec;
  rec.forced = forced;
  rec.procs = rt::sched::gomaxprocs_n.load(std::memory_order_relaxed);
  int64_t assist0 = g_mark_cpu_ns[0].load(std::memory_order_relaxed);
  int64_t background0 = g_mark_cpu_ns[1].load(std::memory_order_relaxed);
  int64_t idle0 = g_mark_cpu_ns[2].load(std::memory_order_relaxed);
  begin_mark(&pause);
  mark_to_completion(&pause, concurrent, &retries);
  // Mark termination, world stopped: marking is complete.
  if (void* p = g_test_unmark_before_verify.exchange(nullptr, std::memory_order_relaxed)) {
    Managed m;
    if (find_managed(reinterpret_cast<uintptr_t>(p), &m)) bit_clear(marks_of(m.span), m.idx);
  }
  if (checkmark) verify_marks(epoch());
  uint64_t marked = g_mark_counters.marked_objects.load(std::memory_order_relaxed);
  // What marking found reachable (Go's heap_marked): objects allocated
  // during the cycle are black but not counted, so the trigger follows the
  // live heap, not the allocation rate.
  uint64_t marked_bytes = g_mark_counters.marked_bytes.load(std::memory_order_relaxed);
  pacer::MarkResult mr;
  mr.marked_bytes = marked_bytes;
  mr.heap_scan = g_mark_counters.scanned_bytes.load(std::memory_order_relaxed);
  mr.stack_scan = g_mark_counters.stack_scanned_bytes.load(std::memory_order_relaxed);
  mr.globals_scan = g_mark_counters.globals_scanned_bytes.load(std::memory_order_relaxed);
  mr.assist_ns = g_mark_cpu_ns[0].load(std::memory_order_relaxed) - assist0;
  // Idle-time marking counts with the background's, as Go's cons/mark
  // estimate counts idle utilization.
  mr.background_ns = g_mark_cpu_ns[1].load(std::memory_order_relaxed) - background0 +
                     g_mark_cpu_ns[2].load(std::memory_order_relaxed) - idle0;
  mr.procs = rec.procs;
  mr.now = pause.start;
  mr.forced = forced;
  rec.goal = pacer::cycle_goal();
  rec.heap0 = pacer::cycle_triggered();
  pacer::end_cycle(mr);
  rec.heap1 = pacer::cycle_heap_live_at_termination();
  g_gcstate.store(kSweep | (epoch() << 2), std::memory_order_seq_cst);
  pause.start_world();
  assist::end_cycle();
  record_times(pause, concurrent, &rec);
  rec.assist_ns = g_mark_cpu_ns[0].load(std::memory_order_relaxed) - assist0;
  rec.background_ns = g_mark_cpu_ns[1].load(std::memory_order_relaxed) - background0;
  rec.idle_ns = g_mark_cpu_ns[2].load(std::memory_order_relaxed) - idle0;
  rec.heap2 = marked_bytes;
  // Weak pointers to the dead are cleared, then finalizers of the dead are
  // queued (resurrecting them), then the rest is swept.
  uint64_t weaks_cleared = clear_dead_weaks(epoch());
  uint64_t finalizers_queued = queue_dead_finalizers(epoch());
  sweep_begin(epoch());
  SweepResult sr = sweep_finish();
  g_gcstate.store(kOff | (epoch() << 2), std::memory_order_seq_cst);
  alloc::MHeap::get().end_span_walk();
  uint64_t trigger = trigger_bytes();
  // The scavenger keeps what the next cycle's goal (or the limit) needs.
  alloc::set_scavenge_goal(pacer::scavenge_goal_bytes());
  {
    rt::detail::LockGuard g(g_stats_lock);
    g_stats.cycles++;
    g_stats.freed_objects += sr.freed_objects;
    g_stats.destructors_run += sr.destroyed;
    g_stats.live_bytes = sr.live_bytes;
    g_stats.marked_objects = marked;
    g_stats.marked_bytes = marked_bytes;
    g_stats.trigger_bytes = trigger;
    g_stats.last_pause_ns = pause.total;
    g_stats.max_pause_ns = std::max(g_stats.max_pause_ns, pause.max);
    g_stats.total_pause_ns += pause.total;
    g_stats.pause_ns[(g_stats.cycles - 1) % 256] = pause.total;
    for (int i = 0; i < std::min(pause.n, 16); i++) {
      int k = pause.each[i] <= 1 ? 0 : 63 - __builtin_clzll(static_cast<uint64_t>(pause.each[i]));
      g_stats.pause_hist[std::min(k, GcStats::kPauseBuckets - 1)]++;
    }
    g_stats.mark_termination_retries += retries;
    g_stats.weak_cleared += weaks_cleared;
    g_stats.finalizers_queued += finalizers_queued;
  }
  rec.stacks = rt::sched::stack_stats().in_use_bytes;
  if (rt::trace::detail::on()) {
    namespace td = rt::trace::detail;
    using rt::trace::Kind;
    // Heap live and goal: the cycle's at its start, the next cycle's at its end.
    td::emit(nullptr, Kind::kHeapSample, pause.first_start, 0, 0, rec.heap0, rec.goal);
    td::emit(nullptr, Kind::kHeapSample, pause.end, 0, 0, rec.heap1, pacer::heap_goal());
    if (concurrent) td::emit(nullptr, Kind::kGcMark, pause.first_end, pause.start - pause.first_end, 0, pause.cycle, 0);
    td::emit(nullptr, Kind::kGcCycle, pause.first_start, pause.end - pause.first_start, 0, pause.cycle, 0);
  }
  cycle_done(rec);
  g_cycle_running.store(false, std::memory_order_relaxed);
  g_cycle_owner.store(nullptr, std::memory_order_relaxed);
  rt::sched::semrelease(&g_collector_sema);
}

}  // namespace

uint64_t trigger_bytes() {
  uint64_t t = pacer::trigger();
  return t == UINT64_MAX || (pacer::gc_percent() < 0 && pacer::memory_limit() == pacer::kNoLimit) ? 0 : t;
}

namespace {

// The slot a make() of `bytes` takes (what marking counts, as heap live).
uint64_t slot_bytes(size_t bytes) {
  if (bytes <= alloc::kMaxSmallSize) return alloc::kSizeClasses[alloc::size_to_class(bytes)].size;
  return (bytes + alloc::kPageSize - 1) & ~(alloc::kPageSize - 1);
}

void request_cycle() {
  if (g_bg_requested.exchange(true, std::memory_order_relaxed)) return;
  start_background_goroutines();
  rt::sched::semrelease(&g_bg_wake);
}

// The heap reached the trigger: the allocating goroutine finishes the last
// cycle's sweep if one is in progress (Go's gcStart sweeps first), asks for
// a cycle and waits until it marks (or is no longer due), so that
// allocation cannot run far past the trigger while the collector's
// goroutine waits for a P. Not the goroutine running a cycle.
void start_cycle_and_wait() {
  rt::sched::G* self = rt::sched::getg();
  if (!self || self == g_cycle_owner.load(std::memory_order_relaxed)) return;
  while (phase() == kSweep && sweep_some(4) != 0) {
  }
  for (int spins = 0; phase() != kMark && pacer::test_trigger(); spins++) {
    request_cycle();
    if (spins < 50) {
      rt::sched::gosched();
    } else {
      rt::sched::sleep_ns(20'000);
    }
  }
}

// sysmon's hook: the limiter's bucket, and Go's forced cycle after
// forcegcperiod without one (not with GOGC=off; counted as an automatic
// cycle, not a forced one).
void force_gc_check(int64_t now) {
  cpulimit::update(now);
  if (pacer::gc_percent() < 0) return;
  int64_t last = pacer::last_cycle_end_ns();
  if (last == 0 || now - last < g_force_period.load(std::memory_order_relaxed)) return;
  if (g_cycle_running.load(std::memory_order_relaxed)) return;
  g_bg_by_time.store(true, std::memory_order_relaxed);
  request_cycle();
}

}  // namespace

void account_allocation(size_t bytes, bool scan) {
  uint64_t slot = slot_bytes(bytes);
  t_unflushed += slot;
  if (scan) t_unflushed_scan += slot;
  if (__builtin_expect(t_unflushed < pacer::kAllocFlushBytes, 1)) return;
  uint64_t flushed = t_unflushed;
  t_unflushed = 0;
  pacer::note_alloc(flushed, t_unflushed_scan);
  t_unflushed_scan = 0;
  if (rt::detail::t_runtime_locks != 0) return;
  // Over the memory limit: give free pages back before allocating more
  // (Go's allocation-time scavenging).
  uint64_t excess = 0;
  if (pacer::over_memory_limit(&excess)) alloc::scavenge_bytes(std::min<uint64_t>(excess, 4 * pacer::kAllocFlushBytes));
  // Only goroutines assist or start cycles; a plain thread inside make
  // holds the gate (and an unrooted result).
  if (!stopped_by_the_world()) return;
  switch (phase()) {
    case kMark:
      assist::alloc(flushed);
      return;
    case kSweep:
      sweep_some(1);  // proportional sweep: one chunk per flush
      break;
    case kOff:
      break;
  }
  if (pacer::test_trigger()) start_cycle_and_wait();
}

void set_force_gc_period_for_test(int64_t ns) {
  g_force_period.store(ns > 0 ? ns : kForceGcPeriodNs, std::memory_order_relaxed);
}

[[gnu::noinline]] void collect() {
  if (!stopped_by_the_world() && gate_depth() > 0)
    rt::detail::fatal("rt::gc called inside rt::make or a Ref store on a thread the world does not stop");
  // The caller's callee-saved registers, spilled here: with the caller's
  // frames above, they are all of the caller's state the collector scans.
  __builtin_unwind_init();
  jmp_buf regs;
  setjmp(regs);
  run_cycle(reinterpret_cast<uintptr_t>(&regs), /*forced=*/true);
  asm volatile("" : : "r"(&regs) : "memory");
}

void set_debug_modes(int stoptheworld, int checkmark) {
  if (stoptheworld >= 0) g_stw_mode.store(stoptheworld != 0, std::memory_order_relaxed);
  if (checkmark >= 0) g_checkmark_mode.store(checkmark != 0, std::memory_order_relaxed);
}

}  // namespace rt::collector

namespace rt {

void gc() { rt::collector::collect(); }

int set_gc_percent(int percent) { return rt::collector::pacer::set_gc_percent(percent); }

int64_t set_memory_limit(int64_t bytes) { return rt::collector::pacer::set_memory_limit(bytes); }

GcStats gc_stats() {
  rt::detail::LockGuard g(rt::collector::g_stats_lock);
  GcStats s = rt::collector::g_stats;
  s.trigger_bytes = rt::collector::trigger_bytes();
  s.finalizers_run = rt::collector::finalizers_run();
  return s;
}

}  // namespace rt
