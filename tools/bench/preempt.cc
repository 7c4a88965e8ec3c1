// rt-bench-preempt: with one P, two goroutines spin in loops with no calls
// and no allocation while main sleeps 1 ms `samples` times and measures how
// late each wake-up is (tools/bench/README.md, "preempt"). Only
// asynchronous preemption can let main run.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "rt/rt.h"
#include "tools/bench/flags.h"

namespace {

std::atomic<int> g_stop{0};
std::atomic<uint64_t> g_spins[2];

// No calls, no allocation: a relaxed atomic keeps the loop honest without
// giving the runtime a safe point.
[[gnu::noinline]] void spin(int id) {
  uint64_t n = 0;
  while (g_stop.load(std::memory_order_relaxed) == 0) n++;
  g_spins[id].store(n, std::memory_order_relaxed);
}

double nearest_rank(const std::vector<double>& sorted, double q) {
  size_t k = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[k == 0 ? 0 : k - 1];
}

}  // namespace

int main(int argc, char** argv) {
  int64_t samples = 100;
  rt_bench::Flags flags("rt-bench-preempt");
  flags.add("samples", &samples, "number of 1 ms sleeps measured");
  flags.parse(argc, argv);
  if (samples < 1) {
    fprintf(stderr, "rt-bench-preempt: -samples must be at least 1\n");
    return 2;
  }
  return rt::run(argc, argv, [samples] {
    rt::gomaxprocs(1);
    rt::go([] { spin(0); });
    rt::go([] { spin(1); });
    rt::gosched();
    std::vector<double> late;
    for (int64_t i = 0; i < samples; i++) {
      auto t0 = std::chrono::steady_clock::now();
      rt::sleep(std::chrono::milliseconds(1));
      double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() - 1.0;
      late.push_back(ms < 0 ? 0 : ms);
    }
    g_stop.store(1);
    std::sort(late.begin(), late.end());
    printf("RESULT preempt samples=%lld late_p50_ms=%.3f late_p99_ms=%.3f late_max_ms=%.3f\n",
           static_cast<long long>(samples), nearest_rank(late, 0.5), nearest_rank(late, 0.99),
           late.back());
    return 0;
  });
}
