// The plain-thread gate. See gate.h.
#include "gc/gate.h"

#include <sched.h>
#include <time.h>

#include <atomic>
#include <cstdint>

#include "rt/gc.h"
#include "runtime/fatal.h"
#include "sched/gmp.h"

namespace rt::collector {

namespace {

std::atomic<uint32_t> g_inside{0};     // plain threads inside the gate
std::atomic<bool> g_closed{false};     // a collection is running
thread_local int t_depth = 0;

void pause_briefly() {
  timespec ts{0, 50'000};
  nanosleep(&ts, nullptr);
}

}  // namespace

void gate_close() {
  g_closed.store(true, std::memory_order_seq_cst);
  while (g_inside.load(std::memory_order_seq_cst) != 0) sched_yield();
}

void gate_open() { g_closed.store(false, std::memory_order_seq_cst); }

int gate_depth() { return t_depth; }

}  // namespace rt::collector

namespace rt::detail {

void plain_gate_enter() {
  if (rt::collector::stopped_by_the_world()) return;
  if (rt::collector::t_depth++ > 0) return;
  for (;;) {
    // seq_cst on both sides (here and gate_close): either the collector
    // sees our count, or we see its flag.
    rt::collector::g_inside.fetch_add(1, std::memory_order_seq_cst);
    if (!rt::collector::g_closed.load(std::memory_order_seq_cst)) return;
    rt::collector::g_inside.fetch_sub(1, std::memory_order_seq_cst);
    while (rt::collector::g_closed.load(std::memory_order_seq_cst)) rt::collector::pause_briefly();
  }
}

void plain_gate_exit() {
  if (rt::collector::stopped_by_the_world()) return;
  // An exit with no enter on this thread would leave a later enter's
  // count behind, and the next collection would wait at the gate forever.
  if (rt::collector::t_depth <= 0) rt::detail::fatal("plain_gate_exit: thread is not inside the collector's gate");
  if (--rt::collector::t_depth == 0) rt::collector::g_inside.fetch_sub(1, std::memory_order_seq_cst);
}

}  // namespace rt::detail
