// Boehm GC peer of the binarytrees workload (Benchmarks Game binary-trees):
// nodes from GC_MALLOC, a stretch tree of depth+1 and a long-lived tree of
// depth built by main, then the depths d = 4, 6, ..., depth (2^(depth-d+4)
// trees each) taken in increasing order from a shared counter by two
// threads registered with the collector. gcs from GC_get_gc_no, pauses from
// Boehm's stop-the-world events, peak heap from GC_get_heap_size (sampled
// every millisecond and on each heap resize). See tools/bench/README.md.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "boehm_stats.h"
#include "peer_common.h"

namespace {

struct Node {
  Node* left;
  Node* right;
};

constexpr int kMinDepth = 4;

Node* bottom_up(int depth) {
  Node* l = nullptr;
  Node* r = nullptr;
  if (depth > 0) {
    l = bottom_up(depth - 1);
    r = bottom_up(depth - 1);
  }
  auto* n = static_cast<Node*>(GC_MALLOC(sizeof(Node)));  // zeroed by Boehm
  if (n == nullptr) {
    std::fprintf(stderr, "binarytrees: out of memory\n");
    std::exit(1);
  }
  n->left = l;
  n->right = r;
  return n;
}

int64_t check(const Node* n) {
  if (n->left == nullptr) return 1;
  return 1 + check(n->left) + check(n->right);
}

}  // namespace

int main(int argc, char** argv) {
  peer::Flags flags("binarytrees");
  int64_t& depth_flag = flags.int_flag("depth", 21, "maximum tree depth");
  flags.parse(argc, argv);
  peer::require(depth_flag <= 30, "binarytrees", "-depth must be <= 30");
  const int max_depth = static_cast<int>(std::max<int64_t>(depth_flag, kMinDepth + 2));

  GC_INIT();
  GC_allow_register_threads();
  peer::boehm::install();
  const GC_word gc0 = GC_get_gc_no();

  // The sampler reads a counter and touches no GC memory: it stays unregistered.
  std::atomic<bool> stop{false};
  std::thread sampler([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      peer::boehm::note_heap();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });

  auto start = peer::Clock::now();
  int64_t total = check(bottom_up(max_depth + 1));
  Node* long_lived = bottom_up(max_depth);

  const int nd = (max_depth - kMinDepth) / 2 + 1;
  std::vector<int64_t> results(static_cast<size_t>(nd), 0);
  std::atomic<int> next{0};
  auto worker = [&] {
    GC_stack_base sb;
    GC_get_stack_base(&sb);
    GC_register_my_thread(&sb);
    for (int k; (k = next.fetch_add(1)) < nd;) {
      int d = kMinDepth + 2 * k;
      int64_t iters = int64_t{1} << (max_depth - d + kMinDepth);
      int64_t c = 0;
      for (int64_t i = 0; i < iters; ++i) c += check(bottom_up(d));
      results[static_cast<size_t>(k)] = c;
    }
    GC_unregister_my_thread();
  };
  std::thread t1(worker), t2(worker);
  t1.join();
  t2.join();
  for (int64_t c : results) total += c;
  total += check(long_lived);
  int64_t ns = peer::ns_since(start);

  stop.store(true);
  sampler.join();
  peer::boehm::note_heap();
  GC_word gcs = GC_get_gc_no() - gc0;
  std::printf(
      "RESULT binarytrees depth=%d seconds=%.3f gcs=%lu max_pause_us=%.1f peak_heap_mb=%.1f "
      "check=%lld\n",
      max_depth, static_cast<double>(ns) / 1e9, static_cast<unsigned long>(gcs),
      static_cast<double>(peer::boehm::g_stats.max_cycle_ns) / 1e3,
      static_cast<double>(peer::boehm::g_stats.peak_heap.load()) / (1 << 20),
      static_cast<long long>(total));
  return 0;
}
