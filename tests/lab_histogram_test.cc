// The lab's histogram (tools/lab/histogram.h): log bucket boundaries (four
// equal parts per power of two, one-nanosecond buckets below 8) and
// nearest-rank percentiles, against inputs whose answers are known.
#include "tools/lab/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

namespace {

using lab::Bucket;
using lab::Histogram;

TEST(LabHistogram, BucketBoundaries) {
  struct Case {
    uint64_t v, lo, hi;
  };
  for (Case c : std::vector<Case>{{0, 0, 1},
                                  {1, 1, 2},
                                  {3, 3, 4},
                                  {7, 7, 8},
                                  {8, 8, 10},
                                  {9, 8, 10},
                                  {10, 10, 12},
                                  {15, 14, 16},
                                  {16, 16, 20},
                                  {1000, 896, 1024},
                                  {1024, 1024, 1280},
                                  {1279, 1024, 1280},
                                  {1280, 1280, 1536},
                                  {2047, 1792, 2048},
                                  {uint64_t{1} << 40, uint64_t{1} << 40, (uint64_t{1} << 40) + (uint64_t{1} << 38)}}) {
    Bucket b = Histogram::bucket_of(c.v);
    EXPECT_EQ(b.lo, c.lo) << "value " << c.v;
    EXPECT_EQ(b.hi, c.hi) << "value " << c.v;
  }
  Bucket top = Histogram::bucket_of(UINT64_MAX);
  EXPECT_EQ(top.lo, UINT64_MAX - (uint64_t{1} << 61) + 1);
  EXPECT_EQ(top.hi, UINT64_MAX);
}

TEST(LabHistogram, BucketsCoverEveryValueOnce) {
  // Adjacent buckets tile the line: each value's bucket holds it, and the
  // next value either shares it or starts where it ends.
  for (uint64_t v = 0; v < 5000; v++) {
    Bucket b = Histogram::bucket_of(v);
    ASSERT_LE(b.lo, v);
    ASSERT_LT(v, b.hi);
    Bucket n = Histogram::bucket_of(v + 1);
    ASSERT_TRUE((n.lo == b.lo && n.hi == b.hi) || n.lo == b.hi) << v;
    // Relative width stays within a quarter of the bucket's start.
    if (b.lo >= 8) {
      ASSERT_LE((b.hi - b.lo) * 4, b.lo) << v;
    }
  }
}

TEST(LabHistogram, CountsPerBucket) {
  Histogram h;
  for (uint64_t v : {1000, 1100, 1023, 1024, 1279, 1280, 5000}) h.add(v);
  std::vector<Bucket> b = h.buckets();
  ASSERT_EQ(b.size(), 4u);
  EXPECT_EQ(b[0].lo, 896u);  // 1000, 1023
  EXPECT_EQ(b[0].hi, 1024u);
  EXPECT_EQ(b[0].count, 2u);
  EXPECT_EQ(b[1].lo, 1024u);  // 1100, 1024, 1279
  EXPECT_EQ(b[1].count, 3u);
  EXPECT_EQ(b[2].lo, 1280u);  // 1280
  EXPECT_EQ(b[2].count, 1u);
  EXPECT_EQ(b[3].lo, 4096u);  // 5000
  EXPECT_EQ(b[3].hi, 5120u);
  EXPECT_EQ(b[3].count, 1u);
  EXPECT_EQ(h.count(), 7u);
  EXPECT_EQ(h.sum(), 1000u + 1100 + 1023 + 1024 + 1279 + 1280 + 5000);
  EXPECT_EQ(h.max(), 5000u);
}

TEST(LabHistogram, NearestRankPercentiles) {
  // 1..1000 in a shuffled order: the q-th percentile is 10q.
  std::vector<uint64_t> v(1000);
  for (uint64_t i = 0; i < 1000; i++) v[i] = i + 1;
  std::shuffle(v.begin(), v.end(), std::mt19937(7));
  Histogram h;
  for (uint64_t x : v) h.add(x);
  EXPECT_EQ(h.percentile(50), 500u);
  EXPECT_EQ(h.percentile(99), 990u);
  EXPECT_EQ(h.percentile(99.9), 999u);
  EXPECT_EQ(h.percentile(100), 1000u);
  EXPECT_EQ(h.percentile(0.1), 1u);
  EXPECT_EQ(h.max(), 1000u);
  // Adding after a percentile read re-sorts.
  h.add(0);
  EXPECT_EQ(h.percentile(0.01), 0u);
}

TEST(LabHistogram, SmallAndEmpty) {
  Histogram empty;
  EXPECT_EQ(empty.percentile(50), 0u);
  EXPECT_EQ(empty.max(), 0u);
  EXPECT_TRUE(empty.buckets().empty());
  Histogram three;
  for (uint64_t x : {30, 10, 20}) three.add(x);
  EXPECT_EQ(three.percentile(50), 20u);  // rank ceil(1.5) = 2
  EXPECT_EQ(three.percentile(99), 30u);
  EXPECT_EQ(three.percentile(33.3), 10u);  // rank ceil(0.999) = 1
  EXPECT_EQ(three.percentile(33.4), 20u);  // rank ceil(1.002) = 2
  Histogram one;
  one.add(42);
  EXPECT_EQ(one.percentile(50), 42u);
  EXPECT_EQ(one.percentile(99.9), 42u);
}

}  // namespace
