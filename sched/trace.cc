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
#include "sched/trace.h"

#include <algorithm>

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
int32_t g_nbufs = 0;          // written by start() while off
int64_t g_session_start = 0;  // written by start() while off
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

bool alloc_buffer(Buffer* b, size_t cap) {
  b->ev = static_cast<Event*>(rt::detail::meta_malloc(cap * sizeof(Event)));
  b->cap = b->ev ? cap : 0;
  b->n = 0;
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

int64_t session_start() { return g_session_start; }

}  // namespace

void emit(rt::sched::P* p, Kind kind, int64_t ts, int64_t dur, uint64_t g, uint64_t arg,
          uint64_t arg2) {
  if (!g_on.load(std::memory_order_acquire)) return;
  if (ts < session_start()) return;  // begun before this recording
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

void go_start_slow(rt::sched::G* g) {
  int64_t now = rt::sched::nanotime();
  g->trace_run_start = now;
  if (g->trace_span_kind) g->trace_span_start = now;
}

void go_stop_slow(rt::sched::G* g, rt::sched::P* p) {
  int64_t start = g->trace_run_start;
  if (start == 0 || !p) return;
  int64_t now = rt::sched::nanotime();
  uint64_t id = static_cast<uint64_t>(g->id);
  emit(p, Kind::kGoRun, start, now - start, id, id, 0);
  if (g->trace_span_kind && g->trace_span_start != 0) {
    emit(p, static_cast<Kind>(g->trace_span_kind - 1), g->trace_span_start,
         now - g->trace_span_start, id, 0, 0);
  }
  g->trace_run_start = 0;
  g->trace_span_start = 0;
}

void Span::open() {
  int64_t now = rt::sched::nanotime();
  rt::sched::G* g = rt::sched::getg();
  if (!g) {
    start_ = now;
    open_ = true;
    return;
  }
  if (g->trace_span_kind) return;  // inside another GC span: that one counts
  g->trace_span_kind = static_cast<uint8_t>(static_cast<uint8_t>(kind_) + 1);
  g->trace_span_start = now;
  g_ = g;
  open_ = true;
}

void Span::close() {
  int64_t now = rt::sched::nanotime();
  if (!g_) {
    emit(nullptr, kind_, start_, now - start_, 0, 0, 0);
    return;
  }
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
  g_session_start = rt::sched::nanotime();
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
  for (int32_t i = 0; i < g_nbufs; i++) out.insert(out.end(), g_pbufs[i].ev, g_pbufs[i].ev + g_pbufs[i].n);
  out.insert(out.end(), g_global.ev, g_global.ev + g_global.n);
  std::stable_sort(out.begin(), out.end(),
                   [](const Event& a, const Event& b) { return a.ts_ns < b.ts_ns; });
  return out;
}

uint64_t dropped() { return g_dropped.load(std::memory_order_relaxed); }

}  // namespace rt::trace
