// The soak's workloads (tests/soak/soak.cc runs them together):
//   - rewire: a goroutine rewires its own random graph of checksummed
//     nodes through Refs (tests/rewire_graph.h, the collector torture of
//     gc_concurrent_test.cc, run until told to stop) and checks every
//     node it touches;
//   - pipeline: producers make checksummed messages and send them as raw
//     pointers on a buffered channel, relays check them and pass them on
//     as rt::Ref on an unbuffered one, consumers check them again. While
//     in flight the channel (or a goroutine's stack) holds the only
//     reference, so each move the channel makes while marking must shade.
// A broken checksum or a second destruction is counted, never fatal here:
// the driver reports the counts and fails the run.
//
// Outside namespace rt: this code must stay preemptible.
#pragma once

#include <atomic>
#include <cstdint>
#include <random>

#include "rt/chan.h"
#include "rt/gc.h"
#include "rt/ref.h"
#include "rt/root.h"
#include "rt/sync.h"
#include "tests/rewire_graph.h"

namespace soak {

struct Counters {
  std::atomic<uint64_t> writes{0};            // Ref stores done by rewire
  std::atomic<uint64_t> verified{0};          // objects whose checksum was checked
  std::atomic<uint64_t> messages{0};          // messages that reached a consumer
  std::atomic<uint64_t> checksum_errors{0};   // checks that failed
};

// The rewired graph's node (the message payload too), and the shared
// double-destruction count.
using gctest::Checksummed;
using gctest::g_double_destroyed;
using Node = gctest::GraphNode;

struct Message : Checksummed<0x3e55a9e03e55a9e0ULL> {
  Message(uint64_t v, uint64_t seq) : Checksummed(v), seq(seq), seq_check(~seq) {}
  bool intact() const { return ok() && seq_check == ~seq; }
  uint64_t seq;
  uint64_t seq_check;
  rt::Ref<Node> payload;  // a small graph hanging off the message
};

inline void verify(Counters& c, const Node* n) {
  if (!n) return;
  c.verified.fetch_add(1, std::memory_order_relaxed);
  if (!n->ok()) c.checksum_errors++;
}

inline void verify(Counters& c, const Message* m) {
  c.verified.fetch_add(1, std::memory_order_relaxed);
  if (!m->intact()) {
    c.checksum_errors++;
    return;
  }
  const Node* p = m->payload.get();
  verify(c, p);
  if (p && p->ok()) verify(c, p->a.get());
}

// Rewires a private graph (tests/rewire_graph.h) until stop is set.
inline void rewire(uint64_t seed, const std::atomic<bool>& stop, Counters& c) {
  gctest::RewireGraph graph(seed);
  auto check = [&c](const Node* n) { verify(c, n); };
  uint64_t done = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    done += graph.step(check);
    if (done >= 4096) {
      c.writes.fetch_add(done, std::memory_order_relaxed);
      done = 0;
    }
  }
  c.writes += done;
  graph.check_all(check);
}

// producers -> (Message*, buffered) -> relays -> (Ref<Message>,
// unbuffered) -> consumers, until stop is set; then the stages close down
// in order. Returns when every stage has finished.
inline void pipeline(int producers, int relays, int consumers, const std::atomic<bool>& stop, Counters& c) {
  auto raw = rt::make_chan<Message*>(16);
  auto refs = rt::make_chan<rt::Ref<Message>>();
  rt::WaitGroup producing, relaying, consuming;
  for (int i = 0; i < producers; i++) {
    producing.go([&, raw, i]() mutable {
      std::mt19937_64 rng(1000 + i);
      for (uint64_t seq = 0; !stop.load(std::memory_order_relaxed); seq++) {
        Message* m = rt::make<Message>(rng(), seq);
        m->payload = rt::make<Node>(rng());
        m->payload->a = rt::make<Node>(rng());
        raw.send(m);
      }
    });
  }
  for (int i = 0; i < relays; i++) {
    relaying.go([&, raw, refs]() mutable {
      for (Message* m : raw) {
        verify(c, m);
        refs.send(rt::Ref<Message>(m));
      }
    });
  }
  for (int i = 0; i < consumers; i++) {
    consuming.go([&, refs]() mutable {
      for (rt::Ref<Message> m : refs) {
        verify(c, m.get());
        c.messages.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  producing.wait();
  raw.close();
  relaying.wait();
  refs.close();
  consuming.wait();
}

}  // namespace soak
