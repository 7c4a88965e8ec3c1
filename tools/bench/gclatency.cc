// rt-bench-gclatency: the `gclatency` workload (tools/bench/README.md) on
// librt's collector. A window of -window live 1 KiB pointer-free messages
// (GC'd, noscan) held through Refs in one GC'd array; -count times a new
// message replaces the oldest and each push is timed. Reports the worst and
// 99.99th-percentile push and the collector's stop-the-world pauses per
// cycle (GcStats::pause_ns: each cycle's pauses summed, as Go's PauseNs).
// -trace N records an rt::trace with N events per P meanwhile (the
// tracer's cost).
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "rt/gc.h"
#include "rt/memstats.h"
#include "rt/sched.h"
#include "rt/trace.h"
#include "tools/bench/flags.h"

namespace {

constexpr size_t kMsgSize = 1024;
struct Msg {
  unsigned char b[kMsgSize];
};

struct Slot {
  rt::Ref<Msg> msg;
};

Msg* make_message(int64_t i) {
  Msg* m = rt::make<Msg>();
  memset(m->b, static_cast<unsigned char>(i), kMsgSize);
  return m;
}

template <typename T>
T rank(const std::vector<T>& sorted, size_t num, size_t den) {
  size_t n = sorted.size();
  if (n == 0) return 0;
  size_t idx = (n * num + den - 1) / den;
  idx = idx == 0 ? 0 : idx - 1;
  return sorted[std::min(idx, n - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  int64_t win = 200000, count = 2000000, trace = 0;
  rt_bench::Flags flags("rt-bench-gclatency");
  flags.add("window", &win, "live messages");
  flags.add("count", &count, "messages pushed");
  flags.add("trace", &trace, "record an rt::trace of this many events per P (0: off)");
  flags.parse(argc, argv);
  if (win < 1 || count < 0) {
    fprintf(stderr, "gclatency: need -window >= 1 and -count >= 0\n");
    return 2;
  }
  return rt::run(argc, argv, [&] {
    // Push times live outside the GC heap, so they do not change the heap
    // the collector paces.
    uint32_t* lat = nullptr;
    if (count > 0) {
      void* mem = mmap(nullptr, static_cast<size_t>(count) * 4, PROT_READ | PROT_WRITE,
                       MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
      if (mem == MAP_FAILED) {
        perror("gclatency: mmap");
        return 1;
      }
      lat = static_cast<uint32_t*>(mem);
    }
    rt::Root<Slot> window(rt::make_array<Slot>(static_cast<size_t>(win)));
    if (trace > 0) rt::trace::start(static_cast<size_t>(trace));
    rt::GcStats s0 = rt::gc_stats();
    auto start = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < count; i++) {
      auto t0 = std::chrono::steady_clock::now();
      window.get()[i % win].msg = make_message(i);
      int64_t d = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
      lat[i] = static_cast<uint32_t>(std::min<int64_t>(d, 0xffffffff));
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    rt::GcStats s1 = rt::gc_stats();
    if (trace > 0) {
      rt::trace::stop();
      printf("TRACE events=%zu dropped=%llu\n", rt::trace::events().size(),
             static_cast<unsigned long long>(rt::trace::dropped()));
    }
    int64_t check = 0;
    for (int64_t i = 0; i < win; i++) {
      if (Msg* m = window.get()[i].msg.get()) check += m->b[kMsgSize - 1];
    }
    std::vector<uint32_t> pushes(lat, lat + count);
    std::sort(pushes.begin(), pushes.end());
    uint32_t worst = pushes.empty() ? 0 : pushes.back();
    uint64_t gcs = s1.cycles - s0.cycles;
    std::vector<int64_t> pauses;
    for (uint64_t c = 0; c < std::min<uint64_t>(gcs, 256); c++) pauses.push_back(s1.pause_ns[(s1.cycles - 1 - c) % 256]);
    std::sort(pauses.begin(), pauses.end());
    int64_t stw_max = pauses.empty() ? 0 : pauses.back();
    rt::MemStats ms = rt::read_mem_stats();
    printf("RESULT gclatency window=%lld count=%lld seconds=%.3f worst_push_us=%.1f p9999_push_us=%.1f "
           "gcs=%llu stw_p50_us=%.1f stw_p99_us=%.1f stw_max_us=%.1f heap_sys_mb=%.1f check=%lld "
           "single_stw_max_us=%.1f mark_retries=%llu\n",
           static_cast<long long>(win), static_cast<long long>(count), secs, worst / 1e3,
           rank(pushes, 9999, 10000) / 1e3, static_cast<unsigned long long>(gcs), rank(pauses, 50, 100) / 1e3,
           rank(pauses, 99, 100) / 1e3, stw_max / 1e3, static_cast<double>(ms.heap_sys) / (1 << 20),
           static_cast<long long>(check), s1.max_pause_ns / 1e3,
           static_cast<unsigned long long>(s1.mark_termination_retries - s0.mark_termination_retries));
    return 0;
  });
}
