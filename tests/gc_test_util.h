// Helpers shared by the collector's suites (gc_*_test.cc): objects that
// count their destructions (and, from gc_checksummed.h, checksummed
// objects and the double-destruction count), making garbage in frames
// that are gone before the collection (so no stale copy on the stack
// keeps it alive: goroutine stacks are scanned conservatively), and a
// liveness probe.
//
// Outside namespace rt: test code must stay preemptible.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <utility>

#include "gc/heapobj.h"
#include "gc_checksummed.h"
#include "rt/gc.h"
#include "goroutine_fixture.h"
#include "rt/chan.h"
#include "rt/sched.h"
#include "rt/sync.h"

namespace gctest {

// Destructions of Tracked objects, by tag. Each test takes fresh tags, so
// garbage a previous test left (kept a little longer by a stale stack word,
// as conservative scanning allows) never counts in the next one.
inline constexpr int kMaxTags = 4096;
inline std::atomic<int64_t> g_destroyed[kMaxTags];
inline std::atomic<int> g_next_tag{1};
inline int new_tag() { return g_next_tag.fetch_add(1) % kMaxTags; }

struct Tracked {
  static constexpr uint64_t kAlive = 0x5ca1ab1e5ca1ab1eULL;
  explicit Tracked(int tag = 0, uint64_t v = 0) : tag(tag), value(v) {}
  ~Tracked() {
    if (magic != kAlive) g_double_destroyed++;
    magic = 0;
    g_destroyed[tag]++;
  }
  uint64_t magic = kAlive;
  int tag;
  uint64_t value;
  rt::Ref<Tracked> next;
  rt::Ref<Tracked> other;
};

inline int64_t destroyed(int tag) { return g_destroyed[tag].load(); }

// Overwrites a good stretch of the stack below the caller with zeros, so
// stale pointers from frames that already returned cannot be found. Not
// instrumented by ASan: an instrumented frame (its buffer included) may
// live on ASan's fake stack (detect_stack_use_after_return), and zeroing
// that leaves the real stack's stale words in place.
[[gnu::noinline]] __attribute__((no_sanitize("address"))) inline void clear_stack() {
  volatile char buf[32 << 10];
  memset(const_cast<char*>(buf), 0, sizeof(buf));
  asm volatile("" : : "r"(buf) : "memory");
}

template <typename F>
[[gnu::noinline]] void call_not_inlined(F& f) {
  f();
  asm volatile("" ::: "memory");
}

// Runs f on a goroutine of its own and waits for it: once it has exited
// its stack is not scanned at all, so nothing f made can be kept alive by
// a stale word in one of its frames (or, under ASan, in one of its fake
// frames); the caller's stack below it is cleared too.
template <typename F>
void in_goroutine(F&& f) {
  auto done = rt::make_chan<int>();
  rt::go([&f, done]() mutable {
    call_not_inlined(f);
    done.send(1);
  });
  done.recv();
  clear_stack();
}

// The historical name: make garbage in a context that is gone before the
// collection.
template <typename F>
void in_frame(F&& f) {
  in_goroutine(std::forward<F>(f));
}

// Runs body while another goroutine runs collections back to back.
template <typename F>
void with_cycles_back_to_back(F&& body) {
  std::atomic<bool> stop{false};
  rt::WaitGroup collector;
  collector.go([&] {
    while (!stop.load()) rt::gc();
  });
  body();
  stop = true;
  collector.wait();
}

// A collection with the caller's stale frames cleared first.
inline void full_gc() {
  clear_stack();
  rt::gc();
}

// Collections until done() holds, at most `cycles` of them: a stale word
// on some other goroutine's stack (its frames reuse stack memory earlier
// goroutines wrote) may keep a dead object one cycle more, under load
// often, as conservative scanning allows; the caller then asserts.
// Between collections the caller sleeps a moment, so that the other
// goroutines run and overwrite their stale words. Sanitizer builds (frames
// several times larger, ASan's fake frames) get twice the collections.
template <typename F>
void full_gc_until(F&& done, int cycles = 4) {
#if defined(RT_ASAN) || defined(RT_TSAN)
  cycles *= 2;
#endif
  full_gc();
  for (int i = 1; i < cycles && !done(); i++) {
    rt::sleep(std::chrono::milliseconds(1));
    full_gc();
  }
}

// Whether p is still a live GC'd object (no allocation may happen between
// the collection and this probe, or the slot could be reused).
inline bool is_live(const void* p) {
  rt::collector::Managed m;
  return rt::collector::find_managed(reinterpret_cast<uintptr_t>(p), &m);
}

// Runs body on a goroutine of its own (under run_go's GOMAXPROCS): the
// long-lived main goroutine's frames hold stale words from earlier tests,
// and one that happens to point into a slot a test reuses would keep that
// object alive (conservative stack scanning allows it); a fresh goroutine
// starts from a clean top of stack.
template <typename F>
void run_gc_test(int procs, F&& body) {
  gotest::run_go(procs, [&] {
    auto done = rt::make_chan<int>();
    rt::go([&, done]() mutable {
      body();
      clear_stack();
      done.send(1);
    });
    done.recv();
  });
}

// Conservative scanning may keep a few dead objects (a stale word on a
// stack that happens to point at them): checks of "freed" counts allow that
// many, in units of the largest structure one stale word can hold.
inline constexpr int64_t kFalseRetentionSlack = 2;

}  // namespace gctest
