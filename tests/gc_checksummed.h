// Checksummed: a value stored with its complement and a liveness magic,
// for objects the collector's tests and the soak (tests/soak) rewire or
// pass around under collections. ok() fails if the object was freed (and
// its slot reused) under a holder; a destructor that finds the magic gone
// is a second destruction, counted in g_double_destroyed, which the
// callers check is zero. Free of gtest, so rt-soak can use it.
//
// Outside namespace rt: test code must stay preemptible.
#pragma once

#include <atomic>
#include <cstdint>

namespace gctest {

// Destructors that ran on an object already destroyed (Checksummed, and
// gc_test_util.h's Tracked).
inline std::atomic<int64_t> g_double_destroyed{0};

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

}  // namespace gctest
