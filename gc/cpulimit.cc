// The GC CPU limiter's bucket. See cpulimit.h.
#include "gc/cpulimit.h"

#include <atomic>

#include "gc/gcaccount.h"
#include "sched/gmp.h"

namespace rt::collector::cpulimit {

namespace {

constexpr int64_t kUpdatePeriodNs = 10'000'000;
constexpr int64_t kCapacityPerProcNs = 1'000'000'000;

std::atomic<bool> g_enabled{false};
std::atomic<uint32_t> g_busy{0};  // try-lock: one updater at a time
std::atomic<int64_t> g_last_update{0};
// Guarded by g_busy.
int64_t g_fill = 0, g_capacity = 0, g_overflow = 0;
int64_t g_last_gc_total = -1;
uint64_t g_times_enabled = 0;

// Idle-time marking is left out, as Go's limiter does: that CPU would
// otherwise sit idle, it takes nothing from the program.
int64_t gc_total(const GcCpuTotals& t) { return t.assist + t.background + t.pause; }

void accumulate(int64_t mutator, int64_t gc) {
  int64_t change = gc - mutator;
  if (change > 0 && g_fill + change >= g_capacity) {
    g_overflow += g_fill + change - g_capacity;
    g_fill = g_capacity;
    if (!g_enabled.load(std::memory_order_relaxed)) {
      g_times_enabled++;
      g_enabled.store(true, std::memory_order_relaxed);
    }
    return;
  }
  g_fill = g_fill + change < 0 ? 0 : g_fill + change;
  if (change != 0 && g_fill < g_capacity) g_enabled.store(false, std::memory_order_relaxed);
}

}  // namespace

bool limiting() { return g_enabled.load(std::memory_order_relaxed); }

void update(int64_t now) {
  int64_t last = g_last_update.load(std::memory_order_relaxed);
  if (last != 0 && now - last < kUpdatePeriodNs) return;
  if (g_busy.exchange(1, std::memory_order_acquire) != 0) return;
  last = g_last_update.load(std::memory_order_relaxed);
  if (now > last) {
    int32_t procs = rt::sched::gomaxprocs_n.load(std::memory_order_relaxed);
    if (procs < 1) procs = 1;
    g_capacity = int64_t{procs} * kCapacityPerProcNs;
    if (g_fill > g_capacity) g_fill = g_capacity;
    int64_t total = gc_total(gc_cpu_totals());
    if (last != 0 && g_last_gc_total >= 0) {
      int64_t window = (now - last) * procs;
      int64_t gc = total - g_last_gc_total;
      if (gc < 0) gc = 0;
      // Mark spans are timed by wall clock and may overlap the window's
      // edges: the GC's share never exceeds the window.
      if (gc > window) gc = window;
      accumulate(window - gc, gc);
    }
    g_last_gc_total = total;
    g_last_update.store(now, std::memory_order_relaxed);
  }
  g_busy.store(0, std::memory_order_release);
}

Stats stats() {
  Stats s;
  while (g_busy.exchange(1, std::memory_order_acquire) != 0) {
  }
  s.fill_ns = g_fill;
  s.capacity_ns = g_capacity;
  s.overflow_ns = g_overflow;
  s.times_enabled = g_times_enabled;
  s.enabled = g_enabled.load(std::memory_order_relaxed);
  g_busy.store(0, std::memory_order_release);
  return s;
}

}  // namespace rt::collector::cpulimit
