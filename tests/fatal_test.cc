// Fatal paths that no other suite owns, each in a child process (gtest
// death tests, style "threadsafe": the child re-executes this binary, so it
// gets a fresh runtime and its own RT_* environment), checking the message
// on stderr and the exit status:
// - an uncaught double close of a channel: "panic: close of closed
//   channel", the goroutine's trace, exit 2 (Go's wording);
// - an uncaught negative WaitGroup counter: "panic: sync: negative
//   WaitGroup counter", exit 2;
// - rt::make_array of an absurd size, scan and noscan, including a count
//   whose byte size wraps around size_t: "fatal error: out of memory...",
//   exit 2, never a small block the constructor loop then overruns;
// - a live heap growing far past RT_MEMLIMIT keeps working (the limit is
//   soft, as Go's: the collector runs back to back, nothing dies);
// - under an address-space limit (RLIMIT_AS, what `ulimit -v` sets), a
//   heap growing until its reservation is full: "fatal error: out of
//   memory: cannot allocate ...", exit 2; and a process that cannot even
//   reserve its heap says so the same way;
// - under AddressSanitizer, a read of a GC'd object the collector freed is
//   an ASan report ("use-after-poison"): sweep poisons each freed slot.
// Deadlock, stack overflow, uncaught exceptions and SIGQUIT live in
// sched_deadlock_test.cc; Mutex and RWMutex misuse in sync_test.cc; bad
// RT_* values in env_test.cc (docs/RELIABILITY.md has the whole table).
//
// Outside namespace rt: test code must stay preemptible.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "rt/rt.h"
#include "sched_test_util.h"

using schedtest::child_run;
using schedtest::child_run_for;

namespace {

class FatalPath : public testing::Test {
 protected:
  static void SetUpTestSuite() { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

// --- panics that nobody catches -----------------------------------------------

TEST_F(FatalPath, DoubleCloseIsAPanic) {
  EXPECT_EXIT(child_run(nullptr, nullptr,
                        [] {
                          auto ch = rt::make_chan<int>();
                          ch.close();
                          ch.close();
                          return 0;
                        }),
              testing::ExitedWithCode(2),
              "panic: close of closed channel[^\n]*\n.*goroutine 1 \\[running\\]:");
}

TEST_F(FatalPath, DoubleCloseInAGoroutineIsAPanic) {
  EXPECT_EXIT(child_run(nullptr, nullptr,
                        [] {
                          auto ch = rt::make_chan<int>(4);
                          ch.close();
                          rt::go([ch]() mutable { ch.close(); });  // goroutine 2
                          std::atomic<uint32_t> never{0};
                          rt::sched::semacquire(&never);
                          return 0;
                        }),
              testing::ExitedWithCode(2),
              "panic: close of closed channel[^\n]*\n.*goroutine 2 \\[running\\]:");
}

TEST_F(FatalPath, NegativeWaitGroupCounterIsAPanic) {
  EXPECT_EXIT(child_run(nullptr, nullptr,
                        [] {
                          rt::WaitGroup wg;
                          wg.add(1);
                          wg.done();
                          wg.done();
                          return 0;
                        }),
              testing::ExitedWithCode(2),
              "panic: sync: negative WaitGroup counter[^\n]*\n.*goroutine 1 \\[running\\]:");
}

// --- out of memory -------------------------------------------------------------

struct Node {
  rt::Ref<Node> next;
  int64_t value = 0;
};

// Trivially copyable: a noscan object, value-initialised (so touched).
struct Chunk {
  uint64_t words[8192];  // 64 KiB
};

// The count hidden from the optimiser, which would otherwise see the
// element loop of a constant absurd count and warn about it.
size_t opaque(size_t n) {
  asm volatile("" : "+r"(n));
  return n;
}

#define OOM_MSG "fatal error: [^\n]*out of memory"

TEST_F(FatalPath, MakeArrayBeyondTheHeapIsOutOfMemory) {
  // 64 TiB: a valid size_t byte count, more than any heap reservation.
  EXPECT_EXIT(child_run(nullptr, nullptr,
                        [] {
                          rt::keep_alive(rt::make_array<char>(opaque(size_t{1} << 46)));
                          return 0;
                        }),
              testing::ExitedWithCode(2), OOM_MSG);
  EXPECT_EXIT(child_run(nullptr, nullptr,
                        [] {
                          rt::keep_alive(rt::make_array<rt::Ref<Node>>(opaque(size_t{1} << 46)));
                          return 0;
                        }),
              testing::ExitedWithCode(2), OOM_MSG);
}

// Regression: make_array<T>(n) of a trivially copyable T multiplied n by
// sizeof(T) unchecked, so 2^61 + 1 eight-byte elements asked for 8 bytes
// and the value-initialising loop then ran off the block (SIGSEGV, or
// worse, silent corruption of neighbouring objects).
TEST_F(FatalPath, MakeArrayWhoseSizeWrapsIsOutOfMemory) {
  EXPECT_EXIT(child_run(nullptr, nullptr,
                        [] {
                          rt::keep_alive(rt::make_array<uint64_t>(opaque((size_t{1} << 61) + 1)));
                          return 0;
                        }),
              testing::ExitedWithCode(2), OOM_MSG "[^\n]*2305843009213693953 elements of 8 bytes");
  EXPECT_EXIT(child_run(nullptr, nullptr,
                        [] {
                          rt::keep_alive(rt::make_array<Node>(opaque((size_t{1} << 60) + 1)));
                          return 0;
                        }),
              testing::ExitedWithCode(2), OOM_MSG);
}

// Grows a live heap of 64 KiB chunks, each reachable from one rooted
// table, to `bytes` (or for ever when stop() never says stop); checks that
// every chunk kept its contents. Returns the chunks made.
template <typename Stop>
size_t grow_live_heap(size_t max_bytes, Stop stop) {
  const size_t max_chunks = max_bytes / sizeof(Chunk);
  rt::Root<rt::Ref<Chunk>> table(rt::make_array<rt::Ref<Chunk>>(max_chunks));
  size_t n = 0;
  for (; n < max_chunks && !stop(n); n++) {
    Chunk* c = rt::make<Chunk>();
    c->words[0] = n;
    c->words[8191] = ~n;
    table.get()[n] = c;
    if (n % 64 == 63) {  // the collector freed nothing it should not have
      size_t k = n / 2;
      Chunk* old = table.get()[k].get();
      if (old->words[0] != k || old->words[8191] != ~k) {
        fprintf(stderr, "chunk %zu lost its contents\n", k);
        _exit(3);
      }
    }
  }
  return n;
}

uint64_t mapped_bytes() {
  FILE* f = fopen("/proc/self/statm", "r");
  unsigned long long pages = 0;
  if (f != nullptr) {
    if (fscanf(f, "%llu", &pages) != 1) pages = 0;
    fclose(f);
  }
  return pages * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

// The memory limit is soft: a live heap 32 times over it makes the
// collector run back to back (its CPU share capped by the limiter) while
// the program goes on.
TEST_F(FatalPath, LiveHeapFarPastTheMemoryLimitKeepsWorking) {
  EXPECT_EXIT(
      {
        setenv("RT_MEMLIMIT", "8MiB", 1);
        child_run_for(120, nullptr, nullptr, [] {
          size_t n = grow_live_heap(size_t{256} << 20, [](size_t) { return false; });
          rt::MemStats ms = rt::read_mem_stats();
          fprintf(stderr, "live %zu MiB, %u cycles\n", n * sizeof(Chunk) >> 20, ms.num_gc);
          return 0;
        });
      },
      testing::ExitedWithCode(0), "live 256 MiB, [1-9][0-9]* cycles");
}

#if defined(RT_ASAN) || defined(RT_TSAN) || defined(__SANITIZE_ADDRESS__) || \
    defined(__SANITIZE_THREAD__)
#define SKIP_UNDER_SANITIZERS() \
  GTEST_SKIP() << "the sanitizer's own allocator runs out of address space first"
#else
#define SKIP_UNDER_SANITIZERS() (void)0
#endif

// Past the limit and then past the address space. Under an address-space
// limit (set before start-up, so the heap reserves its smallest range,
// 4 GiB), the live heap first grows 32 MiB past an 8 MiB memory limit and
// keeps working; then 64 MiB blocks that are never touched (noscan, not
// zeroed: address space without memory) fill the reservation until
// allocation fails, which must be a fatal out-of-memory error, not a crash
// or a hang. Reaching 64 GiB would mean the limit was not felt: that fails.
TEST_F(FatalPath, AddressSpaceExhaustionIsOutOfMemory) {
  SKIP_UNDER_SANITIZERS();
  EXPECT_EXIT(
      {
        struct rlimit rl;
        getrlimit(RLIMIT_AS, &rl);
        rl.rlim_cur = mapped_bytes() + (size_t{6} << 30);
        if (setrlimit(RLIMIT_AS, &rl) != 0) _exit(4);
        setenv("RT_MEMLIMIT", "8MiB", 1);
        child_run_for(120, nullptr, nullptr, [] {
          size_t n = grow_live_heap(size_t{32} << 20, [](size_t) { return false; });
          fprintf(stderr, "live %zu MiB past the limit\n", n * sizeof(Chunk) >> 20);
          constexpr size_t kBlock = size_t{64} << 20;
          rt::Root<rt::Ref<Chunk>> blocks(rt::make_array<rt::Ref<Chunk>>(1024));
          for (size_t i = 0; i < 1024; i++)
            blocks.get()[i] = static_cast<Chunk*>(rt::detail::gc_alloc_noscan(kBlock));
          fprintf(stderr, "64 GiB allocated under a 6 GiB address-space limit\n");
          return 0;
        });
      },
      testing::ExitedWithCode(2),
      "live 32 MiB past the limit\n.*" OOM_MSG ": cannot allocate 67108864-byte block");
}

// An address space too small for the heap's smallest reservation: start-up
// says so instead of faulting later.
TEST_F(FatalPath, NoAddressSpaceForTheHeapIsOutOfMemory) {
  SKIP_UNDER_SANITIZERS();
  EXPECT_EXIT(
      {
        struct rlimit rl;
        getrlimit(RLIMIT_AS, &rl);
        rl.rlim_cur = mapped_bytes() + (size_t{1} << 30);
        if (setrlimit(RLIMIT_AS, &rl) != 0) _exit(4);
        child_run(nullptr, nullptr, [] {
          rt::keep_alive(rt::make<Node>());
          return 0;
        });
      },
      testing::ExitedWithCode(2), OOM_MSG);
}

// --- AddressSanitizer: freed GC slots are poisoned ---------------------------

#if defined(RT_ASAN)
std::atomic<int> g_victims_destroyed{0};

struct Victim {
  ~Victim() { g_victims_destroyed++; }
  rt::Ref<Victim> next;
  uint64_t payload = 42;
};

// The address, disguised so no conservatively scanned word keeps it alive.
constexpr uintptr_t kDisguise = 0x5a5a5a5a5a5a5a5aULL;

TEST_F(FatalPath, ReadOfACollectedObjectIsAnAsanReport) {
  EXPECT_DEATH(child_run(nullptr, nullptr,
                         [] {
                           // Made by a goroutine that then exits, so no
                           // stack (or ASan fake frame) still holds it.
                           auto out = rt::make_chan<uintptr_t>(1);
                           rt::go([out]() mutable {
                             out.send(reinterpret_cast<uintptr_t>(rt::make<Victim>()) ^ kDisguise);
                           });
                           uintptr_t hidden = out.recv();
                           for (int i = 0; i < 20 && g_victims_destroyed.load() == 0; i++) {
                             rt::sleep(std::chrono::milliseconds(10));  // let the maker exit
                             rt::gc();
                           }
                           if (g_victims_destroyed.load() == 0) {
                             fprintf(stderr, "never collected\n");
                             return 5;
                           }
                           auto* v = reinterpret_cast<volatile Victim*>(hidden ^ kDisguise);
                           fprintf(stderr, "payload %llu\n",
                                   static_cast<unsigned long long>(v->payload));
                           return 0;
                         }),
               "use-after-poison");
}
#endif

}  // namespace
