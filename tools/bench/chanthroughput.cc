// rt-bench-chanthroughput: 4 producers and 4 consumers over one channel of
// capacity 128, then one goroutine draining two channels with a two-case
// select (tools/bench/README.md, "chanthroughput").
#include <chrono>
#include <cstdint>
#include <cstdio>

#include "rt/rt.h"
#include "rt/sync.h"
#include "tools/bench/flags.h"

int main(int argc, char** argv) {
  int64_t n = 4'000'000;
  rt_bench::Flags flags("rt-bench-chanthroughput");
  flags.add("n", &n, "items in phase 1");
  flags.parse(argc, argv);
  return rt::run(argc, argv, [n] {
    using clock = std::chrono::steady_clock;
    auto t0 = clock::now();
    auto ch = rt::make_chan<int64_t>(128);
    int64_t sums[4] = {};
    rt::WaitGroup producers, consumers;
    consumers.add(4);
    for (int c = 0; c < 4; c++) {
      rt::go([&, c, ch]() mutable {
        int64_t s = 0;
        for (int64_t v : ch) s += v;
        sums[c] = s;
        consumers.done();
      });
    }
    producers.add(4);
    for (int64_t p = 0; p < 4; p++) {
      rt::go([&, p, ch]() mutable {
        for (int64_t i = p * n / 4; i < (p + 1) * n / 4; i++) ch.send(i);
        producers.done();
      });
    }
    producers.wait();
    ch.close();
    consumers.wait();
    int64_t check = sums[0] + sums[1] + sums[2] + sums[3];
    auto mid = clock::now();

    int64_t q = n / 4;
    auto a = rt::make_chan<int64_t>(64), b = rt::make_chan<int64_t>(64);
    rt::go([a, q]() mutable {
      for (int64_t i = 0; i < q; i++) a.send(i);
      a.close();
    });
    rt::go([b, q]() mutable {
      for (int64_t i = q; i < 2 * q; i++) b.send(i);
      b.close();
    });
    int64_t got = 0;
    while (!a.is_nil() || !b.is_nil()) {
      rt::select(rt::recv_case(a, [&](int64_t v, bool ok) {
                   if (!ok) {
                     a = rt::Chan<int64_t>();
                   } else {
                     got += v;
                   }
                 }),
                 rt::recv_case(b, [&](int64_t v, bool ok) {
                   if (!ok) {
                     b = rt::Chan<int64_t>();
                   } else {
                     got += v;
                   }
                 }));
    }
    auto end = clock::now();
    double p1 = std::chrono::duration<double>(mid - t0).count();
    double p2 = std::chrono::duration<double>(end - mid).count();
    printf("RESULT chanthroughput n=%lld seconds=%.3f ns_per_item=%.1f select_ns_per_item=%.1f check=%lld got=%lld\n",
           static_cast<long long>(n), p1 + p2, n ? p1 * 1e9 / static_cast<double>(n) : 0.0,
           q ? p2 * 1e9 / static_cast<double>(2 * q) : 0.0, static_cast<long long>(check),
           static_cast<long long>(got));
    return 0;
  });
}
