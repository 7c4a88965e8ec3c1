// Size-class table invariants: the class count and bounds, tail waste, the
// two size-to-class lookup tables, the division magic, object alignment, the
// span-class encoding, and the whole table against Go's sizeclasses.go.
#include <gtest/gtest.h>

#include <cstdint>

#include "alloc/sizeclasses.h"

namespace rt::alloc {
namespace {

TEST(SizeClasses, CountAndBounds) {
  EXPECT_EQ(kSizeClasses.size(), 68u);
  EXPECT_EQ(kNumSizeClasses, 68u);
  EXPECT_EQ(kSizeClasses[0].size, 0u);
  EXPECT_EQ(kSizeClasses[0].npages, 0u);
  EXPECT_EQ(kSizeClasses[1].size, 8u);
  EXPECT_EQ(kSizeClasses[67].size, kMaxSmallSize);
  EXPECT_EQ(kPageSize, 8192u);
}

TEST(SizeClasses, SizesStrictlyIncreasing) {
  for (size_t c = 1; c < kNumSizeClasses; c++) {
    EXPECT_LT(kSizeClasses[c - 1].size, kSizeClasses[c].size) << "class " << c;
  }
}

TEST(SizeClasses, GeometryConsistent) {
  for (size_t c = 1; c < kNumSizeClasses; c++) {
    const SizeClass& sc = kSizeClasses[c];
    size_t span = size_t{sc.npages} * kPageSize;
    EXPECT_GE(sc.npages, 1u) << "class " << c;
    EXPECT_LE(sc.npages, 10u) << "class " << c;
    EXPECT_EQ(sc.nobjs, span / sc.size) << "class " << c;
    EXPECT_GE(sc.nobjs, 1u) << "class " << c;
    EXPECT_LE(sc.nobjs, kMaxObjsPerSpan) << "class " << c;
    EXPECT_EQ(sc.size % 8, 0u) << "class " << c;
  }
}

TEST(SizeClasses, TailWasteAtMostOneEighth) {
  for (size_t c = 1; c < kNumSizeClasses; c++) {
    const SizeClass& sc = kSizeClasses[c];
    size_t span = size_t{sc.npages} * kPageSize;
    size_t tail = span - size_t{sc.nobjs} * sc.size;
    EXPECT_LE(tail, span / 8) << "class " << c << " size " << sc.size;
  }
}

TEST(SizeClasses, EverySizeMapsToSmallestFittingClass) {
  for (size_t size = 1; size <= kMaxSmallSize; size++) {
    size_t c = size_to_class(size);
    ASSERT_GE(c, 1u) << "size " << size;
    ASSERT_LT(c, kNumSizeClasses) << "size " << size;
    ASSERT_GE(kSizeClasses[c].size, size) << "size " << size;
    if (c > 1) {
      ASSERT_LT(kSizeClasses[c - 1].size, size) << "size " << size << " class " << c;
    }
  }
}

TEST(SizeClasses, ExactClassSizesMapToThemselves) {
  for (size_t c = 1; c < kNumSizeClasses; c++) {
    EXPECT_EQ(size_to_class(kSizeClasses[c].size), c) << "class " << c;
    EXPECT_EQ(size_to_class(kSizeClasses[c - 1].size + 1), c) << "class " << c;
  }
}

TEST(SizeClasses, LookupTablesAgreeAtBoundary) {
  // kSizeToClass8[i] covers size 8*i, kSizeToClass128[j] covers 1024 + 128*j.
  ASSERT_EQ(kSizeToClass8.size(), kSmallSizeMax / kSmallSizeDiv + 1);
  ASSERT_EQ(kSizeToClass128.size(), (kMaxSmallSize - kSmallSizeMax) / kLargeSizeDiv + 1);
  EXPECT_EQ(kSizeToClass8[kSmallSizeMax / kSmallSizeDiv], kSizeToClass128[0]);
  EXPECT_EQ(kSizeClasses[kSizeToClass128[0]].size, 1024u);
  // Sizes on either side of the switch between the tables.
  for (size_t size = kSmallSizeMax - 32; size <= kSmallSizeMax + 256; size++) {
    size_t c = size_to_class(size);
    EXPECT_GE(kSizeClasses[c].size, size);
    EXPECT_LT(kSizeClasses[c - 1].size, size);
  }
  EXPECT_EQ(size_to_class(kSmallSizeMax - 8), size_to_class(kSmallSizeMax));
  EXPECT_EQ(size_to_class(kSmallSizeMax - 7), size_to_class(kSmallSizeMax));
  EXPECT_EQ(kSizeClasses[size_to_class(kSmallSizeMax + 1)].size, 1152u);
  // The last entries of both tables.
  EXPECT_EQ(kSizeToClass128.back(), kNumSizeClasses - 1);
  EXPECT_EQ(kSizeToClass8[1], 1u);
}

TEST(SizeClasses, DivMagicExactForEveryOffset) {
  for (size_t c = 1; c < kNumSizeClasses; c++) {
    const SizeClass& sc = kSizeClasses[c];
    size_t span = size_t{sc.npages} * kPageSize;
    size_t bad = 0;
    for (size_t off = 0; off < span; off++) {
      size_t q = static_cast<size_t>((uint64_t{off} * sc.divmagic) >> 32);
      if (q != off / sc.size) {
        if (bad++ == 0) ADD_FAILURE() << "class " << c << " size " << sc.size << " offset " << off;
      }
    }
    EXPECT_EQ(bad, 0u) << "class " << c;
  }
}

TEST(SizeClasses, MultiplesOf16StayAligned) {
  for (size_t c = 1; c < kNumSizeClasses; c++) {
    const SizeClass& sc = kSizeClasses[c];
    if (sc.size < 16 || sc.size % 16 != 0) continue;
    for (size_t i = 0; i < sc.nobjs; i++) {
      // Spans start on a page boundary, so the in-span offset decides.
      ASSERT_EQ((i * sc.size) % 16, 0u) << "class " << c << " object " << i;
    }
  }
  // Only the 8 and 24 byte classes are not multiples of 16.
  size_t not16 = 0;
  for (size_t c = 1; c < kNumSizeClasses; c++) not16 += kSizeClasses[c].size % 16 != 0;
  EXPECT_EQ(not16, 2u);
}

TEST(SizeClasses, KnownGoValues) {
  auto cls = [](size_t size) { return kSizeClasses[size_to_class(size)]; };
  EXPECT_EQ(cls(24).size, 24u);
  EXPECT_EQ(cls(24).nobjs, 341u);
  EXPECT_EQ(cls(48).size, 48u);
  EXPECT_EQ(cls(1408).size, 1408u);
  EXPECT_EQ(cls(1408).npages, 2u);
  EXPECT_EQ(cls(27264).size, 27264u);
  EXPECT_EQ(cls(27264).npages, 10u);
  EXPECT_EQ(cls(27264).nobjs, 3u);
  EXPECT_EQ(cls(32768).npages, 4u);
  EXPECT_EQ(size_to_class(16), kTinySizeClass);
}

// Go's table (sizeclasses.go): class, bytes/obj, bytes/span, objects.
struct GoClass {
  uint32_t size, span_bytes, objects;
};
constexpr GoClass kGoTable[] = {
    {0, 0, 0},           {8, 8192, 1024},     {16, 8192, 512},    {24, 8192, 341},
    {32, 8192, 256},     {48, 8192, 170},     {64, 8192, 128},    {80, 8192, 102},
    {96, 8192, 85},      {112, 8192, 73},     {128, 8192, 64},    {144, 8192, 56},
    {160, 8192, 51},     {176, 8192, 46},     {192, 8192, 42},    {208, 8192, 39},
    {224, 8192, 36},     {240, 8192, 34},     {256, 8192, 32},    {288, 8192, 28},
    {320, 8192, 25},     {352, 8192, 23},     {384, 8192, 21},    {416, 8192, 19},
    {448, 8192, 18},     {480, 8192, 17},     {512, 8192, 16},    {576, 8192, 14},
    {640, 8192, 12},     {704, 8192, 11},     {768, 8192, 10},    {896, 8192, 9},
    {1024, 8192, 8},     {1152, 8192, 7},     {1280, 8192, 6},    {1408, 16384, 11},
    {1536, 8192, 5},     {1792, 16384, 9},    {2048, 8192, 4},    {2304, 16384, 7},
    {2688, 8192, 3},     {3072, 24576, 8},    {3200, 16384, 5},   {3456, 24576, 7},
    {4096, 8192, 2},     {4864, 24576, 5},    {5376, 16384, 3},   {6144, 24576, 4},
    {6528, 32768, 5},    {6784, 40960, 6},    {6912, 49152, 7},   {8192, 8192, 1},
    {9472, 57344, 6},    {9728, 49152, 5},    {10240, 40960, 4},  {10880, 32768, 3},
    {12288, 24576, 2},   {13568, 40960, 3},   {14336, 57344, 4},  {16384, 16384, 1},
    {18432, 73728, 4},   {19072, 57344, 3},   {20480, 40960, 2},  {21760, 65536, 3},
    {24576, 24576, 1},   {27264, 81920, 3},   {28672, 57344, 2},  {32768, 32768, 1},
};
static_assert(sizeof(kGoTable) / sizeof(kGoTable[0]) == kNumSizeClasses);

TEST(SizeClasses, WholeTableMatchesGo) {
  for (size_t c = 0; c < kNumSizeClasses; c++) {
    EXPECT_EQ(kSizeClasses[c].size, kGoTable[c].size) << "class " << c;
    EXPECT_EQ(size_t{kSizeClasses[c].npages} * kPageSize, kGoTable[c].span_bytes) << "class " << c;
    EXPECT_EQ(kSizeClasses[c].nobjs, kGoTable[c].objects) << "class " << c;
  }
}

TEST(SizeClasses, SpanClassEncoding) {
  EXPECT_EQ(kNumSpanClasses, 137u);
  for (size_t c = 0; c < kNumSizeClasses; c++) {
    for (bool noscan : {false, true}) {
      SpanClass sc = make_span_class(c, noscan);
      EXPECT_NE(sc, kTinySpanClass);
      EXPECT_LT(sc, kNumSpanClasses);
      EXPECT_EQ(span_class_size_class(sc), c);
      EXPECT_EQ(span_class_noscan(sc), noscan);
    }
  }
  EXPECT_EQ(span_class_size_class(kTinySpanClass), kTinySizeClass);
  EXPECT_TRUE(span_class_noscan(kTinySpanClass));
  EXPECT_EQ(kSizeClasses[kTinySizeClass].size, kTinySize);
}

}  // namespace
}  // namespace rt::alloc
