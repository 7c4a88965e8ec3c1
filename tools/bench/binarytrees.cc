// rt-bench-binarytrees: the `binarytrees` workload (tools/bench/README.md)
// on librt's collector: one stretch tree of depth+1, one long-lived tree of
// depth, then for d = 4, 6, ..., depth, 2^(depth-d+4) trees of depth d built
// and checked, each depth on a goroutine of its own. Nodes are GC'd objects
// linked through Refs. The peak heap is sampled every millisecond as heap
// bytes mapped and not released (heap_sys - heap_released, Go's
// objects + unused + free classes).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "rt/gc.h"
#include "rt/memstats.h"
#include "rt/sched.h"
#include "rt/sync.h"
#include "tools/bench/flags.h"
#include "tools/bench/pacing.h"

namespace {

struct Node {
  rt::Ref<Node> left, right;
};

Node* bottom_up(int depth) {
  Node* n = rt::make<Node>();
  if (depth > 0) {
    n->left = bottom_up(depth - 1);
    n->right = bottom_up(depth - 1);
  }
  return n;
}

int64_t check(const Node* n) {
  if (!n->left) return 1;
  return 1 + check(n->left.get()) + check(n->right.get());
}

constexpr int kMinDepth = 4;

}  // namespace

int main(int argc, char** argv) {
  int64_t depth = 21;
  rt_bench::Flags flags("rt-bench-binarytrees");
  flags.add("depth", &depth, "maximum tree depth");
  flags.parse(argc, argv);
  int max_depth = static_cast<int>(std::max<int64_t>(depth, kMinDepth + 2));
  if (depth > 30) {
    fprintf(stderr, "binarytrees: -depth must be <= 30\n");
    return 2;
  }
  return rt::run(argc, argv, [&] {
    rt::GcStats s0 = rt::gc_stats();
    rt_bench::PacingSampler pacing;
    auto start = std::chrono::steady_clock::now();
    int64_t total = check(bottom_up(max_depth + 1));
    rt::Root<Node> long_lived(bottom_up(max_depth));
    int nd = (max_depth - kMinDepth) / 2 + 1;
    std::vector<int64_t> results(static_cast<size_t>(nd));
    rt::WaitGroup wg;
    for (int k = 0; k < nd; k++) {
      wg.go([k, max_depth, &results] {
        int d = kMinDepth + 2 * k;
        int64_t iters = int64_t{1} << (max_depth - d + kMinDepth);
        int64_t c = 0;
        for (int64_t i = 0; i < iters; i++) c += check(bottom_up(d));
        results[static_cast<size_t>(k)] = c;
      });
    }
    wg.wait();
    for (int64_t c : results) total += c;
    total += check(long_lived.get());
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    pacing.stop();
    rt::GcStats s1 = rt::gc_stats();
    uint64_t gcs = s1.cycles - s0.cycles;
    int64_t max_pause = 0;
    for (uint64_t c = 0; c < std::min<uint64_t>(gcs, 256); c++)
      max_pause = std::max(max_pause, s1.pause_ns[(s1.cycles - 1 - c) % 256]);
    printf("RESULT binarytrees depth=%d seconds=%.3f gcs=%llu max_pause_us=%.1f peak_heap_mb=%.1f check=%lld "
           "gc_cpu_pct=%.1f peak_heap_goal=%.3f\n",
           max_depth, secs, static_cast<unsigned long long>(gcs), max_pause / 1e3,
           static_cast<double>(pacing.peak_heap_mapped()) / (1 << 20), static_cast<long long>(total),
           rt_bench::PacingSampler::gc_cpu_percent(), pacing.peak_heap_over_goal());
    return 0;
  });
}
