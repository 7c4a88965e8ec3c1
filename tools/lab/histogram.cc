// Log buckets and nearest-rank percentiles. See histogram.h.
#include "tools/lab/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace lab {

Bucket Histogram::bucket_of(uint64_t v) {
  if (v == 0) return {0, 1, 0};
  int e = std::bit_width(v) - 1;  // 2^e <= v < 2^(e+1)
  uint64_t base = uint64_t{1} << e;
  uint64_t width = std::max<uint64_t>(1, base / kSubBuckets);
  uint64_t lo = base + (v - base) / width * width;
  uint64_t hi = lo + width;
  if (hi < lo) hi = UINT64_MAX;  // the top bucket of the range
  return {lo, hi, 0};
}

void Histogram::add(uint64_t v) {
  if (!values_.empty() && v < values_.back()) sorted_ = false;
  values_.push_back(v);
  counts_[bucket_of(v).lo]++;
  sum_ += v;
}

uint64_t Histogram::max() const {
  return values_.empty() ? 0 : *std::max_element(values_.begin(), values_.end());
}

std::vector<Bucket> Histogram::buckets() const {
  std::vector<Bucket> out;
  for (const auto& [lo, n] : counts_) {
    Bucket b = bucket_of(lo);
    b.count = n;
    out.push_back(b);
  }
  return out;
}

uint64_t Histogram::percentile(double q) const {
  if (values_.empty()) return 0;
  if (!sorted_) {
    auto& v = const_cast<std::vector<uint64_t>&>(values_);
    std::sort(v.begin(), v.end());
    sorted_ = true;
  }
  size_t n = values_.size();
  // Nearest rank: ceil(q/100 * n), computed in integers where q has at most
  // three decimals so that 99.9 of 1000 is exactly rank 999.
  uint64_t q1000 = static_cast<uint64_t>(std::llround(std::clamp(q, 0.0, 100.0) * 1000));
  uint64_t rank = (q1000 * n + 100000 - 1) / 100000;
  if (rank == 0) rank = 1;
  return values_[std::min<size_t>(rank, n) - 1];
}

}  // namespace lab
