// Micro-benchmarks of the allocator's fast paths (Google Benchmark): one
// allocate + explicit free per iteration, for a few sizes and both scan
// kinds, next to mimalloc on the same sizes (glibc malloc cannot be measured here:
// linking Debian's libmimalloc makes it the process malloc).
#include <benchmark/benchmark.h>
#include <mimalloc.h>

#include <cstdlib>

#include "alloc/malloc.h"

namespace {

void BM_RtAllocFree(benchmark::State& state) {
  size_t size = static_cast<size_t>(state.range(0));
  unsigned flags = state.range(1) ? rt::alloc::kNoScan : rt::alloc::kScan;
  for (auto _ : state) {
    void* p = rt::alloc::allocate(size, flags);
    benchmark::DoNotOptimize(p);
    rt::alloc::free_object(p);
  }
}
BENCHMARK(BM_RtAllocFree)->ArgsProduct({{16, 56, 72, 512, 4096}, {0, 1}});

// Allocation alone, in batches freed outside the timed region's hot loop.
void BM_RtAllocBatch(benchmark::State& state) {
  constexpr int kBatch = 4096;
  void* ptrs[kBatch];
  size_t size = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    for (int i = 0; i < kBatch; i++) ptrs[i] = rt::alloc::allocate(size, rt::alloc::kNoScan);
    benchmark::DoNotOptimize(ptrs);
    state.PauseTiming();
    for (int i = 0; i < kBatch; i++) rt::alloc::free_object(ptrs[i]);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
}
BENCHMARK(BM_RtAllocBatch)->Arg(16)->Arg(64);

void BM_MimallocFree(benchmark::State& state) {
  size_t size = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    void* p = mi_malloc(size);
    benchmark::DoNotOptimize(p);
    mi_free(p);
  }
}
BENCHMARK(BM_MimallocFree)->Arg(16)->Arg(56)->Arg(72)->Arg(512)->Arg(4096);

}  // namespace
