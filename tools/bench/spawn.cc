// rt-bench-spawn: n goroutines each add to an atomic and call Done on a
// WaitGroup; main waits (tools/bench/README.md, "spawn").
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>

#include "rt/rt.h"
#include "rt/sync.h"
#include "tools/bench/flags.h"

int main(int argc, char** argv) {
  int64_t n = 1'000'000;
  rt_bench::Flags flags("rt-bench-spawn");
  flags.add("n", &n, "goroutines");
  flags.parse(argc, argv);
  return rt::run(argc, argv, [n] {
    std::atomic<int64_t> sum{0};
    rt::WaitGroup wg;
    auto t0 = std::chrono::steady_clock::now();
    wg.add(static_cast<int>(n));
    for (int64_t i = 0; i < n; i++) {
      rt::go([&sum, &wg, i] {
        sum.fetch_add(i + 1, std::memory_order_relaxed);
        wg.done();
      });
    }
    wg.wait();
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    printf("RESULT spawn n=%lld seconds=%.3f ns_per_goroutine=%.1f sum=%lld\n",
           static_cast<long long>(n), secs, n ? secs * 1e9 / static_cast<double>(n) : 0.0,
           static_cast<long long>(sum.load()));
    return 0;
  });
}
