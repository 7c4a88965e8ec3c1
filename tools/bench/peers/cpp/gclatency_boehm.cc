// Boehm GC peer of the gclatency workload: a window of -window live 1 KiB
// messages from GC_MALLOC_ATOMIC; -count times a new message replaces the
// oldest and each push is timed. -incremental switches Boehm to incremental
// collection (GC_enable_incremental); otherwise it collects stop-the-world.
// STW figures come from Boehm's stop-the-world events, summed per cycle.
// See tools/bench/README.md.
#include <cstdio>
#include <cstring>
#include <vector>

#include "boehm_stats.h"
#include "peer_common.h"

namespace {

constexpr size_t kMsgSize = 1024;

// A static root: Boehm scans the data segment, so the window (a GC_MALLOC'd
// array of message pointers) stays reachable through it.
unsigned char** g_window = nullptr;

}  // namespace

int main(int argc, char** argv) {
  peer::Flags flags("gclatency");
  int64_t& win = flags.int_flag("window", 200000, "live messages");
  int64_t& count = flags.int_flag("count", 2000000, "messages pushed");
  bool& incremental = flags.bool_flag("incremental", "Boehm incremental mode");
  flags.parse(argc, argv);
  peer::require(win >= 1 && count >= 0 && count <= 0xffffffffLL, "gclatency",
                "need -window >= 1 and 0 <= -count < 2^32");

  GC_INIT();
  if (incremental) GC_enable_incremental();
  peer::boehm::install();

  // Push times live in malloc'd memory, which Boehm neither scans nor counts.
  std::vector<uint32_t> lat(static_cast<size_t>(count));
  g_window = static_cast<unsigned char**>(GC_MALLOC(static_cast<size_t>(win) * sizeof(void*)));
  if (g_window == nullptr) {
    std::fprintf(stderr, "gclatency: out of memory\n");
    return 1;
  }
  const GC_word gc0 = GC_get_gc_no();

  auto start = peer::Clock::now();
  for (int64_t i = 0; i < count; ++i) {
    auto t0 = peer::Clock::now();
    auto* m = static_cast<unsigned char*>(GC_MALLOC_ATOMIC(kMsgSize));
    if (m == nullptr) {
      std::fprintf(stderr, "gclatency: out of memory\n");
      return 1;
    }
    std::memset(m, static_cast<unsigned char>(i), kMsgSize);
    g_window[i % win] = m;
    int64_t d = peer::ns_since(t0);
    lat[static_cast<size_t>(i)] = d > 0xffffffffLL ? 0xffffffffU : static_cast<uint32_t>(d);
  }
  int64_t ns = peer::ns_since(start);
  GC_word gcs = GC_get_gc_no() - gc0;
  double heap_sys_mb =
      static_cast<double>(GC_get_heap_size() + GC_get_unmapped_bytes()) / (1 << 20);

  int64_t check = 0;
  for (int64_t s = 0; s < win; ++s)
    if (g_window[s] != nullptr) check += g_window[s][kMsgSize - 1];

  std::sort(lat.begin(), lat.end());
  uint32_t worst = lat.empty() ? 0 : lat.back();
  std::vector<uint64_t> pauses = peer::boehm::sorted_cycles();
  std::printf(
      "RESULT gclatency window=%lld count=%lld seconds=%.3f worst_push_us=%.1f p9999_push_us=%.1f "
      "gcs=%lu stw_p50_us=%.1f stw_p99_us=%.1f stw_max_us=%.1f heap_sys_mb=%.1f check=%lld "
      "mode=%s\n",
      static_cast<long long>(win), static_cast<long long>(count), static_cast<double>(ns) / 1e9,
      worst / 1e3, peer::rank(lat, 9999, 10000) / 1e3, static_cast<unsigned long>(gcs),
      static_cast<double>(peer::rank(pauses, 50, 100)) / 1e3,
      static_cast<double>(peer::rank(pauses, 99, 100)) / 1e3,
      static_cast<double>(peer::boehm::g_stats.max_cycle_ns) / 1e3, heap_sys_mb,
      static_cast<long long>(check), incremental ? "incremental" : "stw");
  return 0;
}
