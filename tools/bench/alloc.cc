// rt-bench-alloc: the `alloc` workload (tools/bench/README.md) on librt's
// allocator. n allocations alternate a 56-byte node holding one pointer
// (scan class) and a pointer-free 16..72-byte buffer (noscan class); one
// object in 1024 is linked into a list that is dropped every 2^20
// allocations; everything else is garbage at once. Until the collector
// lands, garbage is returned with the allocator's explicit free, exactly as
// the malloc/free peers do.
#include <chrono>
#include <cstdint>
#include <cstdio>

#include "alloc/malloc.h"
#include "rt/memstats.h"
#include "tools/bench/flags.h"

namespace {

struct Node {
  Node* next;
  int64_t payload[6];
};
static_assert(sizeof(Node) == 56);

// Keeps the last object alive across iterations so the compiler cannot drop
// the allocations (the Go peer stores into a global sink the same way).
void* volatile g_sink;

void drop_list(Node* head) {
  while (head) {
    Node* next = head->next;
    rt::alloc::free_object(head);
    head = next;
  }
}

}  // namespace

int main(int argc, char** argv) {
  int64_t n = 50'000'000;
  rt_bench::Flags flags("rt-bench-alloc");
  flags.add("n", &n, "number of allocations");
  flags.parse(argc, argv);

  using rt::alloc::kNoScan;
  using rt::alloc::kScan;
  Node* head = nullptr;
  int64_t listlen = 0, check = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < n; i++) {
    if ((i & 1) == 0) {
      auto* node = static_cast<Node*>(rt::alloc::allocate(sizeof(Node), kScan));
      node->payload[0] = i;
      if (i % 1024 == 0) {
        node->next = head;
        head = node;
        listlen++;
      } else {
        node->next = nullptr;
        g_sink = node;
        rt::alloc::free_object(node);
      }
    } else {
      size_t size = 16 + static_cast<size_t>((i / 2) % 8) * 8;
      auto* buf = static_cast<unsigned char*>(rt::alloc::allocate(size, kNoScan));
      buf[0] = static_cast<unsigned char>(i);
      g_sink = buf;
      rt::alloc::free_object(buf);
    }
    if ((i + 1) % (int64_t{1} << 20) == 0) {
      drop_list(head);
      head = nullptr;
      check += listlen;
      listlen = 0;
    }
  }
  drop_list(head);
  check += listlen;
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  printf("RESULT alloc n=%lld seconds=%.3f ns_per_alloc=%.2f gcs=0 check=%lld\n",
         static_cast<long long>(n), secs, n > 0 ? secs * 1e9 / static_cast<double>(n) : 0.0,
         static_cast<long long>(check));
  return 0;
}
