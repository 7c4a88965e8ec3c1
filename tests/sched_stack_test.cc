// Goroutine stacks: every stack is page aligned, writable end to end,
// distinct from the others and guarded below; the guard faults and
// stack_guard_hit recognises exactly the guard page; freed stacks are
// reused; 100k stacks fit the mapping budget and cost little memory while
// untouched. The mprotect fallback runs in child processes (it changes the
// allocator for the rest of the process), including its refusal before
// vm.max_map_count.
#include "sched/stack.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace rt::sched {
namespace {

constexpr size_t kPage = 4096;

// A write to a guard page kills the process with SIGSEGV; under a
// sanitizer its handler reports the SEGV and exits with a failure status.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || defined(RT_ASAN) || \
    defined(RT_TSAN)
bool exited_with_failure(int status) {
  return WIFEXITED(status) && WEXITSTATUS(status) != 0;
}
#define EXPECT_SEGV(stmt) EXPECT_EXIT(stmt, exited_with_failure, "SEGV on unknown address")
#else
#define EXPECT_SEGV(stmt) EXPECT_EXIT(stmt, testing::KilledBySignal(SIGSEGV), "")
#endif

class StackTest : public testing::Test {
 protected:
  static void SetUpTestSuite() { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

size_t count_maps() {
  std::ifstream f("/proc/self/maps");
  std::string line;
  size_t n = 0;
  while (std::getline(f, line)) n++;
  return n;
}

size_t resident_bytes() {
  std::ifstream f("/proc/self/statm");
  size_t size = 0, resident = 0;
  f >> size >> resident;
  return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

size_t max_map_count() {
  std::ifstream f("/proc/sys/vm/max_map_count");
  size_t v = 0;
  f >> v;
  return v;
}

void touch_ends(const Stack& s) {
  auto* lo = reinterpret_cast<volatile unsigned char*>(s.lo);
  auto* top = reinterpret_cast<volatile unsigned char*>(s.hi - 1);
  *lo = 0xa5;
  *top = 0x5a;
  ASSERT_EQ(*lo, 0xa5);
  ASSERT_EQ(*top, 0x5a);
}

TEST_F(StackTest, AlignedWritableAndDistinct) {
  std::vector<Stack> v;
  for (int i = 0; i < 300; i++) {
    Stack s = stack_alloc();
    ASSERT_FALSE(s.empty());
    EXPECT_EQ(s.lo % kPage, 0u);
    EXPECT_EQ(s.hi % kPage, 0u);
    EXPECT_EQ(s.size(), stack_size());
    touch_ends(s);
    v.push_back(s);
  }
  std::sort(v.begin(), v.end(), [](const Stack& a, const Stack& b) { return a.lo < b.lo; });
  for (size_t i = 1; i < v.size(); i++) {
    // Distinct, and each one's guard page lies outside the stack below it.
    EXPECT_GE(v[i].lo, v[i - 1].hi + kGuardSize) << i;
  }
  for (const Stack& s : v) stack_free(s);
}

TEST_F(StackTest, GuardPageFaults) {
  EXPECT_SEGV({
    Stack s = stack_alloc();
    *reinterpret_cast<volatile char*>(s.lo - 1) = 1;
  });
  EXPECT_SEGV({
    Stack s = stack_alloc();
    (void)*reinterpret_cast<volatile char*>(s.lo - kGuardSize);
  });
}

TEST_F(StackTest, GuardHitIsExactlyTheGuardPage) {
  Stack s = stack_alloc();
  Stack t = stack_alloc();
  for (const Stack& x : {s, t}) {
    EXPECT_TRUE(stack_guard_hit(x.lo - 1));
    EXPECT_TRUE(stack_guard_hit(x.lo - kGuardSize));
    EXPECT_FALSE(stack_guard_hit(x.lo));
    EXPECT_FALSE(stack_guard_hit(x.lo + 100));
    EXPECT_FALSE(stack_guard_hit(x.hi - 1));
    EXPECT_FALSE(stack_guard_hit(x.lo - kGuardSize - 1));
  }
  int local = 0;
  void* heap = std::malloc(64);
  EXPECT_FALSE(stack_guard_hit(reinterpret_cast<uintptr_t>(&local)));
  EXPECT_FALSE(stack_guard_hit(reinterpret_cast<uintptr_t>(heap)));
  EXPECT_FALSE(stack_guard_hit(0));
  EXPECT_FALSE(stack_guard_hit(kPage));
  EXPECT_FALSE(stack_guard_hit(~uintptr_t{0}));
  std::free(heap);
  stack_free(t);
  stack_free(s);
}

TEST_F(StackTest, PoolReusesNewestFirst) {
  Stack a = stack_alloc();
  Stack b = stack_alloc();
  StackStats before = stack_stats();
  stack_free(a);
  stack_free(b);
  StackStats mid = stack_stats();
  EXPECT_EQ(mid.in_use + 2, before.in_use);
  EXPECT_EQ(mid.pooled, before.pooled + 2);
  Stack b2 = stack_alloc();
  Stack a2 = stack_alloc();
  EXPECT_EQ(b2.lo, b.lo);
  EXPECT_EQ(a2.lo, a.lo);
  EXPECT_EQ(stack_stats().reserved_bytes, before.reserved_bytes);  // nothing new mapped
  // A reused stack still has its guard.
  EXPECT_TRUE(stack_guard_hit(a2.lo - 1));
  EXPECT_SEGV({
    Stack s = stack_alloc();
    stack_free(s);
    Stack r = stack_alloc();
    *reinterpret_cast<volatile char*>(r.lo - 1) = 1;
  });
  stack_free(a2);
  stack_free(b2);
}

TEST_F(StackTest, ManyStacksStayWithinMappingBudgetAndMemory) {
  if (!stack_stats().guard_madvise) GTEST_SKIP() << "kernel lacks MADV_GUARD_INSTALL";
  constexpr size_t kN = 100000;
  size_t maps_before = count_maps();
  size_t rss_before = resident_bytes();
  std::vector<Stack> v;
  v.reserve(kN);
  for (size_t i = 0; i < kN; i++) v.push_back(stack_alloc());
  size_t maps_after = count_maps();
  size_t rss_after = resident_bytes();
  EXPECT_LT(maps_after - std::min(maps_after, maps_before), 20000u)
      << "before " << maps_before << " after " << maps_after;
  // Untouched stacks cost address space only (the allocator's own tables and
  // the pool's capacity are a few MiB).
  EXPECT_LT(rss_after - std::min(rss_after, rss_before), size_t{32} << 20)
      << "before " << rss_before << " after " << rss_after;
  EXPECT_GE(stack_stats().in_use, kN);
  EXPECT_GE(stack_stats().reserved_bytes, kN * (stack_size() + kGuardSize));
  // Each guard still works among so many.
  EXPECT_TRUE(stack_guard_hit(v[kN / 2].lo - 1));
  EXPECT_FALSE(stack_guard_hit(v[kN / 2].lo));

  // Touch the two end pages of every 4th stack, then free them all: the
  // pool keeps only the newest few fully resident.
  constexpr size_t kStep = 4;
  for (size_t i = 0; i < kN; i += kStep) {
    *reinterpret_cast<volatile char*>(v[i].lo) = 1;
    *reinterpret_cast<volatile char*>(v[i].hi - 1) = 1;
  }
  size_t rss_touched = resident_bytes();
  size_t in_use = stack_stats().in_use;
  for (const Stack& s : v) stack_free(s);
  EXPECT_EQ(stack_stats().in_use, in_use - kN);
  EXPECT_GE(stack_stats().pooled, kN);
  size_t rss_freed = resident_bytes();
  // About one page per touched stack (the lo page) was given back.
  EXPECT_LT(rss_freed + kN / kStep * kPage / 2, rss_touched)
      << "touched " << rss_touched << " freed " << rss_freed;
  // A stack that went cold still works end to end.
  Stack s = stack_alloc();
  touch_ends(s);
  stack_free(s);
}

TEST_F(StackTest, SetStackSizeRoundsUpToPages) {
  size_t old = stack_size();
  set_stack_size(100000);
  EXPECT_EQ(stack_size(), 102400u);
  Stack s = stack_alloc();
  EXPECT_EQ(s.size(), 102400u);
  touch_ends(s);
  EXPECT_TRUE(stack_guard_hit(s.lo - 1));
  set_stack_size(64 << 10);
  EXPECT_EQ(stack_size(), size_t{64} << 10);
  set_stack_size(1);
  EXPECT_EQ(stack_size(), kPage);
  Stack t = stack_alloc();
  EXPECT_EQ(t.size(), kPage);
  touch_ends(t);
  // Stacks of an older size are accepted back (and forgotten).
  stack_free(s);
  stack_free(t);
  set_stack_size(old);
  EXPECT_EQ(stack_size(), old);
  Stack u = stack_alloc();
  EXPECT_EQ(u.size(), old);
  stack_free(u);
}

// Threads allocating and freeing at once never share a stack: each marks
// its stacks' ends and checks nobody else overwrote them.
TEST_F(StackTest, ConcurrentAllocFree) {
  constexpr int kThreads = 4, kRounds = 2000, kHeld = 100;
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([t, &errors] {
      std::vector<Stack> held;
      for (int r = 0; r < kRounds; r++) {
        Stack s = stack_alloc();
        *reinterpret_cast<volatile int*>(s.lo) = t;
        *reinterpret_cast<volatile int*>(s.hi - sizeof(int)) = t;
        held.push_back(s);
        if (held.size() == kHeld || r == kRounds - 1) {
          for (const Stack& h : held) {
            if (*reinterpret_cast<volatile int*>(h.lo) != t ||
                *reinterpret_cast<volatile int*>(h.hi - sizeof(int)) != t ||
                !stack_guard_hit(h.lo - 1))
              errors++;
            stack_free(h);
          }
          held.clear();
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
}

TEST_F(StackTest, DefaultSize) {
  EXPECT_EQ(kDefaultStackSize, size_t{256} << 10);
}

// The mprotect fallback: same contract, two mappings per stack. Runs in a
// child because it switches the allocator's mode for good.
TEST_F(StackTest, MprotectFallbackWorks) {
  EXPECT_EXIT(
      {
        stack_use_mprotect_guards();
        bool ok = !stack_stats().guard_madvise;
        size_t maps_before = count_maps();
        std::vector<Stack> v;
        for (int i = 0; i < 200; i++) {
          Stack s = stack_alloc();
          *reinterpret_cast<volatile char*>(s.lo) = 1;
          *reinterpret_cast<volatile char*>(s.hi - 1) = 1;
          ok = ok && stack_guard_hit(s.lo - 1) && !stack_guard_hit(s.lo);
          v.push_back(s);
        }
        size_t grown = count_maps() - maps_before;
        ok = ok && grown >= 300 && grown <= 420;  // ~2 per stack, + slabs
        for (const Stack& s : v) stack_free(s);
        for (int i = 0; i < 200; i++) {  // pooled stacks (hot and cold) come back guarded
          Stack s = stack_alloc();
          ok = ok && stack_guard_hit(s.lo - 1);
        }
        std::fprintf(stderr, "ok=%d grown=%zu\n", ok, grown);
        std::_Exit(ok ? 0 : 1);
      },
      testing::ExitedWithCode(0), "ok=1");
  EXPECT_SEGV({
    stack_use_mprotect_guards();
    Stack s = stack_alloc();
    *reinterpret_cast<volatile char*>(s.lo - 1) = 1;
  });
}

TEST_F(StackTest, MprotectFallbackRefusesBeforeMapLimit) {
  size_t limit = max_map_count();
  if (limit == 0 || limit > 300000) GTEST_SKIP() << "vm.max_map_count " << limit << " too large";
  EXPECT_EXIT(
      {
        stack_use_mprotect_guards();
        for (size_t i = 0; i < limit; i++) stack_alloc();  // never reaches the end
        std::_Exit(0);
      },
      testing::ExitedWithCode(2),
      "fatal error: goroutine stacks would exceed vm.max_map_count \\(" + std::to_string(limit) +
          "\\); raise it \\(sysctl vm.max_map_count\\) or use Linux 6.13\\+ for "
          "MADV_GUARD_INSTALL");
}

}  // namespace
}  // namespace rt::sched
