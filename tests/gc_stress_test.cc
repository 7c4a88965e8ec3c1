// The collector under load: rt::gc() from several goroutines at once;
// goroutines that keep allocating and rewiring checksummed linked
// structures (private lists and one shared graph under a Mutex) while
// cycles run back to back, explicit and allocation-triggered, with
// asynchronous preemption on: no node is ever freed while reachable (its
// magic and the checksums hold) and no destructor runs twice; and a
// program that only allocates garbage stays within a bounded heap.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "gc_test_util.h"
#include "rt/memstats.h"
#include "rt/sync.h"

using namespace gctest;

namespace {

class GcStress : public gotest::ProcsTest {};
GOTEST_PROCS_SUITE(GcStress);

TEST_P(GcStress, ConcurrentGcCalls) {
  run_gc_test(procs(), [] {
    uint64_t c0 = rt::gc_stats().cycles;
    rt::WaitGroup wg;
    for (int g = 0; g < 4; g++) {
      wg.go([] {
        for (int i = 0; i < 5; i++) {
          Tracked* keep = rt::make<Tracked>(0, 42);
          rt::gc();
          EXPECT_EQ(keep->value, 42u);
          EXPECT_EQ(keep->magic, Tracked::kAlive);
          rt::keep_alive(keep);
        }
      });
    }
    wg.wait();
    EXPECT_GE(rt::gc_stats().cycles, c0 + 20);
    EXPECT_EQ(g_double_destroyed.load(), 0);
  });
}

// A node of a checksummed list: value_check = ~value.
struct Node {
  Node(uint64_t v) : value(v), check(~v) {}
  ~Node() {
    if (magic != kAlive) g_double_destroyed++;
    magic = 0;
  }
  static constexpr uint64_t kAlive = 0xfeedfacecafebeefULL;
  uint64_t magic = kAlive;
  uint64_t value;
  uint64_t check;
  rt::Ref<Node> next;
  rt::Ref<Node> link;  // random cross links in the shared graph
  char pad[24] = {};
};

bool node_ok(const Node* n) { return n->magic == Node::kAlive && n->check == ~n->value; }

TEST_P(GcStress, MutatorsAndCyclesNeverBreakStructures) {
  run_gc_test(procs(), [] {
    constexpr int kWorkers = 4;
    constexpr int kRounds = 20000;
    std::atomic<uint64_t> errors{0};
    std::atomic<bool> stop{false};
    rt::Mutex mu;
    rt::Root<rt::Ref<Node>> shared = rt::make_array<rt::Ref<Node>>(64);
    for (int i = 0; i < 64; i++) shared.get()[i] = rt::make<Node>(i);
    uint64_t c0 = rt::gc_stats().cycles;
    rt::WaitGroup collectors;
    collectors.go([&] {
      while (!stop.load()) {
        rt::gc();
        rt::gosched();
      }
    });
    rt::WaitGroup wg;
    for (int w = 0; w < kWorkers; w++) {
      wg.go([&, w] {
        std::mt19937_64 rng(w * 7919 + 1);
        Node* head = nullptr;  // private list, held on this goroutine's stack
        uint64_t len = 0, sum = 0;
        for (int r = 0; r < kRounds; r++) {
          // Push a few, pop one: the list grows and sheds garbage.
          for (int k = 0; k < 3; k++) {
            Node* n = rt::make<Node>(rng() % 1000);
            n->next = head;
            head = n;
            len++;
            sum += n->value;
          }
          sum -= head->value;
          head = head->next.get();
          len--;
          if (len > 200) {  // drop the tail: garbage
            Node* p = head;
            for (int i = 0; i < 100; i++) p = p->next.get();
            Node* q = p->next.get();
            p->next = nullptr;
            for (; q; q = q->next.get()) {
              sum -= q->value;
              len--;
            }
          }
          if (r % 50 == 0) {
            uint64_t s = 0, l = 0;
            for (Node* p = head; p; p = p->next.get()) {
              if (!node_ok(p)) errors++;
              s += p->value;
              l++;
            }
            if (s != sum || l != len) errors++;
          }
          // Rewire the shared graph.
          std::lock_guard<rt::Mutex> g(mu);
          size_t a = rng() % 64, b = rng() % 64;
          Node* fresh = rt::make<Node>(a * 1000 + r);
          fresh->link = shared.get()[b];
          shared.get()[a] = fresh;
          for (int i = 0; i < 64; i++) {
            Node* n = shared.get()[i].get();
            if (!node_ok(n)) errors++;
            if (n->link && !node_ok(n->link.get())) errors++;
          }
        }
        rt::keep_alive(head);
      });
    }
    wg.wait();
    stop = true;
    collectors.wait();
    EXPECT_EQ(errors.load(), 0u);
    EXPECT_EQ(g_double_destroyed.load(), 0);
    EXPECT_GT(rt::gc_stats().cycles, c0);
  });
}

TEST_P(GcStress, AllocationTriggersCyclesAndBoundsTheHeap) {
  run_gc_test(procs(), [] {
    full_gc();  // the trigger follows this test's live heap, not the last test's
    uint64_t c0 = rt::gc_stats().cycles;
    // 400 MiB of garbage in 64-byte-class objects with a small live set.
    rt::Root<Tracked> live;
    uint64_t max_inuse = 0;
    for (int i = 0; i < 400 * 1024 * 1024 / 64; i++) {
      Tracked* t = rt::make<Tracked>(0, i);
      if (i % 1000 == 0) {
        t->next = live.get();
        live = t;
      }
      if (i % (1 << 18) == 0) {
        uint64_t inuse = rt::read_mem_stats().heap_inuse;
        if (inuse > max_inuse) max_inuse = inuse;
      }
    }
    rt::GcStats s = rt::gc_stats();
    EXPECT_GE(s.cycles, c0 + 10) << "allocation did not trigger cycles; trigger " << s.trigger_bytes << " live "
                                 << s.live_bytes;
    EXPECT_LT(max_inuse, uint64_t{128} << 20) << "the heap grew without bound";
    uint64_t n = 0;
    for (Tracked* p = live.get(); p; p = p->next.get()) {
      ASSERT_EQ(p->magic, Tracked::kAlive);
      n++;
    }
    EXPECT_EQ(n, 400u * 1024 * 1024 / 64 / 1000 + 1);
  });
}

}  // namespace
