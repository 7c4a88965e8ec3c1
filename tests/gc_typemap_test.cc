// Pointer maps learnt from construction: the first make<T> fixes T's map
// (precise scanning), nested make calls inside constructors record into
// their own objects, a Ref constructed later inside an existing object
// demotes the type to conservative scanning (and its target still
// survives), trivially copyable types are noscan, and a Ref constructed
// where the collector cannot see it is a fatal error naming rt::Root.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "alloc/mheap.h"
#include "gc_test_util.h"
#include "goroutine_fixture.h"

using namespace gctest;
using rt::detail::TypeInfo;

namespace {

class GcTypeMap : public testing::Test {
 protected:
  static void SetUpTestSuite() { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

template <typename T>
TypeInfo* ti() {
  return rt::detail::type_info_of<T>();
}

// Forgets what earlier runs of a test (--gtest_repeat) learnt about T: type
// states are process-wide and only ever get less precise.
template <typename T>
void forget_type() {
  ti<T>()->state.store(TypeInfo::kUnknown);
  ti<T>()->ptrmask.store(nullptr);  // leaks the old mask: tests only
}

bool map_bit(TypeInfo* t, size_t word) {
  const uint64_t* m = t->ptrmask.load();
  return m && ((m[word / 64] >> (word % 64)) & 1);
}

struct ThreeRefs {
  uint64_t a = 1;
  rt::Ref<Tracked> r1;
  uint64_t b = 2;
  rt::Ref<Tracked> r2;
  std::string s = "x";
  rt::Ref<Tracked> r3;
};

TEST_F(GcTypeMap, FirstConstructionFixesTheMap) {
  run_gc_test(0, [] {
    [[maybe_unused]] const int tag = new_tag();
    ThreeRefs* t = rt::make<ThreeRefs>();
    TypeInfo* info = ti<ThreeRefs>();
    EXPECT_EQ(info->state.load(), TypeInfo::kPrecise);
    EXPECT_FALSE(map_bit(info, 0));
    EXPECT_TRUE(map_bit(info, offsetof(ThreeRefs, r1) / 8));
    EXPECT_FALSE(map_bit(info, offsetof(ThreeRefs, b) / 8));
    EXPECT_TRUE(map_bit(info, offsetof(ThreeRefs, r2) / 8));
    EXPECT_TRUE(map_bit(info, offsetof(ThreeRefs, r3) / 8));
    for (size_t w = offsetof(ThreeRefs, s) / 8; w < offsetof(ThreeRefs, r3) / 8; w++)
      EXPECT_FALSE(map_bit(info, w));
    rt::keep_alive(t);
  });
}

// Precise scanning follows exactly the mapped words.
TEST_F(GcTypeMap, PreciseScanKeepsMappedTargets) {
  run_gc_test(0, [] {
    [[maybe_unused]] const int tag = new_tag();
    int64_t before = destroyed(tag);
    rt::Root<ThreeRefs> root;
    in_frame([&] {
      ThreeRefs* t = rt::make<ThreeRefs>();
      t->r1 = rt::make<Tracked>(tag, 1);
      t->r2 = rt::make<Tracked>(tag, 2);
      t->r3 = rt::make<Tracked>(tag, 3);
      root = t;
    });
    full_gc();
    EXPECT_EQ(destroyed(tag) - before, 0);
    EXPECT_EQ(root->r1->value + root->r2->value + root->r3->value, 6u);
    root->r2 = nullptr;
    full_gc_until([&] { return destroyed(tag) - before >= 1; });
    EXPECT_EQ(destroyed(tag) - before, 1);
  });
}

// An object whose constructor makes others (nested frames).
int g_parent_tag = 0;
struct Parent {
  Parent() : left(rt::make<Tracked>(g_parent_tag, 10)), mid(42), right(make_child()) {}
  static Tracked* make_child() {
    Tracked* c = rt::make<Tracked>(g_parent_tag, 20);
    c->next = rt::make<Tracked>(g_parent_tag, 30);
    return c;
  }
  rt::Ref<Tracked> left;
  uint64_t mid;
  rt::Ref<Tracked> right;
};

TEST_F(GcTypeMap, NestedMakeInConstructors) {
  run_gc_test(0, [] {
    [[maybe_unused]] const int tag = new_tag();
    g_parent_tag = tag;
    int64_t before = destroyed(tag);
    rt::Root<Parent> root;
    in_frame([&] { root = rt::make<Parent>(); });
    TypeInfo* p = ti<Parent>();
    EXPECT_EQ(p->state.load(), TypeInfo::kPrecise);
    EXPECT_TRUE(map_bit(p, 0));
    EXPECT_FALSE(map_bit(p, 1));
    EXPECT_TRUE(map_bit(p, 2));
    // Tracked's own map was not polluted by Parent's Refs.
    TypeInfo* t = ti<Tracked>();
    EXPECT_EQ(t->state.load(), TypeInfo::kPrecise);
    EXPECT_TRUE(map_bit(t, offsetof(Tracked, next) / 8));
    EXPECT_FALSE(map_bit(t, offsetof(Tracked, value) / 8));
    full_gc();
    EXPECT_EQ(destroyed(tag) - before, 0);
    EXPECT_EQ(root->left->value + root->right->value + root->right->next->value, 60u);
    root.reset();
    full_gc_until([&] { return destroyed(tag) - before >= 3; });
    EXPECT_EQ(destroyed(tag) - before, 3);
  });
}

// A Ref that appears after construction (optional::emplace) demotes the type.
struct Lazy {
  uint64_t tag = 0;
  std::optional<rt::Ref<Tracked>> maybe;
};

TEST_F(GcTypeMap, LateRefDemotesToConservative) {
  run_gc_test(0, [] {
    [[maybe_unused]] const int tag = new_tag();
    int64_t before = destroyed(tag);
    forget_type<Lazy>();
    rt::Root<Lazy> root;
    in_frame([&] {
      root = rt::make<Lazy>();
      EXPECT_EQ(ti<Lazy>()->state.load(), TypeInfo::kPrecise);
      root->maybe.emplace(rt::make<Tracked>(tag, 7));
    });
    EXPECT_EQ(ti<Lazy>()->state.load(), TypeInfo::kConservative);
    full_gc();
    EXPECT_EQ(destroyed(tag) - before, 0);
    EXPECT_EQ((*root->maybe)->value, 7u);
    root->maybe.reset();
    // The word still holds the old pointer bits? optional::reset leaves
    // them; clear them so conservative scanning cannot see them.
    memset(static_cast<void*>(&root->maybe), 0, sizeof(root->maybe));
    full_gc_until([&] { return destroyed(tag) - before >= 1; });
    EXPECT_EQ(destroyed(tag) - before, 1);
  });
}

// A later construction recording a Ref outside the map demotes too.
struct Varies {
  Varies(bool second, int tag) {
    if (second) new (&slot) rt::Ref<Tracked>(rt::make<Tracked>(tag, 1));
  }
  rt::Ref<Tracked> first;
  alignas(rt::Ref<Tracked>) unsigned char slot[sizeof(rt::Ref<Tracked>)] = {};
};

TEST_F(GcTypeMap, LaterConstructionWithNewOffsetDemotes) {
  run_gc_test(0, [] {
    [[maybe_unused]] const int tag = new_tag();
    forget_type<Varies>();
    rt::Root<Varies> a = rt::make<Varies>(false, tag);
    EXPECT_EQ(ti<Varies>()->state.load(), TypeInfo::kPrecise);
    rt::Root<Varies> b = rt::make<Varies>(true, tag);
    EXPECT_EQ(ti<Varies>()->state.load(), TypeInfo::kConservative);
    int64_t before = destroyed(tag);
    full_gc();
    EXPECT_EQ(destroyed(tag) - before, 0) << "the Ref in the demoted slot was not scanned";
  });
}

TEST_F(GcTypeMap, NoscanClassification) {
  run_gc_test(0, [] {
    [[maybe_unused]] const int tag = new_tag();
    struct Pod {
      int x;
      double y;
    };
    Pod* p = rt::make<Pod>(Pod{1, 2.0});
    int* i = rt::make<int>(5);
    ThreeRefs* t = rt::make<ThreeRefs>();
    auto span_noscan = [](const void* q) {
      return rt::alloc::MHeap::get().span_of(reinterpret_cast<uintptr_t>(q))->noscan();
    };
    EXPECT_TRUE(span_noscan(p));
    EXPECT_TRUE(span_noscan(i));
    EXPECT_FALSE(span_noscan(t));
    EXPECT_EQ(*i, 5);
    EXPECT_EQ(p->x, 1);
    // Scan objects sit 16 bytes into their slot (the type header).
    rt::collector::Managed m;
    ASSERT_TRUE(rt::collector::find_managed(reinterpret_cast<uintptr_t>(t), &m));
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t), m.slot + rt::collector::kHeaderSize);
    ASSERT_TRUE(rt::collector::find_managed(reinterpret_cast<uintptr_t>(i), &m));
    EXPECT_EQ(reinterpret_cast<uintptr_t>(i), m.slot);
    rt::keep_alive(p);
    rt::keep_alive(t);
  });
}

// A type without Refs that is not trivially copyable: scan class, empty
// map, destructor run at sweep.
std::atomic<int64_t> g_named_destroyed{0};
struct Named {
  std::string name = std::string(100, 'n');
  ~Named() { g_named_destroyed++; }
};

TEST_F(GcTypeMap, DestructorOfRefFreeTypeRuns) {
  run_gc_test(0, [] {
    int64_t before = g_named_destroyed.load();
    in_frame([&] {
      for (int i = 0; i < 50; i++) rt::make<Named>();
    });
    EXPECT_EQ(ti<Named>()->state.load(), TypeInfo::kPrecise);
    full_gc();
    EXPECT_EQ(g_named_destroyed.load() - before, 50);
  });
}

struct Throws {
  Throws(bool t, int tag) {
    child = rt::make<Tracked>(tag);
    if (t) throw std::runtime_error("no");
  }
  rt::Ref<Tracked> child;
};

TEST_F(GcTypeMap, ConstructorThrowIsCleanedUp) {
  run_gc_test(0, [] {
    [[maybe_unused]] const int tag = new_tag();
    EXPECT_THROW(rt::make<Throws>(true, tag), std::runtime_error);
    rt::Root<Throws> ok = rt::make<Throws>(false, tag);
    EXPECT_EQ(ti<Throws>()->state.load(), TypeInfo::kPrecise);
    int64_t before = destroyed(tag);
    full_gc();
    // The thrown object's child is garbage; the kept one's is not.
    EXPECT_LE(destroyed(tag) - before, 1);
    EXPECT_EQ(ok->child->magic, Tracked::kAlive);
  });
}

TEST_F(GcTypeMap, RefInStdVectorIsFatal) {
  EXPECT_DEATH(run_gc_test(0, [] { std::vector<rt::Ref<Tracked>> v(1); }),
               "outside the GC heap.*rt::Root");
}

TEST_F(GcTypeMap, RefOnPlainThreadIsFatal) {
  EXPECT_DEATH({ rt::Ref<Tracked> r; }, "rt::Root");
}

TEST_F(GcTypeMap, RefOnGoroutineStackIsFine) {
  run_gc_test(0, [] {
    [[maybe_unused]] const int tag = new_tag();
    rt::Ref<Tracked> r = rt::make<Tracked>(tag, 3);
    full_gc();
    EXPECT_EQ(r->value, 3u);
  });
}

}  // namespace
