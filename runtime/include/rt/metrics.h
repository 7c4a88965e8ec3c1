// Runtime metrics by name, after Go's runtime/metrics: a program asks for
// the figures it wants by their stable names and reads them in one call.
//
//   rt::metrics::Sample s[] = {{"/gc/heap/goal:bytes"}, {"/gc/pauses:seconds"}};
//   rt::metrics::read(s, 2);
//   uint64_t goal = s[0].value.uint64();
//   const rt::metrics::Histogram& h = s[1].value.histogram();
//
// A name is "/path:unit". all() lists every supported metric with its
// description and kind; a name read() does not know gets Kind::kBad, as in
// Go. Reading is cheap (no stop-the-world). One read() fetches each source
// (heap statistics, collector statistics, GC CPU totals) once, so metrics
// of one source agree with each other; metrics of different sources are
// not one snapshot while the program runs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace rt::metrics {

enum class Kind : int {
  kBad = 0,        // unknown metric name
  kUint64 = 1,
  kFloat64 = 2,
  kFloat64Histogram = 3,
};

// Counts of samples by bucket: counts[i] counts values in
// [buckets[i], buckets[i + 1]), so buckets has counts.size() + 1 entries;
// the first may be -inf and the last +inf.
struct Histogram {
  std::vector<uint64_t> counts;
  std::vector<double> buckets;
};

class Value {
 public:
  Kind kind() const { return kind_; }
  // The value; calling the accessor of another kind is a programming error
  // (it returns 0 or an empty histogram).
  uint64_t uint64() const { return kind_ == Kind::kUint64 ? u64_ : 0; }
  double float64() const { return kind_ == Kind::kFloat64 ? f64_ : 0; }
  const Histogram& histogram() const { return hist_; }

  void set_bad() { *this = Value(); }
  void set_uint64(uint64_t v);
  void set_float64(double v);
  Histogram& set_histogram();  // clears and returns the histogram to fill

 private:
  Kind kind_ = Kind::kBad;
  uint64_t u64_ = 0;
  double f64_ = 0;
  Histogram hist_;
};

struct Sample {
  const char* name = nullptr;  // not owned; must outlive the read
  Value value;
};

struct Description {
  std::string name;
  std::string description;
  Kind kind = Kind::kBad;
  // True when the metric only grows (a count or a total since start).
  bool cumulative = false;
};

// Every metric read() knows, sorted by name.
std::vector<Description> all();

// Fills each sample's value (Kind::kBad for an unknown name). Histogram
// samples reuse their vectors' storage from an earlier read.
void read(Sample* samples, size_t n);

}  // namespace rt::metrics
