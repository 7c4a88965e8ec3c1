// Configuration from the environment, with Go's syntax under an RT_ prefix.
//
//   RT_GOGC       percent (integer >= 0) or "off"             default 100
//   RT_MEMLIMIT   bytes, optional suffix B KiB MiB GiB TiB      default none
//   RT_MAXPROCS   integer from 1 to 1024                        default usable CPUs
//   RT_STACKSIZE  bytes with optional suffix (>= 16 KiB)        default 256 KiB
//   RT_DEBUG      comma list of name=value:
//                   gctrace=N schedtrace=MS scheddetail=N asyncpreemptoff=N
//                   gccheckmark=N gcstoptheworld=N scavtrace=N
//
// An empty variable counts as unset (Go's rule for GOGC and GOMAXPROCS).
// A malformed value stops start-up with one line naming the variable, the
// value and the accepted form, and exit status 2 ("fatal error" is kept for
// broken invariants; bad input is the user's to fix).
#pragma once

#include <cstdint>
#include <optional>

namespace rt::detail {

// The most Ps the scheduler keeps (allp's size). Go has no such bound; an
// RT_MAXPROCS above it is refused rather than silently cut down.
inline constexpr int kMaxProcs = 1024;

struct DebugVars {
  int gctrace = 0;
  int schedtrace = 0;  // milliseconds between scheduler trace lines; 0 = off
  int scheddetail = 0;
  int asyncpreemptoff = 0;
  int gccheckmark = 0;
  int gcstoptheworld = 0;
  int scavtrace = 0;
};

struct Config {
  int gogc = 100;                  // -1 = off
  std::optional<int64_t> memlimit; // bytes
  std::optional<int> maxprocs;
  std::optional<int64_t> stacksize;
  DebugVars debug;
};

// Parses the RT_* variables (once; later calls return the same values).
// Exits with status 2 on a malformed value.
const Config& config();

// Parsers, exposed for tests. Each returns nullopt on malformed input.
std::optional<int> parse_gogc(const char* s);        // "off" -> -1
std::optional<int64_t> parse_bytes(const char* s);   // "64MiB" -> 67108864
std::optional<int> parse_positive_int(const char* s);
// Parses RT_DEBUG; on error sets *bad to the offending item.
std::optional<DebugVars> parse_debug(const char* s, const char** bad_begin, const char** bad_end);

// Usable CPUs: the affinity mask, capped by the cgroup v2 (cpu.max) or v1
// (cfs_quota_us / cfs_period_us) quota, rounded up, at least 1.
int usable_cpus();

// The cgroup CPU limit of the calling process, ceil(quota / period), the
// smallest over its cgroup and the cgroup's ancestors, v2 and v1 alike;
// nullopt when no quota applies. Files are read below `root`: "" for the
// real system, a directory mimicking /proc/self and /sys/fs/cgroup in tests.
std::optional<int> cgroup_cpu_limit(const char* root);

}  // namespace rt::detail
