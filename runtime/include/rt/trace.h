// rt::trace: a bounded, in-memory recorder of what the runtime did and when
// (collector pauses, cycles and mark phase, mark workers, assists,
// goroutine runs, heap samples), for timelines (Chrome / Perfetto JSON) and
// the minimum mutator utilization (MMU). Go's runtime/trace records the
// same events in its own format.
//
// Memory is bounded: start() allocates one buffer of `events_per_p` events
// per P (GOMAXPROCS at start) and one for events with no P (the
// collector's pauses and cycles), off the GC heap. An event that finds its
// buffer full is dropped and counted (dropped()); so is one from a P added
// after start() (GOMAXPROCS raised while recording).
//
// Timestamps are the runtime's monotonic clock in nanoseconds (nanotime:
// the one MemStats pause times are measured with), comparable across
// threads. Events on a P are stamped with the cheaper invariant TSC while
// recording and mapped onto that clock by events() (linearly, exact at
// start and stop).
//
// While off, each hook in the runtime costs one relaxed load of a global
// flag. Recording is cheap (no lock, no allocation on a P) but not free;
// see docs/PERF.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <vector>

namespace rt::trace {

enum class Kind : uint8_t {
  // Spans from the collector's stop request to the world running again:
  // the same intervals MemStats pause_ns sums. A cycle has one sweep
  // termination and one or more mark terminations (a mark termination that
  // finds work left restarts the world and tries again later).
  kStwSweepTermination,
  kStwMarkTermination,
  kGcCycle,  // span: sweep termination's stop request -> mark termination's end; arg = cycle (NumGC)
  kGcMark,   // span: the concurrent mark phase; arg = cycle
  // Spans on a P: scan work by a dedicated mark worker, by the collecting
  // goroutine (its share, as Go's fractional worker), by an idle-time
  // worker. g = the worker goroutine's id.
  kMarkWorkerDedicated,
  kMarkWorkerFractional,
  kMarkWorkerIdle,
  kAssist,     // span on a P: a goroutine's GC assist; g = its id
  kGoRun,      // span: goroutine g ran on P p (until it switched away or entered a syscall); arg = goid
  kHeapSample, // instant: arg = heap live bytes, arg2 = heap goal bytes (at cycle start and end)
};

// A span (dur_ns > 0 or a zero-length span) or an instant (kHeapSample,
// dur_ns = 0). p: the P index, -1 for events with no P. g: goroutine id,
// 0 when none.
struct Event {
  uint64_t ts_ns;
  uint64_t dur_ns;
  Kind kind;
  int32_t p;
  uint64_t g;
  uint64_t arg;
  uint64_t arg2;
};

// Starts recording with fresh buffers (the last recording's events are
// freed). false if already recording.
bool start(size_t events_per_p = 1 << 16);
// Stops recording (stops the world briefly so that every buffer is
// complete and safe to read). Events stay until the next start().
void stop();
// Whether recording is on.
bool enabled();
// After stop(): every recorded event, sorted by ts_ns.
std::vector<Event> events();
// Events lost to full buffers (or to Ps without one) since start().
uint64_t dropped();

// A display name: "STW sweep termination", "GC mark", "G<goid>"...
const char* kind_name(Kind k);

// Writes `ev` as a Chrome Trace Event / Perfetto JSON document:
// {"traceEvents":[...],"displayTimeUnit":"ns"}. Spans are complete ("X")
// events on pid 1, tid = P index (-1: "runtime"), timestamps in
// microseconds from the first event; heap samples are counters ("C").
void write_chrome_json(const std::vector<Event>& ev, std::FILE* out);

}  // namespace rt::trace
