// The lab's built-in workloads: allocation patterns on GC'd objects
// (rt::make, rt::Ref, rt::make_array) that exercise the collector's pacing.
//   window  a window of `live` bytes of messages (`msg` bytes each, pointer
//           free); each operation replaces the oldest message
//   trees   binary trees: a long-lived tree of `depth`, then `count` trees
//           of depth `depth` built and dropped (an operation: one node)
//   server  `workers` goroutines serving `count` requests from a channel;
//           each request makes `msg` bytes of garbage and refreshes one
//           entry of a `live`-byte cache of 1 KiB entries
//   limit   the window growing linearly from `live` to `grow` bytes (set a
//           --memlimit below `grow` to see the limit take over from GOGC)
//   phase   the window at `live` bytes for half the operations, then `grow`
// `count` 0 means 200000 messages, 30 trees or 100000 requests.
// `rate` > 0 paces operations (per second, over all goroutines).
// Each builds its starting live heap before the measured part begins.
// Every workload reports its worst mutator stall: the longest time one of
// its goroutines took from the end of an operation to the end of the next
// (sleeping to keep the rate and waiting for requests do not count).
// Workloads run on a goroutine under rt::run.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tools/bench/flags.h"

namespace lab {

struct WorkloadParams {
  std::string name = "window";
  int64_t live = 16 << 20;   // bytes
  int64_t msg = 1024;        // bytes
  int64_t count = 0;         // operations; 0: the workload's default
  int64_t rate = 0;          // operations per second; 0: unpaced
  int64_t depth = 16;        // trees
  int64_t workers = 4;       // server
  int64_t grow = 64 << 20;   // limit, phase: bytes
};

struct WorkloadResult {
  uint64_t ops = 0;
  uint64_t worst_stall_ns = 0;
  uint64_t check = 0;  // a value derived from the data, so nothing is optimised away
};

const std::vector<std::string>& workload_names();

// Registers the workload flags (--workload, --live, --msg, ...) on `flags`,
// with sizes as strings (parsed by finish_workload_flags).
struct WorkloadFlagText {
  std::string live, msg, grow;
};
void add_workload_flags(rt_bench::Flags& flags, WorkloadParams& p, WorkloadFlagText& text);
// Validates the parsed values; a bad one is a usage error (exit 2).
void finish_workload_flags(const rt_bench::Flags& flags, WorkloadParams& p, const WorkloadFlagText& text);

// Runs the workload on the calling goroutine (and goroutines it starts).
// It first builds its steady live heap (the window filled, the long-lived
// tree, the cache), then calls measure() and runs its operations: what
// happens after measure() is what the session reports.
WorkloadResult run_workload(const WorkloadParams& p, const std::function<void()>& measure);

// Byte sizes: "65536", "64KiB", "64MiB", "1GiB" (also KB/MB/GB = powers of
// 1000, and k/M/G as KiB/MiB/GiB). False when malformed.
bool parse_size(const std::string& text, int64_t* out);
// "64.0MiB" style.
std::string format_size(double bytes);

}  // namespace lab
