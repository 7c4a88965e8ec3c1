// C++ peer of the alloc workload on a malloc/free allocator: the same mix as
// the Go peer (56-byte node with one pointer, pointer-free 16..72-byte
// buffer, one object in 1024 kept on a list dropped every 2^20
// allocations), but every object that Go would drop is freed at once.
// Built twice: PEER_MIMALLOC=1 calls mi_malloc/mi_free explicitly (linking
// Debian's libmimalloc also overrides malloc, so the glibc build must not
// link it); otherwise glibc's malloc/free. Like malloc, the peer writes only
// the fields the workload sets and zeroes nothing. See tools/bench/README.md.
#include <cstdint>
#include <cstdio>

#include "peer_common.h"

#if PEER_MIMALLOC
#include <mimalloc.h>
#define PEER_ALLOC(sz) mi_malloc(sz)
#define PEER_FREE(p) mi_free(p)
static const char* const kAllocator = "mimalloc";
#else
#include <cstdlib>
#define PEER_ALLOC(sz) std::malloc(sz)
#define PEER_FREE(p) std::free(p)
static const char* const kAllocator = "glibc";
#endif

namespace {

struct Node {
  Node* next;
  int64_t payload[6];
};
static_assert(sizeof(Node) == 56);

void* must_alloc(size_t size) {
  void* p = PEER_ALLOC(size);
  if (p == nullptr) {
    std::fprintf(stderr, "alloc: out of memory\n");
    std::exit(1);
  }
  return p;
}

int64_t free_list(Node*& head) {
  int64_t len = 0;
  while (head != nullptr) {
    Node* next = head->next;
    PEER_FREE(head);
    head = next;
    ++len;
  }
  return len;
}

}  // namespace

int main(int argc, char** argv) {
  peer::Flags flags("alloc");
  int64_t& n = flags.int_flag("n", 50000000, "number of allocations");
  flags.parse(argc, argv);
  peer::require(n >= 0, "alloc", "-n must be >= 0");

  Node* head = nullptr;
  int64_t check = 0, listlen = 0;
  auto start = peer::Clock::now();
  for (int64_t i = 0; i < n; ++i) {
    if (i % 2 == 0) {
      auto* nd = static_cast<Node*>(must_alloc(sizeof(Node)));
      nd->next = nullptr;
      nd->payload[0] = i;
      peer::escape(nd);
      if (i % 1024 == 0) {
        nd->next = head;
        head = nd;
        ++listlen;
      } else {
        PEER_FREE(nd);
      }
    } else {
      size_t size = 16 + static_cast<size_t>((i / 2) % 8) * 8;
      auto* buf = static_cast<unsigned char*>(must_alloc(size));
      buf[0] = static_cast<unsigned char>(i);
      peer::escape(buf);
      PEER_FREE(buf);
    }
    if ((i + 1) % (int64_t{1} << 20) == 0) {
      int64_t freed = free_list(head);
      if (freed != listlen) std::fprintf(stderr, "alloc: list length mismatch\n");
      check += listlen;
      listlen = 0;
    }
  }
  free_list(head);
  check += listlen;
  int64_t ns = peer::ns_since(start);

  double per = n > 0 ? static_cast<double>(ns) / static_cast<double>(n) : 0.0;
  std::printf("RESULT alloc n=%lld seconds=%.3f ns_per_alloc=%.2f gcs=0 check=%lld allocator=%s\n",
              static_cast<long long>(n), static_cast<double>(ns) / 1e9, per,
              static_cast<long long>(check), kAllocator);
  return 0;
}
