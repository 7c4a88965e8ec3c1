// The gctrace line's formatting. See gctrace.h.
#include "gc/gctrace.h"

#include <errno.h>
#include <unistd.h>

namespace rt::collector {

namespace {

// Appends text to a bounded buffer; silently stops at the end (the line
// cannot overflow kTraceLineMax with 64-bit fields, but stay safe).
struct Out {
  char* buf;
  size_t n = 0;
  void put(char c) {
    if (n + 1 < kTraceLineMax) buf[n++] = c;
  }
  void put(const char* s) {
    while (*s) put(*s++);
  }
  // v / 10^decimals, printed with exactly `decimals` digits after the point.
  void fixed(uint64_t v, int decimals) {
    char digits[32];
    int k = 0;
    do {
      digits[k++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0 || k <= decimals);  // at least one digit before the point
    for (int i = k - 1; i >= 0; i--) {
      put(digits[i]);
      if (i == decimals && decimals > 0) put('.');
    }
  }
  void uint(uint64_t v) { fixed(v, 0); }
  void sint(int64_t v) {
    if (v < 0) {
      put('-');
      uint(static_cast<uint64_t>(-(v + 1)) + 1);
    } else {
      uint(static_cast<uint64_t>(v));
    }
  }
  // Nanoseconds as milliseconds: whole from 10 ms, else two significant
  // digits with at most three decimals (microsecond resolution).
  void ms(int64_t ns_signed) {
    uint64_t ns = ns_signed < 0 ? 0 : static_cast<uint64_t>(ns_signed);
    if (ns >= 10'000'000) return uint(ns / 1'000'000);
    uint64_t us = ns / 1000;
    if (us == 0) return put('0');
    int decimals = 3;
    while (us >= 100) {
      us /= 10;
      decimals--;
    }
    fixed(us, decimals);
  }
};

}  // namespace

size_t format_trace_line(const TraceLine& t, char* buf) {
  Out o{buf};
  o.put("gc ");
  o.uint(t.num_gc);
  o.put(" @");
  o.fixed(static_cast<uint64_t>(t.since_start_ns < 0 ? 0 : t.since_start_ns) / 1'000'000, 3);
  o.put("s ");
  o.sint(t.util_percent);
  o.put("%: ");
  for (int i = 0; i < 3; i++) {
    if (i != 0) o.put('+');
    o.ms(t.clock_ns[i]);
  }
  o.put(" ms clock, ");
  for (int i = 0; i < 5; i++) {
    if (i == 2 || i == 3) o.put('/');
    else if (i != 0) o.put('+');
    o.ms(t.cpu_ns[i]);
  }
  o.put(" ms cpu, ");
  o.uint(t.heap0 >> 20);
  o.put("->");
  o.uint(t.heap1 >> 20);
  o.put("->");
  o.uint(t.heap2 >> 20);
  o.put(" MB, ");
  o.uint(t.goal >> 20);
  o.put(" MB goal, ");
  o.uint(t.stacks >> 20);
  o.put(" MB stacks, ");
  o.uint(t.globals >> 20);
  o.put(" MB globals, ");
  o.sint(t.procs);
  o.put(" P");
  if (t.forced) o.put(" (forced)");
  o.put('\n');
  return o.n;
}

void write_trace_line(const TraceLine& t) {
  char buf[kTraceLineMax];
  size_t n = format_trace_line(t, buf);
  size_t off = 0;
  while (off < n) {
    ssize_t w = ::write(STDERR_FILENO, buf + off, n - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    off += static_cast<size_t>(w);
  }
}

}  // namespace rt::collector
