// Links librt through its public target and reads the heap statistics.
#include <rt/rt.h>

#include <cstdio>

int main() {
  rt::MemStats m = rt::read_mem_stats();
  std::printf("consumer ok: heap_sys=%llu\n", static_cast<unsigned long long>(m.heap_sys));
  return 0;
}
