// rt-bench-mutex: g goroutines each do k lock / increment / unlock on one
// rt::Mutex (tools/bench/README.md, "mutex").
#include <chrono>
#include <cstdint>
#include <cstdio>

#include "rt/rt.h"
#include "rt/sync.h"
#include "tools/bench/flags.h"

int main(int argc, char** argv) {
  int64_t g = 64, k = 100'000;
  rt_bench::Flags flags("rt-bench-mutex");
  flags.add("g", &g, "goroutines");
  flags.add("k", &k, "lock/unlock pairs per goroutine");
  flags.parse(argc, argv);
  return rt::run(argc, argv, [g, k] {
    rt::Mutex mu;
    int64_t counter = 0;
    rt::WaitGroup wg;
    auto t0 = std::chrono::steady_clock::now();
    wg.add(static_cast<int>(g));
    for (int64_t i = 0; i < g; i++) {
      rt::go([&] {
        for (int64_t j = 0; j < k; j++) {
          mu.lock();
          counter++;
          mu.unlock();
        }
        wg.done();
      });
    }
    wg.wait();
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    mu.lock();
    int64_t c = counter;
    mu.unlock();
    double ops = static_cast<double>(g * k);
    printf("RESULT mutex g=%lld k=%lld seconds=%.3f ns_per_op=%.1f counter=%lld\n",
           static_cast<long long>(g), static_cast<long long>(k), secs, ops > 0 ? secs * 1e9 / ops : 0.0,
           static_cast<long long>(c));
    return 0;
  });
}
