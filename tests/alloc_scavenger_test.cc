// Returning free heap memory to the OS: a synchronous scavenge after a
// large heap is freed must drop the process's resident memory and raise
// MemStats.heap_released; the background scavenger alone must do the same
// within a bounded wait once memory is over its goal.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include "alloc/malloc.h"
#include "alloc/mheap.h"
#include "alloc/scavenger.h"
#include "alloc/sysmem.h"
#include "rt/memstats.h"

namespace rt::alloc {
namespace {

constexpr size_t kMiB = size_t{1} << 20;

// Holds the background scavenger off (a goal no heap reaches) while a test
// sets its heap up, and restores the default goal when the test ends, pass
// or fail.
struct GoalGuard {
  GoalGuard() { set_scavenge_goal(SIZE_MAX / 4); }
  ~GoalGuard() { set_scavenge_goal(0); }
};

void touch_pages(void* p, size_t size) {
  auto* b = static_cast<volatile unsigned char*>(p);
  for (size_t i = 0; i < size; i += 4096) b[i] = 1;
  b[size - 1] = 1;
}

// Allocates `large_bytes` in large objects and `small_bytes` in small ones
// of `small_size` bytes, all touched, then frees them. Returns the resident
// size just before the frees.
size_t fill_and_free(size_t large_bytes, size_t small_bytes, size_t small_size) {
  std::vector<void*> objs;
  for (size_t done = 0; done < large_bytes;) {
    size_t size = (done / (4 * kMiB)) % 2 ? 4 * kMiB : 1 * kMiB;
    size = std::min(size, large_bytes - done);
    void* p = allocate(size, kNoScan);
    touch_pages(p, size);
    objs.push_back(p);
    done += size;
  }
  for (size_t done = 0; done < small_bytes; done += small_size) {
    void* p = allocate(small_size, done % 2 ? kScan : kNoScan);
    touch_pages(p, small_size);
    objs.push_back(p);
  }
  size_t rss = sys_resident_bytes();
  for (void* p : objs) EXPECT_TRUE(free_object(p));
  return rss;
}

// Releases everything free so a test starts from a heap with no resident
// free pages.
void scavenge_everything() { scavenge_now(false); }

TEST(Scavenger, SyncScavengeReleasesFreedLargeObjects) {
  GoalGuard guard;
  scavenge_everything();
  constexpr size_t kBytes = 256 * kMiB;
  rt::MemStats m0 = rt::read_mem_stats();
  size_t rss_full = fill_and_free(kBytes, 0, 0);
  size_t rss_freed = sys_resident_bytes();
  rt::MemStats m_freed = rt::read_mem_stats();
  // Freeing alone keeps the memory resident.
  EXPECT_GT(rss_freed + kBytes / 4, rss_full);
  size_t released = scavenge_now(false);
  size_t rss_after = sys_resident_bytes();
  rt::MemStats m1 = rt::read_mem_stats();
  EXPECT_GE(released, kBytes * 3 / 4);
  ASSERT_LT(rss_after, rss_full);
  EXPECT_GE(rss_full - rss_after, kBytes * 3 / 4)
      << "rss with the heap full " << rss_full << ", after scavenge " << rss_after;
  EXPECT_GE(m1.heap_released - m_freed.heap_released, kBytes * 3 / 4);
  EXPECT_GE(m1.scavenged_total - m0.scavenged_total, released);
  EXPECT_LE(m1.heap_released, m1.heap_idle);
  // Nothing resident and free is left.
  EXPECT_EQ(scavenge_now(false), 0u);
}

TEST(Scavenger, SyncScavengeReleasesFreedLargeAndSmallObjects) {
  // Half the memory in large objects, half in 8 KiB and 32 KiB objects.
  GoalGuard guard;
  scavenge_everything();
  constexpr size_t kBytes = 256 * kMiB;
  rt::MemStats m0 = rt::read_mem_stats();
  size_t rss_full;
  {
    std::vector<void*> objs;
    for (size_t done = 0; done < kBytes / 2; done += 4 * kMiB) {
      objs.push_back(allocate(4 * kMiB, kNoScan));
      touch_pages(objs.back(), 4 * kMiB);
    }
    for (size_t done = 0; done < kBytes / 4; done += 8192) {
      objs.push_back(allocate(8192, kScan));
      touch_pages(objs.back(), 8192);
    }
    for (size_t done = 0; done < kBytes / 4; done += 32768) {
      objs.push_back(allocate(32768, kNoScan));
      touch_pages(objs.back(), 32768);
    }
    rss_full = sys_resident_bytes();
    for (void* p : objs) ASSERT_TRUE(free_object(p));
  }
  rt::MemStats m_freed = rt::read_mem_stats();
  size_t released = scavenge_now(false);
  size_t rss_after = sys_resident_bytes();
  rt::MemStats m1 = rt::read_mem_stats();
  // Spans whose objects were all freed must be back in the page heap (at
  // the latest when scavenging) to be released at all.
  EXPECT_LE(m1.heap_inuse, m0.heap_inuse + 16 * kMiB)
      << "freed small objects still hold " << (m1.heap_inuse - m0.heap_inuse) / kMiB
      << " MiB of in-use spans";
  EXPECT_GE(released, kBytes * 3 / 4);
  ASSERT_LT(rss_after, rss_full);
  EXPECT_GE(rss_full - rss_after, kBytes * 3 / 4)
      << "rss with the heap full " << rss_full / kMiB << " MiB, after scavenge "
      << rss_after / kMiB << " MiB";
  EXPECT_GE(m1.heap_released - m_freed.heap_released, kBytes * 3 / 4);
}

TEST(Scavenger, ScavengeToGoalStopsAtGoal) {
  GoalGuard guard;
  scavenge_everything();
  constexpr size_t kBytes = 64 * kMiB;
  fill_and_free(kBytes, 0, 0);
  MHeap::PageStats st = MHeap::get().page_stats();
  size_t retained = st.sys - st.released - st.cached_released;
  ASSERT_GE(retained, st.inuse + kBytes * 3 / 4);
  // Keep half of the freed memory.
  size_t goal = retained - kBytes / 2;
  set_scavenge_goal(goal);
  EXPECT_EQ(scavenge_goal(), goal);
  size_t released = scavenge_now(/*to_goal=*/true);
  st = MHeap::get().page_stats();
  size_t retained_after = st.sys - st.released - st.cached_released;
  // The background scavenger, woken by the new goal, works toward it at the
  // same time, so the two together may overshoot by what it released
  // meanwhile; it must still stop near the goal rather than release all
  // of the free memory.
  EXPECT_GE(released + kBytes / 8, kBytes / 2);
  EXPECT_LE(retained_after, goal);
  EXPECT_GE(retained_after + kBytes / 8, goal) << "released far more than asked";
  set_scavenge_goal(0);
  st = MHeap::get().page_stats();
  EXPECT_EQ(scavenge_goal(), static_cast<size_t>(static_cast<double>(st.inuse) * 1.10));
}

TEST(Scavenger, BackgroundScavengerLowersRss) {
  // Paced to about 1% of a CPU, the scavenger releases a few MiB a second
  // (less on a loaded machine or under a sanitizer, since its sleeps scale
  // with the wall time of its work): 8 MiB keeps the wait to seconds.
  GoalGuard guard;
  scavenge_everything();
  constexpr size_t kBytes = 8 * kMiB;
  size_t rss_full = fill_and_free(kBytes, 0, 0);
  rt::MemStats m0 = rt::read_mem_stats();
  size_t scavenged0 = scavenged_total();
  // A goal just above what is in use: everything freed is excess.
  set_scavenge_goal(MHeap::get().page_stats().inuse + kMiB);
  wake_scavenger();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  rt::MemStats m1 = rt::read_mem_stats();
  while (std::chrono::steady_clock::now() < deadline) {
    m1 = rt::read_mem_stats();
    if (m1.heap_released - m0.heap_released >= kBytes * 3 / 4) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  size_t rss = sys_resident_bytes();
  EXPECT_GE(m1.heap_released - m0.heap_released, kBytes * 3 / 4)
      << "released within 20 s: " << (m1.heap_released - m0.heap_released) / kMiB << " MiB";
  EXPECT_GE(scavenged_total() - scavenged0, kBytes * 3 / 4);
  // Resident memory follows (with some slack for the rest of the process).
  EXPECT_LE(rss + kBytes / 2, rss_full)
      << "rss before " << rss_full / kMiB << " MiB, after " << rss / kMiB << " MiB";
}

}  // namespace
}  // namespace rt::alloc
