// rt-bench-pingpong: two goroutines bounce an int over two unbuffered
// channels n times (tools/bench/README.md, "pingpong"). -trace N records
// an rt::trace with N events per P meanwhile (the tracer's cost).
#include <chrono>
#include <cstdint>
#include <cstdio>

#include "rt/rt.h"
#include "tools/bench/flags.h"

int main(int argc, char** argv) {
  int64_t n = 2'000'000;
  int64_t trace = 0;
  rt_bench::Flags flags("rt-bench-pingpong");
  flags.add("n", &n, "round trips");
  flags.add("trace", &trace, "record an rt::trace of this many events per P (0: off)");
  flags.parse(argc, argv);
  return rt::run(argc, argv, [n, trace] {
    if (trace > 0) rt::trace::start(static_cast<size_t>(trace));
    auto ping = rt::make_chan<int64_t>(), pong = rt::make_chan<int64_t>();
    auto finished = rt::make_chan<bool>(1);
    auto t0 = std::chrono::steady_clock::now();
    rt::go([=]() mutable {
      for (int64_t i = 0; i < n; i++) pong.send(ping.recv() + 1);
      finished.send(true);
    });
    int64_t v = 0;
    for (int64_t i = 0; i < n; i++) {
      ping.send(v);
      v = pong.recv();
    }
    finished.recv();
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (trace > 0) {
      rt::trace::stop();
      printf("TRACE events=%zu dropped=%llu\n", rt::trace::events().size(),
             static_cast<unsigned long long>(rt::trace::dropped()));
    }
    printf("RESULT pingpong n=%lld seconds=%.3f ns_per_roundtrip=%.1f v=%lld\n",
           static_cast<long long>(n), secs, n ? secs * 1e9 / static_cast<double>(n) : 0.0,
           static_cast<long long>(v));
    return 0;
  });
}
