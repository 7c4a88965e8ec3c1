// rt-bench-idle: resident memory of n goroutines parked on one channel
// receive (tools/bench/README.md, "idle").
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "rt/rt.h"
#include "rt/sync.h"
#include "tools/bench/flags.h"

namespace {

long vmrss_kb() {
  FILE* f = fopen("/proc/self/status", "r");
  if (!f) return 0;
  char line[256];
  long kb = 0;
  while (fgets(line, sizeof(line), f)) {
    if (strncmp(line, "VmRSS:", 6) == 0) {
      kb = strtol(line + 6, nullptr, 10);
      break;
    }
  }
  fclose(f);
  return kb;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t n = 100'000;
  rt_bench::Flags flags("rt-bench-idle");
  flags.add("n", &n, "goroutines");
  flags.parse(argc, argv);
  return rt::run(argc, argv, [n] {
    auto ch = rt::make_chan<int>();
    rt::WaitGroup started, done;
    started.add(static_cast<int>(n));
    done.add(static_cast<int>(n));
    long before = vmrss_kb();
    auto t0 = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < n; i++) {
      rt::go([&, ch]() mutable {
        started.done();
        ch.recv();
        done.done();
      });
    }
    started.wait();
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    long after = vmrss_kb();
    ch.close();
    done.wait();
    printf("RESULT idle n=%lld bytes_per_goroutine=%.0f spawn_ns=%.1f rss_before_kb=%ld rss_after_kb=%ld\n",
           static_cast<long long>(n), n ? (after - before) * 1024.0 / static_cast<double>(n) : 0.0,
           n ? secs * 1e9 / static_cast<double>(n) : 0.0, before, after);
    return 0;
  });
}
