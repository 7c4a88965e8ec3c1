// rt::trace's Chrome Trace Event writer: spans as complete ("X") events,
// heap samples as counters ("C"), and metadata ("M") naming the process
// and one thread per P (tid -1: the runtime's events with no P). Perfetto
// and chrome://tracing load it. Times are microseconds (with nanosecond
// fractions) from the first event.
#include <algorithm>
#include <cinttypes>
#include <set>

#include "rt/trace.h"

namespace rt::trace {

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::kStwSweepTermination: return "STW sweep termination";
    case Kind::kStwMarkTermination: return "STW mark termination";
    case Kind::kGcCycle: return "GC cycle";
    case Kind::kGcMark: return "GC mark";
    case Kind::kMarkWorkerDedicated: return "mark worker (dedicated)";
    case Kind::kMarkWorkerFractional: return "mark worker (fractional)";
    case Kind::kMarkWorkerIdle: return "mark worker (idle)";
    case Kind::kAssist: return "assist";
    case Kind::kGoRun: return "G";
    case Kind::kHeapSample: return "heap";
  }
  return "unknown";
}

namespace {

// Microseconds, printed exactly from nanoseconds (no floating rounding).
void put_us(std::FILE* out, uint64_t ns) {
  std::fprintf(out, "%" PRIu64 ".%03" PRIu64, ns / 1000, ns % 1000);
}

const char* category(Kind k) {
  switch (k) {
    case Kind::kGoRun: return "goroutine";
    case Kind::kHeapSample: return "heap";
    default: return "gc";
  }
}

}  // namespace

void write_chrome_json(const std::vector<Event>& ev, std::FILE* out) {
  uint64_t t0 = UINT64_MAX;
  std::set<int32_t> tids;
  for (const Event& e : ev) {
    t0 = std::min(t0, e.ts_ns);
    tids.insert(e.p);
  }
  if (t0 == UINT64_MAX) t0 = 0;
  std::fputs("{\"traceEvents\":[\n", out);
  std::fputs(R"({"name":"process_name","ph":"M","pid":1,"tid":0,"args":{"name":"librt"}})", out);
  for (int32_t tid : tids) {
    std::fprintf(out, ",\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":%d,\"args\":{\"name\":", tid);
    if (tid < 0) {
      std::fputs("\"runtime\"}}", out);
    } else {
      std::fprintf(out, "\"P%d\"}}", tid);
    }
    // Sort the runtime row first, then the Ps in order.
    std::fprintf(out, ",\n{\"name\":\"thread_sort_index\",\"ph\":\"M\",\"pid\":1,\"tid\":%d,\"args\":{\"sort_index\":%d}}",
                 tid, tid);
  }
  for (const Event& e : ev) {
    std::fputs(",\n", out);
    if (e.kind == Kind::kHeapSample) {
      std::fputs(R"({"name":"heap","ph":"C","pid":1,"tid":)", out);
      std::fprintf(out, "%d,\"ts\":", e.p);
      put_us(out, e.ts_ns - t0);
      std::fprintf(out, ",\"args\":{\"live\":%" PRIu64 ",\"goal\":%" PRIu64 "}}", e.arg, e.arg2);
      continue;
    }
    if (e.kind == Kind::kGoRun) {
      std::fprintf(out, "{\"name\":\"G%" PRIu64 "\"", e.g);
    } else {
      std::fprintf(out, "{\"name\":\"%s\"", kind_name(e.kind));
    }
    std::fprintf(out, ",\"cat\":\"%s\",\"ph\":\"X\",\"pid\":1,\"tid\":%d,\"ts\":", category(e.kind), e.p);
    put_us(out, e.ts_ns - t0);
    std::fputs(",\"dur\":", out);
    put_us(out, e.dur_ns);
    std::fprintf(out, ",\"args\":{\"g\":%" PRIu64 ",\"arg\":%" PRIu64 "}}", e.g, e.arg);
  }
  std::fputs("\n],\"displayTimeUnit\":\"ns\"}\n", out);
}

}  // namespace rt::trace
