// The execution tracer's recorder: per-P event buffers, the global buffer,
// start / stop, and the goroutine and GC-span hooks (sched/trace.h).
//
// Concurrency. A P's buffer is written only by the M holding that P, with
// plain stores: holding the P is the lock. start() fills in every buffer
// and the session start before it sets g_on with a release store; a writer
// that sees g_on set (its slow path reloads it with acquire) sees them.
// stop() clears g_on and then stops and restarts the world: every P is
// released by its M during the stop (through sched.lock or the P status
// atomics, release), so every write made while the P was held happens
// before the stopper goes on, and a writer that takes a P after the stop
// reads g_on clear. An event is recorded without a safe point in between
// its flag check and its write, so it is wholly before the stop or wholly
// after it. Hence events() after stop() reads complete buffers with no
// writer left. The global buffer is under g_global_lock.
//
// Clocks. Events on a P are stamped with cputicks() (the TSC where it is
// invariant), not nanotime(): a goroutine switch records two stamps, and
// on a virtual machine whose clock source has no fast user-space read
// clock_gettime costs several times the TSC read. events() maps ticks to
// nanotime linearly between the (nanotime, ticks) pairs read at start() and
// at stop(): exact at both ends, and both clocks run at constant rates in
// between. The collector's events (the global buffer) are nanotime
// readings already, the very ones MemStats' pause times come from.
#include "sched/trace.h"

#include <algorithm>
#include <cstring>

#include "runtime/lock.h"
#include "runtime/meta_alloc.h"
#include "sched/proc.h"
#include "sched/sema.h"
#include "sched/stw.h"

namespace rt::trace {

namespace detail {

std::atomic<bool> g_on{false};

namespace {

constexpr int32_t kMaxBuffers = 1024;  // allp's size

struct Buffer {
  Event* ev = nullptr;
  size_t cap = 0;
  size_t n = 0;
};

// Per-P buffers, indexed by P id; [0, g_nbufs) allocated at start().
// Contents: the P's holder only (see the file comment).
Buffer g_pbufs[kMaxBuffers];
int32_t g_nbufs = 0;  // written by start() while off
// The clocks at start() and stop() (the control semaphore's holder).
struct ClockPair {
  int64_t ns = 0, ticks = 0;
};
ClockPair g_start_clock, g_stop_clock;
rt::detail::Lock g_global_lock;
Buffer g_global;  // g_global_lock
std::atomic<uint64_t> g_dropped{0};
// Serialises start / stop / events (user calls, never inside the runtime).
// A runtime semaphore, not a thread mutex: stop() parks in the stop of the
// world while holding it, and a goroutine waiting its turn must park too
// (giving up its P), not block its M.
std::atomic<uint32_t> g_control{1};
struct ControlGuard {
  ControlGuard() { rt::sched::semacquire(&g_control); }
  ~ControlGuard() { rt::sched::semrelease(&g_control); }
};

// Touched here, so recording takes no page faults: a first touch costs
// microseconds on a virtual machine, several times a switch.
bool alloc_buffer(Buffer* b, size_t cap) {
  b->ev = static_cast<Event*>(rt::detail::meta_malloc(cap * sizeof(Event)));
  b->cap = b->ev ? cap : 0;
  b->n = 0;
  if (b->ev) std::memset(static_cast<void*>(b->ev), 0, cap * sizeof(Event));
  return b->ev != nullptr;
}

void free_buffer(Buffer* b) {
  if (b->ev) rt::detail::meta_free(b->ev);
  *b = Buffer{};
}

void push(Buffer* b, const Event& e) {
  if (b->n == b->cap) {
    g_dropped.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  b->ev[b->n++] = e;
}

ClockPair read_clocks() {
  int64_t t0 = rt::sched::cputicks();
  int64_t ns = rt::sched::nanotime();
  int64_t t1 = rt::sched::cputicks();
  return ClockPair{ns, t0 + (t1 - t0) / 2};
}

// A P buffer's stamp (ticks) in nanotime.
struct TickMap {
  double ns_per_tick = 1;
  int64_t ns0 = 0, ticks0 = 0;
  bool identity = true;  // cputicks() is nanotime()
  int64_t ns(int64_t ticks) const {
    if (identity) return ticks;
    return ns0 + static_cast<int64_t>(static_cast<double>(ticks - ticks0) * ns_per_tick);
  }
};

TickMap tick_map() {
  TickMap m;
  if (!rt::sched::g_tsc_invariant) return m;
  m.identity = false;
  m.ns0 = g_start_clock.ns;
  m.ticks0 = g_start_clock.ticks;
  int64_t dt = g_stop_clock.ticks - g_start_clock.ticks;
  if (dt > 0) m.ns_per_tick = static_cast<double>(g_stop_clock.ns - g_start_clock.ns) / static_cast<double>(dt);
  return m;
}

}  // namespace

void emit(rt::sched::P* p, Kind kind, int64_t ts, int64_t dur, uint64_t g, uint64_t arg,
          uint64_t arg2) {
  if (!g_on.load(std::memory_order_acquire)) return;
  // Begun before this recording (p: ticks, else nanotime).
  if (ts < (p ? g_start_clock.ticks : g_start_clock.ns)) return;
  Event e{static_cast<uint64_t>(ts), static_cast<uint64_t>(dur < 0 ? 0 : dur), kind,
          p ? p->id : -1, g, arg, arg2};
  if (!p) {
    rt::detail::LockGuard l(g_global_lock);
    push(&g_global, e);
    return;
  }
  if (p->id >= g_nbufs) {
    g_dropped.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  push(&g_pbufs[p->id], e);
}

namespace {

void start_at(rt::sched::G* g, int64_t now) {
  g->trace_run_start = now;
  if (g->trace_span_kind) g->trace_span_start = now;
}

void stop_at(rt::sched::G* g, rt::sched::P* p, int64_t now) {
  int64_t start = g->trace_run_start;
  if (start == 0 || !p) return;
  uint64_t id = static_cast<uint64_t>(g->id);
  emit(p, Kind::kGoRun, start, now - start, id, id, 0);
  if (g->trace_span_kind && g->trace_span_start != 0) {
    emit(p, static_cast<Kind>(g->trace_span_kind - 1), g->trace_span_start,
         now - g->trace_span_start, id, 0, 0);
  }
  g->trace_run_start = 0;
  g->trace_span_start = 0;
}

}  // namespace

void go_start_slow(rt::sched::G* g) { start_at(g, rt::sched::cputicks()); }

void go_stop_slow(rt::sched::G* g, rt::sched::P* p) { stop_at(g, p, rt::sched::cputicks()); }

void go_switch_slow(rt::sched::G* g, rt::sched::P* p, rt::sched::G* next) {
  int64_t now = rt::sched::cputicks();
  stop_at(g, p, now);
  start_at(next, now);
}

void Span::open() {
  rt::sched::G* g = rt::sched::getg();
  if (!g) {
    start_ = rt::sched::nanotime();  // a whole span in the global buffer
    open_ = true;
    return;
  }
  int64_t now = rt::sched::cputicks();
  if (g->trace_span_kind) return;  // inside another GC span: that one counts
  g->trace_span_kind = static_cast<uint8_t>(static_cast<uint8_t>(kind_) + 1);
  g->trace_span_start = now;
  g_ = g;
  open_ = true;
}

void Span::close() {
  if (!g_) {
    emit(nullptr, kind_, start_, rt::sched::nanotime() - start_, 0, 0, 0);
    return;
  }
  int64_t now = rt::sched::cputicks();
  int64_t start = g_->trace_span_start;
  rt::sched::M* m = rt::sched::current_m();
  if (start != 0 && m && m->p)
    emit(m->p, kind_, start, now - start, static_cast<uint64_t>(g_->id), 0, 0);
  g_->trace_span_kind = 0;
  g_->trace_span_start = 0;
}

}  // namespace detail

using namespace detail;

bool start(size_t events_per_p) {
  ControlGuard c;
  if (g_on.load(std::memory_order_relaxed)) return false;
  if (events_per_p == 0) events_per_p = 1;
  rt::sched::schedinit();
  // No writer is left from the last recording (stop() made sure).
  for (int32_t i = 0; i < g_nbufs; i++) free_buffer(&g_pbufs[i]);
  {
    rt::detail::LockGuard l(g_global_lock);
    free_buffer(&g_global);
    alloc_buffer(&g_global, events_per_p);
  }
  int32_t n = std::min(rt::sched::gomaxprocs_n.load(std::memory_order_acquire), kMaxBuffers);
  for (int32_t i = 0; i < n; i++) alloc_buffer(&g_pbufs[i], events_per_p);
  g_nbufs = n;
  g_dropped.store(0, std::memory_order_relaxed);
  g_start_clock = read_clocks();
  g_stop_clock = ClockPair{};
  g_on.store(true, std::memory_order_release);
  return true;
}

void stop() {
  ControlGuard c;
  if (!g_on.load(std::memory_order_relaxed)) return;
  g_on.store(false, std::memory_order_release);
  // Waits out every writer (the file comment).
  rt::sched::stop_the_world("trace stop");
  rt::sched::start_the_world();
  g_stop_clock = read_clocks();  // after every stamp
}

bool enabled() { return g_on.load(std::memory_order_relaxed); }

std::vector<Event> events() {
  ControlGuard c;
  std::vector<Event> out;
  if (g_on.load(std::memory_order_relaxed)) return out;
  size_t total = 0;
  for (int32_t i = 0; i < g_nbufs; i++) total += g_pbufs[i].n;
  rt::detail::LockGuard l(g_global_lock);
  total += g_global.n;
  out.reserve(total);
  TickMap m = tick_map();
  for (int32_t i = 0; i < g_nbufs; i++) {
    for (size_t k = 0; k < g_pbufs[i].n; k++) {
      Event e = g_pbufs[i].ev[k];
      int64_t a = static_cast<int64_t>(e.ts_ns);
      int64_t b = m.ns(a + static_cast<int64_t>(e.dur_ns));
      a = m.ns(a);
      e.ts_ns = static_cast<uint64_t>(a);
      e.dur_ns = static_cast<uint64_t>(b > a ? b - a : 0);
      out.push_back(e);
    }
  }
  out.insert(out.end(), g_global.ev, g_global.ev + g_global.n);
  std::stable_sort(out.begin(), out.end(),
                   [](const Event& a, const Event& b) { return a.ts_ns < b.ts_ns; });
  return out;
}

uint64_t dropped() { return g_dropped.load(std::memory_order_relaxed); }

}  // namespace rt::trace
