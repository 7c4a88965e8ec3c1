// rt-soak: the collector torture as a long run, with everything on at once.
//
//   rt-soak [--minutes M | --seconds S] [--goroutines N] [--max-slope KIB]
//
// For the given time (10 minutes by default) it runs, with asynchronous
// preemption on and RT_DEBUG=gccheckmark=1 (every concurrent mark
// re-verified stop-the-world; set unless RT_DEBUG is already given):
//   - N/2 goroutines rewiring private graphs of checksummed nodes
//     (soak_workloads.h), while one goroutine runs collections back to back;
//   - a pipeline of N/6 producers, relays and consumers (at least one each)
//     passing checksummed messages as raw pointers and as rt::Ref;
//   - a goroutine changing the memory limit every 3 seconds between
//     32 MiB, 64 MiB, 256 MiB and none.
// A plain thread samples RSS (/proc/self/statm) every second. At the end it
// prints writes done, cycles, objects verified, messages passed, RSS first /
// last / max and the least-squares RSS slope over the second half of the
// run in KiB per minute. Exit status 1 if a checksum broke, an object was
// destroyed twice, or the slope exceeds --max-slope (KiB/min; 0: not
// checked); 2 on a bad flag.
//
// Outside namespace rt: the workloads must stay preemptible.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "rt/gc.h"
#include "rt/sched.h"
#include "rt/sync.h"
#include "tests/soak/soak_workloads.h"

namespace soak {
namespace {

struct Options {
  double seconds = 600;
  int goroutines = 12;
  double max_slope_kib_per_min = 2048;
};

[[noreturn]] void usage_error(const std::string& what) {
  std::fprintf(stderr,
               "rt-soak: %s (usage: rt-soak [--minutes M | --seconds S] [--goroutines N >= 2] "
               "[--max-slope KIB_PER_MIN, 0 = unchecked])\n",
               what.c_str());
  std::exit(2);
}

double parse_number(const char* flag, const char* v, double lo, double hi) {
  char* end = nullptr;
  errno = 0;
  double d = std::strtod(v, &end);
  if (*v == '\0' || *end != '\0' || errno != 0 || !std::isfinite(d) || d < lo || d > hi) {
    char range[64];
    std::snprintf(range, sizeof range, "[%g, %g]", lo, hi);
    usage_error(std::string(flag) + " wants a number in " + range + ", got '" + v + "'");
  }
  return d;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) usage_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--minutes") {
      o.seconds = 60 * parse_number("--minutes", value(), 0.001, 10000);
    } else if (a == "--seconds") {
      o.seconds = parse_number("--seconds", value(), 0.1, 600000);
    } else if (a == "--goroutines") {
      const char* v = value();
      double n = parse_number("--goroutines", v, 2, 10000);
      if (n != std::floor(n)) usage_error(std::string("--goroutines wants an integer, got '") + v + "'");
      o.goroutines = static_cast<int>(n);
    } else if (a == "--max-slope") {
      o.max_slope_kib_per_min = parse_number("--max-slope", value(), 0, 1e12);
    } else {
      usage_error("unknown flag '" + a + "'");
    }
  }
  return o;
}

// Resident set size in KiB, from /proc/self/statm (second field, pages).
int64_t rss_kib() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return -1;
  long size = 0, resident = 0;
  int n = std::fscanf(f, "%ld %ld", &size, &resident);
  std::fclose(f);
  if (n != 2) return -1;
  return static_cast<int64_t>(resident) * (sysconf(_SC_PAGESIZE) / 1024);
}

struct Sample {
  double t;  // seconds since the start
  int64_t rss_kib;
};

// Least-squares slope of RSS over time for the samples at or after from_t,
// in KiB per minute.
double slope_kib_per_min(const std::vector<Sample>& samples, double from_t) {
  double n = 0, st = 0, sr = 0, stt = 0, str = 0;
  for (const Sample& s : samples) {
    if (s.t < from_t) continue;
    n += 1;
    st += s.t;
    sr += static_cast<double>(s.rss_kib);
    stt += s.t * s.t;
    str += s.t * static_cast<double>(s.rss_kib);
  }
  double den = n * stt - st * st;
  if (n < 2 || den <= 0) return 0;
  return (n * str - st * sr) / den * 60;
}

using Clock = std::chrono::steady_clock;

int soak_main(const Options& o) {
  Counters counters;
  std::atomic<bool> stop{false};
  const int rewirers = std::max(1, o.goroutines / 2);
  const int stage = std::max(1, o.goroutines / 6);
  const auto t0 = Clock::now();
  auto since_start = [&] { return std::chrono::duration<double>(Clock::now() - t0).count(); };

  // RSS sampler: a plain thread, so a stalled scheduler cannot skew it.
  std::mutex samples_mu;
  std::vector<Sample> samples;
  std::atomic<bool> sampling{true};
  std::thread sampler([&] {
    while (sampling.load()) {
      Sample s{since_start(), rss_kib()};
      {
        std::lock_guard<std::mutex> l(samples_mu);
        samples.push_back(s);
      }
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
  });

  const uint64_t cycles0 = rt::gc_stats().cycles;
  const int64_t limit0 = rt::set_memory_limit(-1);
  uint64_t limit_changes = 0;
  rt::WaitGroup all;
  all.go([&] {  // collections back to back
    while (!stop.load()) rt::gc();
  });
  for (int i = 0; i < rewirers; i++) {
    all.go([&, i] { rewire(4242 + static_cast<uint64_t>(i), stop, counters); });
  }
  all.go([&] { pipeline(stage, stage, stage, stop, counters); });
  all.go([&] {  // the memory limit, changed every 3 s
    const int64_t limits[] = {32 << 20, 64 << 20, 256 << 20, std::numeric_limits<int64_t>::max()};
    for (int k = 0; !stop.load(); k++) {
      rt::set_memory_limit(limits[k % 4]);
      limit_changes++;
      for (int i = 0; i < 30 && !stop.load(); i++) rt::sleep(std::chrono::milliseconds(100));
    }
  });

  // Progress, once a minute, so a long run shows it is alive.
  const auto end = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
  auto next_report = t0 + std::chrono::minutes(1);
  while (Clock::now() < end) {
    rt::sleep(std::min<Clock::duration>(std::chrono::milliseconds(200), end - Clock::now()));
    if (Clock::now() >= next_report) {
      next_report += std::chrono::minutes(1);
      std::printf("rt-soak: %.0f s: %llu writes, %llu cycles, RSS %lld KiB\n", since_start(),
                  static_cast<unsigned long long>(counters.writes.load()),
                  static_cast<unsigned long long>(rt::gc_stats().cycles - cycles0),
                  static_cast<long long>(rss_kib()));
      std::fflush(stdout);
    }
  }
  stop = true;
  all.wait();
  rt::set_memory_limit(limit0);
  const double elapsed = since_start();
  sampling = false;
  rt::blocking([&] { sampler.join(); });

  int64_t first = samples.empty() ? 0 : samples.front().rss_kib;
  int64_t last = samples.empty() ? 0 : samples.back().rss_kib;
  int64_t max = 0;
  for (const Sample& s : samples) max = std::max(max, s.rss_kib);
  const double slope = slope_kib_per_min(samples, elapsed / 2);
  const uint64_t errors = counters.checksum_errors.load();
  const int64_t doubles = g_double_destroyed.load();

  std::printf("rt-soak: %.1f s, %d goroutines (%d rewiring, pipeline %d x 3), GOMAXPROCS %d, RT_DEBUG=%s\n",
              elapsed, rewirers + 3 * stage + 2, rewirers, stage, rt::gomaxprocs(),
              std::getenv("RT_DEBUG") ? std::getenv("RT_DEBUG") : "");
  std::printf("  writes done         %llu\n", static_cast<unsigned long long>(counters.writes.load()));
  std::printf("  gc cycles           %llu\n", static_cast<unsigned long long>(rt::gc_stats().cycles - cycles0));
  std::printf("  objects verified    %llu\n", static_cast<unsigned long long>(counters.verified.load()));
  std::printf("  messages passed     %llu\n", static_cast<unsigned long long>(counters.messages.load()));
  std::printf("  memory limit changes %llu\n", static_cast<unsigned long long>(limit_changes));
  std::printf("  RSS KiB             first %lld, last %lld, max %lld (%zu samples)\n", static_cast<long long>(first),
              static_cast<long long>(last), static_cast<long long>(max), samples.size());
  char limit[32] = "unchecked";
  if (o.max_slope_kib_per_min > 0) std::snprintf(limit, sizeof limit, "%.0f KiB/min", o.max_slope_kib_per_min);
  std::printf("  RSS slope           %.1f KiB/min over the second half (limit %s)\n", slope, limit);
  std::printf("  checksum errors     %llu, double destructions %lld\n", static_cast<unsigned long long>(errors),
              static_cast<long long>(doubles));

  int status = 0;
  if (errors || doubles) {
    std::printf("rt-soak: FAILED: objects broke under the collector\n");
    status = 1;
  }
  if (o.max_slope_kib_per_min > 0 && slope > o.max_slope_kib_per_min) {
    std::printf("rt-soak: FAILED: RSS grows %.1f KiB/min (limit %.1f)\n", slope, o.max_slope_kib_per_min);
    status = 1;
  }
  if (counters.writes.load() == 0 || counters.messages.load() == 0) {
    std::printf("rt-soak: FAILED: a workload made no progress\n");
    status = 1;
  }
  if (status == 0) std::printf("rt-soak: PASS\n");
  return status;
}

}  // namespace
}  // namespace soak

int main(int argc, char** argv) {
  soak::Options o = soak::parse(argc, argv);
  // Every verification on, unless the caller chose RT_DEBUG itself.
  setenv("RT_DEBUG", "gccheckmark=1", 0);
  return rt::run(argc, argv, [&] { return soak::soak_main(o); });
}
