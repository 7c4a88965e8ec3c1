// Multi-threaded allocator stress: several threads allocate objects of
// random sizes (tiny, small scan and noscan, a few large), stamp every byte
// with a pattern naming the thread and the object, keep some alive, free
// others themselves or hand them to another thread to free (remote frees),
// and finally check that every surviving object still holds its pattern and
// that no two live objects overlap.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <cstdlib>
#include <cstdint>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "alloc/malloc.h"
#include "alloc/mheap.h"
#include "alloc/sizeclasses.h"
#include "rt/memstats.h"

namespace rt::alloc {
namespace {

struct Obj {
  unsigned char* p = nullptr;
  size_t size = 0;
  uint32_t tid = 0;
  uint32_t index = 0;
  bool tiny = false;
};

uint8_t pattern_seed(uint32_t tid, uint32_t index) {
  uint32_t h = tid * 0x9e3779b1u ^ index * 0x85ebca6bu;
  h ^= h >> 15;
  return static_cast<uint8_t>(h);
}

// Byte k of an object holds seed + k (mod 256), with the thread id in the
// first byte and the object index in the next four where they fit.
void stamp(const Obj& o) {
  uint8_t seed = pattern_seed(o.tid, o.index);
  for (size_t k = 0; k < o.size; k++) o.p[k] = static_cast<uint8_t>(seed + k);
  if (o.size >= 5) {
    o.p[0] = static_cast<uint8_t>(o.tid);
    memcpy(o.p + 1, &o.index, 4);
  }
}

bool intact(const Obj& o) {
  uint8_t seed = pattern_seed(o.tid, o.index);
  size_t k = 0;
  if (o.size >= 5) {
    uint32_t idx;
    memcpy(&idx, o.p + 1, 4);
    if (o.p[0] != static_cast<uint8_t>(o.tid) || idx != o.index) return false;
    k = 5;
  }
  for (; k < o.size; k++) {
    if (o.p[k] != static_cast<uint8_t>(seed + k)) return false;
  }
  return true;
}

size_t random_size(std::mt19937& rng, bool* noscan) {
  uint32_t r = rng() % 1000;
  if (r < 350) {  // tiny candidates (noscan ones go to the tiny allocator)
    *noscan = rng() % 4 != 0;
    return 1 + rng() % 15;
  }
  *noscan = rng() % 2 == 0;
  if (r < 800) return 16 + rng() % 240;
  if (r < 960) return 256 + rng() % 3840;
  if (r < 997) return 4096 + rng() % (kMaxSmallSize - 4096 + 1);
  return kMaxSmallSize + 1 + rng() % (300 << 10);  // large
}

struct Inbox {
  std::mutex mu;
  std::vector<Obj> objs;
};

TEST(AllocStress, ConcurrentAllocFreeKeepsObjectsIntact) {
  constexpr int kThreads = 4;
  constexpr int kOps = 25000;
  std::vector<Inbox> inbox(kThreads);
  std::vector<std::vector<Obj>> survivors(kThreads);
  std::atomic<size_t> corrupt{0}, remote_freed{0}, local_freed{0}, bad_free{0};
  std::barrier sync(kThreads);

  auto drain = [&](int t) {
    std::vector<Obj> mine;
    {
      std::lock_guard<std::mutex> g(inbox[t].mu);
      mine.swap(inbox[t].objs);
    }
    for (const Obj& o : mine) {
      if (!intact(o)) corrupt++;
      if (!free_object(o.p)) bad_free++;
      remote_freed++;
    }
  };

  auto worker = [&](int t) {
    std::mt19937 rng(1234 + t);
    std::vector<Obj> live;
    sync.arrive_and_wait();
    for (int i = 0; i < kOps; i++) {
      bool noscan = false;
      Obj o;
      o.size = random_size(rng, &noscan);
      o.tid = static_cast<uint32_t>(t);
      o.index = static_cast<uint32_t>(i);
      o.tiny = noscan && o.size < kTinySize;
      unsigned flags = (noscan ? unsigned{kNoScan} : unsigned{kScan}) |
                       (rng() % 8 == 0 ? unsigned{kZero} : 0u);
      o.p = static_cast<unsigned char*>(allocate(o.size, flags));
      if (flags & kZero) {
        for (size_t k = 0; k < o.size; k++) {
          if (o.p[k] != 0) {
            corrupt++;
            break;
          }
        }
      }
      stamp(o);
      live.push_back(o);
      // Now and then, retire a random live object: free it here, hand it
      // to the next thread, or keep it for good.
      if (rng() % 3 != 0 && !live.empty()) {
        size_t j = rng() % live.size();
        Obj v = live[j];
        live[j] = live.back();
        live.pop_back();
        if (!intact(v)) corrupt++;
        if (v.tiny) {
          if (free_object(v.p)) bad_free++;  // tiny objects are never freed alone
          survivors[t].push_back(v);
        } else if (rng() % 2 == 0) {
          if (!free_object(v.p)) bad_free++;
          local_freed++;
        } else {
          int to = (t + 1 + static_cast<int>(rng() % (kThreads - 1))) % kThreads;
          std::lock_guard<std::mutex> g(inbox[to].mu);
          inbox[to].objs.push_back(v);
        }
      }
      if (i % 512 == 0) drain(t);
      if (i % 4096 == 0) {
        for (const Obj& v : live) {
          if (!intact(v)) corrupt++;
        }
      }
    }
    sync.arrive_and_wait();  // every hand-off is done
    drain(t);
    for (const Obj& v : live) survivors[t].push_back(v);
  };

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) threads.emplace_back(worker, t);
  for (auto& th : threads) th.join();

  EXPECT_EQ(corrupt.load(), 0u);
  EXPECT_EQ(bad_free.load(), 0u);
  EXPECT_GT(remote_freed.load(), 1000u);
  EXPECT_GT(local_freed.load(), 1000u);

  std::vector<Obj> all;
  for (auto& v : survivors) all.insert(all.end(), v.begin(), v.end());
  ASSERT_GT(all.size(), 1000u);
  size_t broken = 0, unresolved = 0;
  for (const Obj& o : all) {
    if (!intact(o)) broken++;
    ObjectRef ref;
    uintptr_t a = reinterpret_cast<uintptr_t>(o.p);
    if (!find_object(a, &ref) || a < ref.base || a + o.size > ref.base + ref.size ||
        (!o.tiny && ref.base != a)) {
      unresolved++;
    }
  }
  EXPECT_EQ(broken, 0u);
  EXPECT_EQ(unresolved, 0u);

  // No two live objects overlap.
  std::sort(all.begin(), all.end(), [](const Obj& a, const Obj& b) { return a.p < b.p; });
  size_t overlaps = 0;
  for (size_t i = 1; i < all.size(); i++) {
    if (all[i - 1].p + all[i - 1].size > all[i].p) {
      if (overlaps++ < 5) {
        ADD_FAILURE() << "objects overlap: " << static_cast<void*>(all[i - 1].p) << "+"
                      << all[i - 1].size << " and " << static_cast<void*>(all[i].p);
      }
    }
  }
  EXPECT_EQ(overlaps, 0u);

  for (const Obj& o : all) {
    if (!o.tiny) {
      EXPECT_TRUE(free_object(o.p));
    }
  }
}

TEST(AllocStress, ProducerConsumerRemoteFrees) {
  // One thread allocates, others free everything it makes: every free is
  // remote, and the producer keeps reusing what the consumers return.
  constexpr int kConsumers = 3;
  constexpr int kRounds = 40;
  constexpr int kPerRound = 1500;
  std::vector<Inbox> inbox(kConsumers);
  std::atomic<bool> done{false};
  std::atomic<size_t> corrupt{0}, freed{0};

  auto consumer = [&](int c) {
    for (;;) {
      std::vector<Obj> mine;
      {
        std::lock_guard<std::mutex> g(inbox[c].mu);
        mine.swap(inbox[c].objs);
      }
      for (const Obj& o : mine) {
        if (!intact(o)) corrupt++;
        if (!free_object(o.p)) corrupt++;
        freed++;
      }
      if (mine.empty()) {
        if (done.load()) {
          std::lock_guard<std::mutex> g(inbox[c].mu);
          if (inbox[c].objs.empty()) return;
        } else {
          std::this_thread::yield();
        }
      }
    }
  };
  std::vector<std::thread> consumers;
  for (int c = 0; c < kConsumers; c++) consumers.emplace_back(consumer, c);

  std::mt19937 rng(99);
  size_t made = 0;
  for (int r = 0; r < kRounds; r++) {
    std::vector<Obj> batch;
    for (int i = 0; i < kPerRound; i++) {
      Obj o;
      o.size = 16 + rng() % 2000;
      o.tid = 7;
      o.index = static_cast<uint32_t>(made++);
      o.p = static_cast<unsigned char*>(allocate(o.size, rng() % 2 ? kScan : kNoScan));
      stamp(o);
      batch.push_back(o);
    }
    for (size_t i = 0; i < batch.size(); i++) {
      int c = static_cast<int>(i % kConsumers);
      std::lock_guard<std::mutex> g(inbox[c].mu);
      inbox[c].objs.push_back(batch[i]);
    }
  }
  done.store(true);
  for (auto& th : consumers) th.join();
  EXPECT_EQ(corrupt.load(), 0u);
  EXPECT_EQ(freed.load(), made);
}

// Producer/consumer pairs passing one-object spans (32 KiB class): each
// free is remote and races with the producer handing the span back to its
// mcentral on its next allocation. Runs in a child process so that a fatal
// error (a full span handed out by cache_span, an overlapping object)
// fails this test alone; the child exits 0 only if every check passed.
void remote_free_recycling_race() {
  constexpr int kPairs = 4;
  constexpr int kPerProducer = 10000;
  constexpr int kSlots = 16;
  std::atomic<size_t> corrupt{0};
  std::vector<std::thread> threads;
  std::vector<std::atomic<unsigned char*>> slots(kPairs * kSlots);
  for (auto& s : slots) s.store(nullptr);
  std::vector<std::atomic<bool>> done(kPairs);
  for (auto& d : done) d.store(false);
  for (int k = 0; k < kPairs; k++) {
    std::atomic<unsigned char*>* q = &slots[k * kSlots];
    threads.emplace_back([q, k, &done, &corrupt] {
      for (int i = 0; i < kPerProducer; i++) {
        auto* p = static_cast<unsigned char*>(allocate(kMaxSmallSize, kNoScan));
        p[0] = static_cast<unsigned char>(k);
        p[kMaxSmallSize - 1] = static_cast<unsigned char>(k);
        for (;;) {
          unsigned char* empty = nullptr;
          if (q[i % kSlots].compare_exchange_weak(empty, p)) break;
          std::this_thread::yield();
        }
      }
      done[k].store(true);
    });
    threads.emplace_back([q, k, &done, &corrupt] {
      int idle = 0;
      for (size_t i = 0;; i++) {
        unsigned char* p = q[i % kSlots].exchange(nullptr);
        if (p) {
          idle = 0;
          // The producer stamped the first and last byte with its id.
          if (p[0] != static_cast<unsigned char>(k) ||
              p[kMaxSmallSize - 1] != static_cast<unsigned char>(k))
            corrupt++;
          if (!free_object(p)) corrupt++;
          continue;
        }
        if (done[k].load()) {
          bool any = false;
          for (int j = 0; j < kSlots; j++) any |= q[j].load() != nullptr;
          if (!any) break;
        }
        // Spin briefly, then let a descheduled producer run.
        if (++idle % 1024 == 0) std::this_thread::yield();
      }
    });
  }
  // Keeps the class's mcentral lock busy, so a freeing thread often waits
  // for it between publishing its free and moving the span to the partial
  // list, which is the window the producers race with.
  std::atomic<bool> stop{false};
  std::thread hog([&stop] {
    MCentral& central = MHeap::get().central(make_span_class(kNumSizeClasses - 1, true));
    while (!stop.load()) {
      central.npartial();
      for (int i = 0; i < 200; i++) stop.load(std::memory_order_relaxed);
    }
  });
  for (auto& t : threads) t.join();
  stop.store(true);
  hog.join();
  EXPECT_EQ(corrupt.load(), 0u);
}

TEST(AllocStressDeathTest, RemoteFreeRacingWithSpanRecycling) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        for (int round = 0; round < 2 && !testing::Test::HasFailure(); round++)
          remote_free_recycling_race();
        std::_Exit(testing::Test::HasFailure() ? 1 : 0);
      },
      testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace rt::alloc
