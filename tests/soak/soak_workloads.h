// The soak's workloads (tests/soak/soak.cc runs them together):
//   - rewire: a goroutine rewires its own random graph of checksummed
//     nodes through Refs (the collector torture of gc_concurrent_test.cc,
//     run until told to stop) and checks every node it touches;
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

namespace soak {

struct Counters {
  std::atomic<uint64_t> writes{0};            // Ref stores done by rewire
  std::atomic<uint64_t> verified{0};          // objects whose checksum was checked
  std::atomic<uint64_t> messages{0};          // messages that reached a consumer
  std::atomic<uint64_t> checksum_errors{0};   // checks that failed
};

inline std::atomic<uint64_t> g_double_destroyed{0};

// A value with its complement and a liveness magic: ok() fails if the
// object was freed (and its slot reused) under a holder.
template <uint64_t kAliveMagic>
struct Checksummed {
  explicit Checksummed(uint64_t v) : value(v), check(~v) {}
  ~Checksummed() {
    if (magic != kAliveMagic) g_double_destroyed++;
    magic = 0;
  }
  bool ok() const { return magic == kAliveMagic && check == ~value; }
  uint64_t magic = kAliveMagic;
  uint64_t value;
  uint64_t check;
};

struct Node : Checksummed<0x50a450a450a450a4ULL> {
  using Checksummed::Checksummed;
  rt::Ref<Node> a;
  rt::Ref<Node> b;
};

struct Slot {
  rt::Ref<Node> node;
};

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

// Rewires a private graph of kSlots slots until stop is set.
inline void rewire(uint64_t seed, const std::atomic<bool>& stop, Counters& c) {
  constexpr size_t kSlots = 2048;
  rt::Root<Slot> slots(rt::make_array<Slot>(kSlots));
  std::mt19937_64 rng(seed);
  for (size_t i = 0; i < kSlots; i++) slots.get()[i].node = rt::make<Node>(rng());
  uint64_t done = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    Slot* s = slots.get();
    Node* x = s[rng() % kSlots].node.get();
    Node* y = s[rng() % kSlots].node.get();
    verify(c, x);
    verify(c, y);
    verify(c, x->a.get());
    verify(c, y->b.get());
    switch (rng() % 4) {
      case 0:  // a fresh node replaces a slot's node: the old one may die
        s[rng() % kSlots].node = rt::make<Node>(rng());
        done += 1;
        break;
      case 1:  // move a reference out of the heap and back (deletion barrier)
        x->a = y->b;
        y->b = nullptr;
        done += 2;
        break;
      case 2:  // chains through fresh nodes
        y->a = rt::make<Node>(rng());
        y->a->b = x;
        done += 2;
        break;
      default:
        x->b = y;
        y->a = x->a;
        done += 2;
        break;
    }
    if (done >= 4096) {
      c.writes.fetch_add(done, std::memory_order_relaxed);
      done = 0;
    }
  }
  c.writes += done;
  for (size_t i = 0; i < kSlots; i++) {
    const Node* n = slots.get()[i].node.get();
    verify(c, n);
    if (n) {
      verify(c, n->a.get());
      verify(c, n->b.get());
    }
  }
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
