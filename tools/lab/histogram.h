// Log-bucketed histograms and exact percentiles for the lab's durations
// (STW pauses, mutator stalls). A bucket covers [lo, hi): each power of two
// [2^e, 2^(e+1)) is split into kSubBuckets equal parts (parts narrower than
// 1 ns become one-nanosecond buckets), so the relative width of a bucket
// stays below 1/kSubBuckets. Values are also kept, so percentiles are exact
// (nearest rank), not bucket estimates.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

namespace lab {

struct Bucket {
  uint64_t lo = 0;  // inclusive
  uint64_t hi = 0;  // exclusive
  uint64_t count = 0;
};

class Histogram {
 public:
  static constexpr uint64_t kSubBuckets = 4;

  void add(uint64_t v);
  uint64_t count() const { return values_.size(); }
  uint64_t sum() const { return sum_; }
  uint64_t max() const;

  // The non-empty buckets, ascending.
  std::vector<Bucket> buckets() const;
  // The nearest-rank percentile: the smallest recorded value with at least
  // q% of the values at or below it (q in (0, 100]); 0 when empty.
  uint64_t percentile(double q) const;

  // The bucket holding v.
  static Bucket bucket_of(uint64_t v);

 private:
  std::vector<uint64_t> values_;
  mutable bool sorted_ = true;
  std::map<uint64_t, uint64_t> counts_;  // bucket lo -> count
  uint64_t sum_ = 0;
};

}  // namespace lab
