// The collector torture's workload: a private random graph of checksummed
// nodes, rewired one random step at a time through barriered Ref stores.
// Each step reads two random slots' nodes (and one neighbour of each),
// checks them, then does one of: replace a slot's node with a fresh one
// (the old one may die), move a reference out of the heap and back
// (exercises the deletion barrier), chain through a fresh node, or cross-
// link. A node freed under a holder shows as a broken checksum.
// Used by gc_concurrent_test.cc (for a number of stores) and by rt-soak
// (until told to stop); each passes its own check of a node. Free of gtest.
//
// Outside namespace rt: test code must stay preemptible.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>

#include "gc_checksummed.h"
#include "rt/gc.h"
#include "rt/ref.h"
#include "rt/root.h"

namespace gctest {

struct GraphNode : Checksummed<0x600df00d600df00dULL> {
  using Checksummed::Checksummed;
  rt::Ref<GraphNode> a;
  rt::Ref<GraphNode> b;
};

class RewireGraph {
 public:
  static constexpr size_t kSlots = 2048;

  // A graph of kSlots slots, each holding a fresh node, rooted while this
  // object lives.
  explicit RewireGraph(uint64_t seed) : slots_(rt::make_array<Slot>(kSlots)), rng_(seed) {
    for (size_t i = 0; i < kSlots; i++) slots_.get()[i].node = rt::make<GraphNode>(rng_());
  }

  // One rewiring step; check(const GraphNode*) is called on the nodes it
  // reads (never with null). Returns the number of Ref stores done.
  template <typename Check>
  uint64_t step(Check&& check) {
    Slot* s = slots_.get();
    GraphNode* x = s[rng_() % kSlots].node.get();
    GraphNode* y = s[rng_() % kSlots].node.get();
    check_node(check, x);
    check_node(check, y);
    check_node(check, x->a.get());
    check_node(check, y->b.get());
    switch (rng_() % 4) {
      case 0:  // a fresh node replaces a slot's node: the old one may die
        s[rng_() % kSlots].node = rt::make<GraphNode>(rng_());
        return 1;
      case 1:  // move a reference out of the heap and back (deletion barrier)
        x->a = y->b;
        y->b = nullptr;
        return 2;
      case 2:  // chains through fresh nodes
        y->a = rt::make<GraphNode>(rng_());
        y->a->b = x;
        return 2;
      default:
        x->b = y;
        y->a = x->a;
        return 2;
    }
  }

  // Checks every slot's node and its two neighbours.
  template <typename Check>
  void check_all(Check&& check) const {
    for (size_t i = 0; i < kSlots; i++) {
      const GraphNode* n = slots_.get()[i].node.get();
      check_node(check, n);
      if (n) {
        check_node(check, n->a.get());
        check_node(check, n->b.get());
      }
    }
  }

 private:
  struct Slot {
    rt::Ref<GraphNode> node;
  };

  template <typename Check>
  static void check_node(Check& check, const GraphNode* n) {
    if (n) check(n);
  }

  rt::Root<Slot> slots_;
  std::mt19937_64 rng_;
};

}  // namespace gctest
