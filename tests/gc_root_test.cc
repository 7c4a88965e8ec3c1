// rt::Root: registration in the root set, copy and move semantics (a moved-
// from Root is null and no longer holds its target), Roots in malloc'd
// containers and on plain threads, make_root, and Root targets surviving
// collections run from several goroutines at once.
#include <gtest/gtest.h>

#include <memory>
#include <thread>
#include <vector>

#include "gc/roots.h"
#include "gc_test_util.h"
#include "goroutine_fixture.h"
#include "rt/sync.h"

using namespace gctest;

namespace {

class GcRoot : public gotest::ProcsTest {};
GOTEST_PROCS_SUITE(GcRoot);

TEST_P(GcRoot, RegistersAndUnregisters) {
  run_gc_test(procs(), [] {
    [[maybe_unused]] const int tag = new_tag();
    size_t n0 = rt::collector::root_count();
    {
      rt::Root<Tracked> a, b;
      EXPECT_EQ(rt::collector::root_count(), n0 + 2);
    }
    EXPECT_EQ(rt::collector::root_count(), n0);
  });
}

TEST_P(GcRoot, MoveHandsOverTarget) {
  run_gc_test(procs(), [] {
    [[maybe_unused]] const int tag = new_tag();
    int64_t before = destroyed(tag);
    auto holder = std::make_unique<rt::Root<Tracked>>();
    in_frame([&] {
      rt::Root<Tracked> a = rt::make<Tracked>(tag, 11);
      rt::Root<Tracked> b(std::move(a));
      EXPECT_EQ(a.get(), nullptr);
      EXPECT_FALSE(a);
      rt::Root<Tracked> c;
      c = std::move(b);
      EXPECT_EQ(b, nullptr);
      *holder = std::move(c);
    });
    full_gc();
    EXPECT_EQ(destroyed(tag) - before, 0);
    rt::Root<Tracked> copy;
    in_frame([&] {
      EXPECT_EQ((*holder)->value, 11u);
      copy = *holder;
      EXPECT_EQ(copy, *holder);
    });
    holder.reset();
    full_gc();
    EXPECT_EQ(destroyed(tag) - before, 0) << "the copy still holds it";
    copy = nullptr;
    full_gc_until([&] { return destroyed(tag) - before >= 1; });
    EXPECT_EQ(destroyed(tag) - before, 1);
  });
}

TEST_P(GcRoot, RootsInAVector) {
  run_gc_test(procs(), [] {
    [[maybe_unused]] const int tag = new_tag();
    int64_t before = destroyed(tag);
    std::vector<rt::Root<Tracked>> v;
    in_frame([&] {
      for (int i = 0; i < 200; i++) v.emplace_back(rt::make<Tracked>(tag, i));  // reallocations move Roots
    });
    full_gc();
    EXPECT_EQ(destroyed(tag) - before, 0);
    in_frame([&] {
      for (int i = 0; i < 200; i++) ASSERT_EQ(v[i]->value, static_cast<uint64_t>(i));
    });
    v.resize(50);
    full_gc_until([&] { return destroyed(tag) - before == 150; });
    EXPECT_EQ(destroyed(tag) - before, 150);
  });
}

TEST_P(GcRoot, PlainThreadsUseRoots) {
  run_gc_test(procs(), [] {
    [[maybe_unused]] const int tag = new_tag();
    int64_t before = destroyed(tag);
    std::atomic<bool> stop{false};
    std::vector<std::thread> ts;
    std::atomic<uint64_t> errors{0};
    for (int t = 0; t < 2; t++) {
      ts.emplace_back([&, t] {
        rt::Root<Tracked> list;
        uint64_t n = 0;
        while (!stop.load() || n < 100) {
          rt::Root<Tracked> node = rt::make_root<Tracked>(tag, n);
          node->next = list.get();
          list = node;
          n++;
          if (n % 64 == 0) {
            uint64_t cnt = 0;
            for (Tracked* p = list.get(); p; p = p->next.get()) {
              if (p->magic != Tracked::kAlive || p->value != n - 1 - cnt) errors++;
              cnt++;
            }
            if (cnt != n) errors++;
          }
          if (n == 2000) {
            list.reset();  // start over: the old list is garbage
            n = 0;
          }
        }
        (void)t;
      });
    }
    for (int i = 0; i < 20; i++) rt::gc();
    stop = true;
    gotest::join_all(ts);
    EXPECT_EQ(errors.load(), 0u);
    EXPECT_EQ(g_double_destroyed.load(), 0);
    full_gc();
    EXPECT_GT(destroyed(tag) - before, 0);
  });
}

TEST_P(GcRoot, GcFromPlainThread) {
  run_gc_test(procs(), [] {
    [[maybe_unused]] const int tag = new_tag();
    int64_t before = destroyed(tag);
    rt::Root<Tracked> kept;
    in_frame([&] {
      for (int i = 0; i < 10; i++) rt::make<Tracked>(tag);
      kept = rt::make<Tracked>(tag, 1);
    });
    std::vector<std::thread> ts;
    ts.emplace_back([] { rt::gc(); });
    gotest::join_all(ts);
    EXPECT_EQ(destroyed(tag) - before, 10);
    EXPECT_EQ(kept->value, 1u);
  });
}

}  // namespace
