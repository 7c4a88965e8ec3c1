// Micro-benchmarks of goroutine switching (Google Benchmark), each reported
// as ns per switch (counter "ns_per_switch"; one switch = one goroutine
// stops running and another starts on the same thread):
// - BM_FcontextSwitch: Boost.Context's bare jump_fcontext between two
//   contexts, the floor any fiber runtime on it pays;
// - BM_GoschedSwitch / BM_GoyieldSwitch: two goroutines at GOMAXPROCS=1
//   yielding to each other through the global queue (rt::gosched, Go's
//   runtime.Gosched) or the P's local queue;
// - BM_ChanHandoffSwitch: two goroutines at GOMAXPROCS=1 bouncing a value
//   over two unbuffered channels (two switches per round trip, each a park
//   plus a ready).
#include <benchmark/benchmark.h>

#include <boost/context/detail/fcontext.hpp>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "rt/rt.h"
#include "sched/sema.h"

namespace {

namespace bctx = boost::context::detail;

void set_switch_counter(benchmark::State& state, int64_t switches) {
  state.counters["ns_per_switch"] = benchmark::Counter(
      static_cast<double>(switches), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// ---------------------------------------------------------------------------
// Bare fcontext: the partner context jumps straight back every time.

void partner_entry(bctx::transfer_t t) {
  for (;;) t = bctx::jump_fcontext(t.fctx, nullptr);
}

void BM_FcontextSwitch(benchmark::State& state) {
  constexpr size_t kStack = 64 * 1024;
  std::vector<char> stack(kStack);
  bctx::fcontext_t partner = bctx::make_fcontext(stack.data() + kStack, kStack, partner_entry);
  for (auto _ : state) {
    bctx::transfer_t t = bctx::jump_fcontext(partner, nullptr);
    partner = t.fctx;
  }
  set_switch_counter(state, state.iterations() * 2);
}
BENCHMARK(BM_FcontextSwitch)->UseRealTime();

// ---------------------------------------------------------------------------
// Goroutines. Each benchmark runs its timing loop on a goroutine of
// rt::run, with a partner goroutine at GOMAXPROCS=1.

template <typename Body>
void in_runtime(Body&& body) {
  rt::run(0, nullptr, [&] {
    int old = rt::gomaxprocs(1);
    body();
    rt::gomaxprocs(old);
    return 0;
  });
}

template <typename Yield>
void yield_benchmark(benchmark::State& state, Yield yield) {
  in_runtime([&] {
    std::atomic<bool> stop{false};
    auto done = rt::make_chan<bool>(1);
    rt::go([&, done]() mutable {
      while (!stop.load(std::memory_order_relaxed)) yield();
      done.send(true);
    });
    yield();  // let the partner start
    for (auto _ : state) yield();
    stop.store(true, std::memory_order_relaxed);
    done.recv();
  });
  set_switch_counter(state, state.iterations() * 2);
}

void BM_GoschedSwitch(benchmark::State& state) { yield_benchmark(state, [] { rt::gosched(); }); }
BENCHMARK(BM_GoschedSwitch)->UseRealTime();

void BM_GoyieldSwitch(benchmark::State& state) {
  yield_benchmark(state, [] { rt::sched::goyield(); });
}
BENCHMARK(BM_GoyieldSwitch)->UseRealTime();

void BM_ChanHandoffSwitch(benchmark::State& state) {
  in_runtime([&] {
    auto ping = rt::make_chan<int64_t>(), pong = rt::make_chan<int64_t>();
    rt::go([=]() mutable {
      for (;;) {
        auto [v, ok] = ping.recv2();
        if (!ok) return;
        pong.send(v + 1);
      }
    });
    int64_t v = 0;
    for (auto _ : state) {
      ping.send(v);
      v = pong.recv();
    }
    ping.close();
    benchmark::DoNotOptimize(v);
  });
  set_switch_counter(state, state.iterations() * 2);
}
BENCHMARK(BM_ChanHandoffSwitch)->UseRealTime();

}  // namespace
