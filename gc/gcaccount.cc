// The collector's observable numbers. See gcaccount.h.
#include "gc/gcaccount.h"

#include <time.h>

#include <cstring>

#include "gc/collector.h"
#include "gc/gctrace.h"
#include "gc/pacer.h"
#include "runtime/env.h"
#include "runtime/lock.h"
#include "sched/gmp.h"

namespace rt::collector {

std::atomic<int64_t> g_mark_cpu_ns[3] = {};

namespace {

const int64_t g_process_start = rt::sched::nanotime();

// Go's MemStats GC fields and the CPU integrals, guarded by g_lock.
struct State {
  uint64_t num_gc = 0;
  uint64_t num_forced_gc = 0;
  uint64_t last_gc_unix = 0;
  uint64_t pause_total_ns = 0;
  uint64_t pause_ns[256] = {};
  uint64_t pause_end[256] = {};
  int64_t pause_cpu_ns = 0;  // pause x GOMAXPROCS, all cycles
  // GOMAXPROCS x wall time up to avail_at, integrated at each reading.
  int64_t avail_ns = 0;
  int64_t avail_at = 0;
  int32_t avail_procs = 0;
};

rt::detail::Lock g_lock;
State g_state;

int32_t current_procs() {
  int32_t n = rt::sched::gomaxprocs_n.load(std::memory_order_relaxed);
  return n > 0 ? n : 1;  // before the scheduler starts: the calling thread
}

// Brings the available-CPU integral up to `now`. Caller holds g_lock.
void integrate_locked(int64_t now) {
  State& s = g_state;
  if (s.avail_at == 0) {
    s.avail_at = g_process_start;
    s.avail_procs = current_procs();
  }
  if (now > s.avail_at) s.avail_ns += (now - s.avail_at) * s.avail_procs;
  s.avail_at = now;
  s.avail_procs = current_procs();
}

double cpu_fraction_locked() {
  const State& s = g_state;
  if (s.avail_ns <= 0) return 0;
  int64_t gc = s.pause_cpu_ns + g_mark_cpu_ns[0].load(std::memory_order_relaxed) +
               g_mark_cpu_ns[1].load(std::memory_order_relaxed) +
               g_mark_cpu_ns[2].load(std::memory_order_relaxed);
  return static_cast<double>(gc) / static_cast<double>(s.avail_ns);
}

uint64_t unix_now_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace

// Wall time, less the time the goroutine spent switched out at drain safe
// points (G::gc_yielded_ns): a drain that yields to other goroutines must
// not count their run time as the collector's.
MarkCpuSpan::MarkCpuSpan(MarkCpu kind, bool on, rt::trace::Kind trace_kind)
    : kind_(kind), start_(on ? rt::sched::nanotime() : 0), trace_(trace_kind, on) {
  if (rt::sched::G* g = rt::sched::getg()) yielded0_ = g->gc_yielded_ns;
}

MarkCpuSpan::~MarkCpuSpan() {
  if (start_ == 0) return;
  int64_t d = rt::sched::nanotime() - start_;
  if (rt::sched::G* g = rt::sched::getg()) d -= g->gc_yielded_ns - yielded0_;
  if (d > 0) g_mark_cpu_ns[static_cast<int>(kind_)].fetch_add(d, std::memory_order_relaxed);
}

void cycle_done(const CycleRecord& r) {
  int64_t now = rt::sched::nanotime();
  // The end of mark termination on the wall clock (Go's last_gc, pause_end).
  uint64_t end_unix = unix_now_ns() - static_cast<uint64_t>(now - r.t_end);
  int64_t sweep_term_cpu = (r.t_mark - r.t_sweep_term) * r.procs;
  int64_t mark_term_cpu = (r.t_end - r.t_mark_term) * r.procs;
  TraceLine line;
  {
    rt::detail::LockGuard g(g_lock);
    State& s = g_state;
    s.pause_ns[s.num_gc % 256] = static_cast<uint64_t>(r.pause_ns);
    s.pause_end[s.num_gc % 256] = end_unix;
    s.num_gc++;
    if (r.forced) s.num_forced_gc++;
    s.last_gc_unix = end_unix;
    s.pause_total_ns += static_cast<uint64_t>(r.pause_ns);
    s.pause_cpu_ns += r.pause_ns * r.procs;
    integrate_locked(now);
    if (rt::detail::config().debug.gctrace > 0) {
      line.num_gc = s.num_gc;
      line.util_percent = static_cast<int>(cpu_fraction_locked() * 100);
    }
  }
  if (rt::detail::config().debug.gctrace <= 0) return;
  line.since_start_ns = r.t_sweep_term - g_process_start;
  line.clock_ns[0] = r.t_mark - r.t_sweep_term;
  line.clock_ns[1] = r.t_mark_term - r.t_mark;
  line.clock_ns[2] = r.t_end - r.t_mark_term;
  line.cpu_ns[0] = sweep_term_cpu;
  line.cpu_ns[1] = r.assist_ns;
  line.cpu_ns[2] = r.background_ns;
  line.cpu_ns[3] = r.idle_ns;
  line.cpu_ns[4] = mark_term_cpu;
  line.heap0 = r.heap0;
  line.heap1 = r.heap1;
  line.heap2 = r.heap2;
  line.goal = r.goal;
  line.stacks = r.stacks;
  line.globals = 0;  // C++ globals are not scanned (Roots are on the heap side)
  line.procs = r.procs;
  line.forced = r.forced;
  write_trace_line(line);
}

void fill_gc_memstats(MemStats* m) {
  m->next_gc = pacer::heap_goal();
  int64_t now = rt::sched::nanotime();
  rt::detail::LockGuard g(g_lock);
  State& s = g_state;
  integrate_locked(now);
  m->last_gc = s.last_gc_unix;
  m->pause_total_ns = s.pause_total_ns;
  std::memcpy(m->pause_ns, s.pause_ns, sizeof(s.pause_ns));
  std::memcpy(m->pause_end, s.pause_end, sizeof(s.pause_end));
  m->num_gc = static_cast<uint32_t>(s.num_gc);
  m->num_forced_gc = static_cast<uint32_t>(s.num_forced_gc);
  m->gc_cpu_fraction = cpu_fraction_locked();
}

GcCpuTotals gc_cpu_totals() {
  int64_t now = rt::sched::nanotime();
  GcCpuTotals t;
  t.assist = g_mark_cpu_ns[0].load(std::memory_order_relaxed);
  t.background = g_mark_cpu_ns[1].load(std::memory_order_relaxed);
  t.idle = g_mark_cpu_ns[2].load(std::memory_order_relaxed);
  rt::detail::LockGuard g(g_lock);
  integrate_locked(now);
  t.pause = g_state.pause_cpu_ns;
  t.available = g_state.avail_ns;
  return t;
}

uint64_t heap_goal() { return pacer::heap_goal(); }

int64_t process_start_ns() { return g_process_start; }

}  // namespace rt::collector
