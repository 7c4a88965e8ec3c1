// rt-bench-alloc: the `alloc` workload (tools/bench/README.md) on librt's
// collector. n allocations alternate a 56-byte node holding one pointer (a
// GC'd scan object with an rt::Ref) and a pointer-free 16..72-byte buffer
// (a GC'd noscan array); one node in 1024 is linked into a list that is
// dropped every 2^20 allocations; everything else is garbage at once, left
// to the collector exactly as Go's peer leaves it.
#include <chrono>
#include <cstdint>
#include <cstdio>

#include "rt/gc.h"
#include "rt/sched.h"
#include "tools/bench/flags.h"
#include "tools/bench/pacing.h"

namespace {

struct Node {
  rt::Ref<Node> next;
  int64_t payload[6] = {};
};
static_assert(sizeof(Node) == 56);

// Keeps the last object alive across iterations so the compiler cannot drop
// the allocations (the Go peer stores into a global sink the same way).
void* volatile g_sink;

}  // namespace

int main(int argc, char** argv) {
  int64_t n = 50'000'000;
  rt_bench::Flags flags("rt-bench-alloc");
  flags.add("n", &n, "number of allocations");
  flags.parse(argc, argv);
  return rt::run(argc, argv, [&] {
    rt::Root<Node> head;
    int64_t listlen = 0, check = 0;
    uint64_t gc0 = rt::gc_stats().cycles;
    rt_bench::PacingSampler pacing;
    auto t0 = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < n; i++) {
      if ((i & 1) == 0) {
        Node* node = rt::make<Node>();
        node->payload[0] = i;
        if (i % 1024 == 0) {
          node->next = head.get();
          head = node;
          listlen++;
        } else {
          g_sink = node;
        }
      } else {
        size_t size = 16 + static_cast<size_t>((i / 2) % 8) * 8;
        auto* buf = rt::make_array<unsigned char>(size);
        buf[0] = static_cast<unsigned char>(i);
        g_sink = buf;
      }
      if ((i + 1) % (int64_t{1} << 20) == 0) {
        head = nullptr;
        check += listlen;
        listlen = 0;
      }
    }
    head = nullptr;
    check += listlen;
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    pacing.stop();
    printf("RESULT alloc n=%lld seconds=%.3f ns_per_alloc=%.2f gcs=%llu check=%lld gc_cpu_pct=%.1f "
           "peak_heap_goal=%.3f\n",
           static_cast<long long>(n),
           secs, n > 0 ? secs * 1e9 / static_cast<double>(n) : 0.0,
           static_cast<unsigned long long>(rt::gc_stats().cycles - gc0), static_cast<long long>(check),
           rt_bench::PacingSampler::gc_cpu_percent(), pacing.peak_heap_over_goal());
    return 0;
  });
}
