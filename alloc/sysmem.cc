// OS memory on Linux. See sysmem.h.
#include "alloc/sysmem.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>

namespace rt::alloc {

void* sys_reserve(size_t size, size_t align) {
  // Over-reserve by `align` and trim both ends, the portable way to get an
  // aligned reservation from mmap.
  size_t total = size + align;
  if (total < size) return nullptr;
  void* p = mmap(nullptr, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  uintptr_t raw = reinterpret_cast<uintptr_t>(p);
  uintptr_t aligned = (raw + align - 1) & ~(uintptr_t{align} - 1);
  if (aligned > raw) munmap(p, aligned - raw);
  uintptr_t end = aligned + size;
  if (raw + total > end) munmap(reinterpret_cast<void*>(end), raw + total - end);
  return reinterpret_cast<void*>(aligned);
}

bool sys_map(void* addr, size_t size) {
  if (mprotect(addr, size, PROT_READ | PROT_WRITE) != 0) return false;
  // The heap is touched sparsely and scavenged page by page; transparent
  // huge pages would make released memory come back 2 MiB at a time.
  // Advisory only, so failure is harmless.
  madvise(addr, size, MADV_NOHUGEPAGE);
  return true;
}

void sys_release(void* addr, size_t size) {
  // MADV_DONTNEED (not MADV_FREE): RSS drops at once, which is what the
  // scavenger's goal and the memory limit are measured against.
  madvise(addr, size, MADV_DONTNEED);
}

void* sys_alloc_metadata(size_t size) {
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

size_t sys_resident_bytes() {
  int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[128];
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  // statm: size resident shared text lib data dt (in pages)
  char* p = buf;
  strtoull(p, &p, 10);
  unsigned long long resident = strtoull(p, &p, 10);
  return static_cast<size_t>(resident) * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

}  // namespace rt::alloc
