// The execution tracer's hooks inside the runtime (rt/trace.h is the public
// side). Each hook is inline: one relaxed load of the global flag and a
// branch while off; the recording itself is out of line (sched/trace.cc).
//
// Where events go: an event recorded on a P goes to that P's buffer,
// written only by the M that holds the P (no lock, no allocation: safe
// anywhere a P is held, including the scheduler's g0 paths). Events with no
// P (the collector's pauses and cycles, recorded after the world restarts)
// go to one locked global buffer.
#pragma once

#include <atomic>
#include <cstdint>

#include "rt/trace.h"
#include "sched/gmp.h"

namespace rt::trace::detail {

extern std::atomic<bool> g_on;

inline bool on() { return __builtin_expect(g_on.load(std::memory_order_relaxed), 0); }

// Records a finished span or an instant: into p's buffer (the caller holds
// p; times in cputicks(), mapped to nanotime by events()) or, with
// p == nullptr, the global buffer (times in nanotime(); takes a lock:
// never inside a stop-the-world pause or a signal handler).
void emit(rt::sched::P* p, Kind kind, int64_t ts, int64_t dur, uint64_t g, uint64_t arg,
          uint64_t arg2);

void go_start_slow(rt::sched::G* g);
void go_stop_slow(rt::sched::G* g, rt::sched::P* p);
void go_switch_slow(rt::sched::G* g, rt::sched::P* p, rt::sched::G* next);

// g starts (or resumes) running on the caller's P.
inline void go_start(rt::sched::G* g) {
  if (on()) go_start_slow(g);
}
// g stops running on p (switched away, exited, entered a syscall): its run
// span, and the part of an open GC span it ran, are recorded on p.
inline void go_stop(rt::sched::G* g, rt::sched::P* p) {
  if (on()) go_stop_slow(g, p);
}
// Both, at one instant: g hands p straight to next.
inline void go_switch(rt::sched::G* g, rt::sched::P* p, rt::sched::G* next) {
  if (on()) go_switch_slow(g, p, next);
}

// A GC span (mark work, assist) on the calling goroutine: recorded in
// pieces, one per stretch it runs on a P (closed by go_stop, reopened by
// go_start), so a span never covers time its P gave to another goroutine.
// span_begin returns whether it opened one (only while recording, and not
// inside another); pass that to span_end, which closes it even if
// recording stopped meanwhile. Off a goroutine the span goes to the global
// buffer whole.
class Span {
 public:
  explicit Span(Kind kind, bool want = true) : kind_(kind) {
    if (want && on()) open();
  }
  ~Span() {
    if (open_) close();
  }
  Span(const Span&) = delete;
  Span& operator=(const Span&) = delete;

 private:
  void open();
  void close();
  Kind kind_;
  bool open_ = false;
  rt::sched::G* g_ = nullptr;  // the goroutine it is open on, or nullptr
  int64_t start_ = 0;          // off a goroutine: its start
};

}  // namespace rt::trace::detail
