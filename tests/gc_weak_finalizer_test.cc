// Weak pointers and finalizers, with Go's semantics: a Weak reads as its
// target while something strong reaches it and as null once a collection
// found it unreachable; a finalizer runs once, on the finalizer goroutine,
// after the object became unreachable, with the object intact and alive for
// one more cycle (its destructor runs at a later one); weak pointers are
// cleared before the finalizer runs; what a finalizable object reaches
// stays alive; misuse is a fatal error.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>

#include "gc/collector.h"
#include "gc_test_util.h"
#include "rt/finalizer.h"
#include "rt/sync.h"
#include "rt/weak.h"

using namespace gctest;

namespace {

class GcWeak : public gotest::ProcsTest {};
GOTEST_PROCS_SUITE(GcWeak);

// Waits (bounded) until cond holds, sleeping meanwhile (the finalizer
// goroutine needs a turn to run) and collecting now and then (a stale
// stack word may keep an object one cycle longer: conservative scanning).
template <typename Cond>
bool eventually(Cond cond) {
  for (int i = 0; i < 2000; i++) {
    if (cond()) return true;
    rt::sleep(std::chrono::milliseconds(1));
    if (i % 50 == 49) full_gc();
  }
  return cond();
}

TEST_P(GcWeak, WeakSeesLiveTargetAndClearsDeadOne) {
  run_gc_test(procs(), [] {
    int tag = new_tag();
    rt::Root<Tracked> keep(rt::make<Tracked>(tag, 1));
    rt::Weak<Tracked> to_live(keep.get());
    rt::Weak<Tracked> to_dead;
    in_goroutine([&] { to_dead = rt::Weak<Tracked>(rt::make<Tracked>(tag, 2)); });
    full_gc();
    EXPECT_EQ(to_live.lock(), keep.get());
    // A stale stack word may keep the dead target one more cycle.
    EXPECT_TRUE(eventually([&] { return to_dead.expired(); }));
    EXPECT_EQ(to_dead.lock(), nullptr);
    EXPECT_GE(destroyed(tag), 1);
    rt::Weak<Tracked> empty;
    EXPECT_EQ(empty.lock(), nullptr);
  });
}

// A Weak inside a GC'd object does not keep its target alive, and the
// hidden links of the weak table keep no neighbour alive either.
TEST_P(GcWeak, WeaksInsideObjectsAreNotStrong) {
  struct Holder {
    rt::Weak<Tracked> w;
    rt::Ref<Tracked> strong;
    uint64_t pad[2] = {};
  };
  run_gc_test(procs(), [] {
    int tag = new_tag();
    int weak_tag = new_tag();  // h1's weak target alone
    rt::Root<Holder> h1(rt::make<Holder>());
    in_goroutine([&] {
      for (int i = 0; i < 3; i++) {
        Holder* h = rt::make<Holder>();  // garbage holders with weak nodes
        h->w = rt::Weak<Tracked>(rt::make<Tracked>(tag, 3));
      }
      h1->w = rt::Weak<Tracked>(rt::make<Tracked>(weak_tag, 4));
      h1->strong = rt::make<Tracked>(tag, 5);
    });
    // A stale stack word may keep the dead target a cycle or two more. The
    // wait reads the destructor count, not the Weak: lock() would put the
    // target's address back into this goroutine's registers every time.
    full_gc_until([&] { return destroyed(weak_tag) == 1; });
    EXPECT_EQ(destroyed(weak_tag), 1);
    EXPECT_EQ(h1->w.lock(), nullptr);
    EXPECT_NE(h1->strong.get(), nullptr);
    EXPECT_EQ(h1->strong->magic, Tracked::kAlive);
    // The three garbage holders' targets: 3 Tracked dead (holders are not
    // Tracked).
    EXPECT_GE(destroyed(tag), 3 - kFalseRetentionSlack);
  });
}

TEST_P(GcWeak, FinalizerRunsOnceWithTheObjectIntactThenItIsFreed) {
  run_gc_test(procs(), [] {
    int tag = new_tag();
    static std::atomic<int> runs{0};
    static std::atomic<int> intact{0};
    runs = 0;
    intact = 0;
    rt::Weak<Tracked> weak;
    std::atomic<bool> weak_was_clear{false};
    in_goroutine([&] {
      Tracked* t = rt::make<Tracked>(tag, 77);
      weak = rt::Weak<Tracked>(t);
      rt::set_finalizer(t, [&weak_was_clear, &weak](Tracked* p) {
        runs++;
        if (p->magic == Tracked::kAlive && p->value == 77) intact++;
        weak_was_clear = weak.lock() == nullptr;
      });
    });
    uint64_t run0 = rt::gc_stats().finalizers_run;
    full_gc();
    // Resurrected for its finalizer: not destroyed by this cycle.
    EXPECT_EQ(destroyed(tag), 0);
    EXPECT_TRUE(eventually([&] { return rt::gc_stats().finalizers_run > run0; }));
    EXPECT_EQ(runs.load(), 1);
    EXPECT_EQ(intact.load(), 1);
    EXPECT_TRUE(weak_was_clear.load()) << "weak pointers must be cleared before the finalizer runs";
    // Unreachable again and without a finalizer: the next cycles free it,
    // running its destructor once.
    EXPECT_TRUE(eventually([&] {
      full_gc();
      return destroyed(tag) == 1;
    }));
    full_gc();
    EXPECT_EQ(runs.load(), 1);
    EXPECT_EQ(destroyed(tag), 1);
    EXPECT_EQ(g_double_destroyed.load(), 0);
  });
}

TEST_P(GcWeak, FinalizableObjectKeepsWhatItReaches) {
  run_gc_test(procs(), [] {
    int tag = new_tag();
    static std::atomic<int> child_ok{0};
    child_ok = 0;
    in_goroutine([&] {
      Tracked* parent = rt::make<Tracked>(tag, 1);
      parent->next = rt::make<Tracked>(tag, 2);
      rt::set_finalizer(parent, [](Tracked* p) {
        if (p->next && p->next->magic == Tracked::kAlive && p->next->value == 2) child_ok++;
      });
    });
    uint64_t run0 = rt::gc_stats().finalizers_run;
    full_gc();
    EXPECT_EQ(destroyed(tag), 0);
    EXPECT_TRUE(eventually([&] { return rt::gc_stats().finalizers_run > run0; }));
    EXPECT_EQ(child_ok.load(), 1);
  });
}

TEST_P(GcWeak, RemovedFinalizerNeverRuns) {
  run_gc_test(procs(), [] {
    int tag = new_tag();
    static std::atomic<int> runs{0};
    runs = 0;
    in_goroutine([&] {
      Tracked* t = rt::make<Tracked>(tag, 1);
      rt::set_finalizer(t, [](Tracked*) { runs++; });
      rt::set_finalizer(t, nullptr);
    });
    full_gc();
    full_gc();
    rt::sleep(std::chrono::milliseconds(5));
    EXPECT_EQ(runs.load(), 0);
  });
}

// Objects that die in bulk while weak pointers to them are read from
// other goroutines during collections: a Weak never yields a dead or
// reused object.
TEST_P(GcWeak, LockRacesWithCollections) {
  struct Box {
    uint64_t magic = 0xb0b0b0b0b0b0b0b0ULL;
    uint64_t id;
    explicit Box(uint64_t i) : id(i) {}
    ~Box() { magic = 0; }
  };
  run_gc_test(procs(), [] {
    std::atomic<uint64_t> bad{0};
    with_cycles_back_to_back([&] {
      rt::WaitGroup workers;
      for (int w = 0; w < 2; w++) {
        workers.go([&, w] {
          for (int round = 0; round < 60; round++) {
            rt::Root<Box> keep;
            rt::Weak<Box> weaks[16];
            auto id = [&](int i) { return uint64_t(w) << 32 | uint64_t(round) << 8 | uint64_t(i); };
            for (int i = 0; i < 16; i++) {
              Box* b = rt::make<Box>(id(i));
              weaks[i] = rt::Weak<Box>(b);
              if (i == 0) keep = b;
            }
            for (int rep = 0; rep < 5; rep++) {
              for (int i = 0; i < 16; i++) {
                if (Box* b = weaks[i].lock()) {
                  if (b->magic != 0xb0b0b0b0b0b0b0b0ULL || b->id != id(i)) bad++;
                } else if (i == 0) {
                  bad++;  // rooted: must never read as gone
                }
              }
              rt::gosched();
            }
          }
        });
      }
      workers.wait();
    });
    EXPECT_EQ(bad.load(), 0u);
  });
}

TEST(GcFinalizerDeathTest, PointerNotAtObjectStart) {
  EXPECT_DEATH(run_gc_test(1,
                           [] {
                             Tracked* t = rt::make<Tracked>(0, 1);
                             rt::set_finalizer(&t->value, [](uint64_t*) {});
                           }),
               "fatal error: runtime.SetFinalizer: pointer not at beginning of allocated block");
}

TEST(GcFinalizerDeathTest, SecondFinalizer) {
  EXPECT_DEATH(run_gc_test(1,
                           [] {
                             rt::Root<Tracked> t(rt::make<Tracked>(0, 1));
                             rt::set_finalizer(t.get(), [](Tracked*) {});
                             rt::set_finalizer(t.get(), [](Tracked*) {});
                           }),
               "fatal error: runtime.SetFinalizer: finalizer already set");
}

}  // namespace
