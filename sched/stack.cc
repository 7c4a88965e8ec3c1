// Goroutine stacks: slab allocation, guard pages, pooling. See stack.h for
// the layout of one stack.
//
// Slabs. Stacks are carved from slabs: one mmap (MAP_NORESERVE, so only
// address space is reserved) holding up to kMaxStacksPerSlab stacks of one
// stride (guard page + usable size). A slab is carved front to back, one
// stack at a time, and the guard page of a stack is installed when it is
// carved, so an untouched slab costs neither syscalls nor (in the mprotect
// fallback) mappings. Slabs are never unmapped: a stack's address range
// stays valid for the life of the process, which is what lets
// stack_guard_hit read the slab table without a lock.
//
// The slab table. Every slab is recorded in a table of fixed-size chunks
// (mmap'd on demand, never freed). A record is filled in completely before
// the slab count is published with a release store, and its `carved` count
// only grows, so a signal handler that loads the count with acquire sees
// whole records. Given a slab, the stack index and the offset inside the
// stride are plain arithmetic.
//
// Guard pages. MADV_GUARD_INSTALL (Linux 6.13+) turns a page into a guard
// without splitting the VMA. A one-page probe at start-up decides the mode;
// if the kernel answers EINVAL the allocator uses mprotect(PROT_NONE)
// instead, which splits the slab into two VMAs per stack. In that mode the
// allocator counts mappings (one per slab plus two per stack) and dies with
// a clear fatal error before crossing 90% of vm.max_map_count, instead of
// letting the kernel fail with ENOMEM somewhere unrelated.
//
// The pool. Freed stacks are reused newest first. The newest kHotStacks are
// kept fully resident in a ring (cache-warm, reused without a syscall);
// when the ring is full the oldest entry is evicted to the cold list after
// its memory, except the top page, is released with MADV_DONTNEED. The cold
// list is an array whose capacity is kept at least the number of stacks
// ever carved, so pushing onto it never allocates. Pool state is guarded by
// g_lock; syscalls (guard install, MADV_DONTNEED) run outside it.
//
// Stack size. All pooled stacks have the current size. set_stack_size with
// a new size releases the pool's memory and forgets those stacks (their
// address space stays reserved), and a later stack_free of a stack of
// another size does the same; the size is meant to be set once, before the
// first goroutine.
#include "sched/stack.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <vector>

#include "runtime/fatal.h"
#include "runtime/lock.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

namespace rt::sched {

using rt::detail::fatal;
using rt::detail::FixedText;
using rt::detail::Lock;
using rt::detail::LockGuard;

namespace {

constexpr size_t kPage = 4096;
static_assert(kGuardSize == kPage);
constexpr size_t kMaxStacksPerSlab = 64;
// A slab reserves at most this much address space (unless a single stack is
// bigger): a few slabs of huge stacks should not eat the address space.
constexpr size_t kSlabTargetBytes = size_t{64} << 20;
constexpr size_t kHotStacks = 64;
constexpr size_t kMaxStackSize = size_t{1} << 40;

struct SlabRec {
  uintptr_t base;
  size_t stride;
  uint32_t count;                // stacks the slab can hold
  std::atomic<uint32_t> carved;  // stacks handed out at least once (only grows)
};

constexpr size_t kChunkRecs = 4096;
constexpr size_t kMaxChunks = 1024;  // 4M slabs: far beyond any address space
std::atomic<SlabRec*> g_chunks[kMaxChunks];
std::atomic<size_t> g_nslabs{0};

enum class GuardMode : int { kUnknown, kMadvise, kMprotect };

Lock g_lock;
// Everything below is guarded by g_lock, except where marked.
std::atomic<GuardMode> g_mode{GuardMode::kUnknown};   // written under g_lock, read anywhere
std::atomic<size_t> g_stack_size{kDefaultStackSize};  // read without the lock
bool g_inited = false;
size_t g_map_limit = 0;  // 90% of vm.max_map_count
size_t g_max_map_count = 0;
size_t g_maps_used = 0;    // mappings counted in the mprotect mode
SlabRec* g_cur = nullptr;  // slab being carved
size_t g_total_slots = 0;
size_t g_in_use = 0;
size_t g_in_use_bytes = 0;
size_t g_reserved = 0;
Stack g_hot[kHotStacks];  // ring: g_hot_head is the next write slot
size_t g_hot_head = 0;
size_t g_hot_n = 0;
std::vector<Stack>* g_cold = nullptr;  // capacity >= g_total_slots

size_t read_max_map_count() {
  int fd = ::open("/proc/sys/vm/max_map_count", O_RDONLY | O_CLOEXEC);
  size_t v = 0;
  if (fd >= 0) {
    char buf[32];
    ssize_t n = ::read(fd, buf, sizeof(buf));
    for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++) v = v * 10 + (buf[i] - '0');
    ::close(fd);
  }
  return v != 0 ? v : 65530;  // the kernel's default when /proc is unreadable
}

// Installs a guard page with MADV_GUARD_INSTALL. Returns 0 or the errno.
int madvise_guard(uintptr_t page) {
  for (;;) {
    if (::madvise(reinterpret_cast<void*>(page), kPage, MADV_GUARD_INSTALL) == 0) return 0;
    if (errno != EINTR && errno != EAGAIN) return errno;
  }
}

GuardMode probe_guard_mode() {
  void* p = ::mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) fatal("goroutine stacks: out of memory probing guard pages");
  int err = madvise_guard(reinterpret_cast<uintptr_t>(p));
  ::munmap(p, kPage);
  return err == 0 ? GuardMode::kMadvise : GuardMode::kMprotect;
}

void init_locked() {
  if (g_inited) return;
  g_inited = true;
  g_max_map_count = read_max_map_count();
  g_map_limit = g_max_map_count / 10 * 9;
  if (g_mode.load(std::memory_order_relaxed) == GuardMode::kUnknown)
    g_mode.store(probe_guard_mode(), std::memory_order_relaxed);
  g_cold = new std::vector<Stack>();
}

[[noreturn]] void die_map_budget() {
  FixedText t;
  t << "goroutine stacks would exceed vm.max_map_count (" << uint64_t{g_max_map_count}
    << "); raise it (sysctl vm.max_map_count) or use Linux 6.13+ for MADV_GUARD_INSTALL";
  fatal(t);
}

// Maps a new slab for stacks of `stride` bytes and records it.
SlabRec* new_slab_locked(size_t stride) {
  size_t count = kSlabTargetBytes / stride;
  if (count > kMaxStacksPerSlab) count = kMaxStacksPerSlab;
  if (count == 0) count = 1;
  if (g_mode.load(std::memory_order_relaxed) == GuardMode::kMprotect) {
    if (g_maps_used + 1 > g_map_limit) die_map_budget();
    g_maps_used += 1;
  }
  size_t bytes = count * stride;
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (p == MAP_FAILED) {
    FixedText t;
    t << "goroutine stacks: cannot reserve " << uint64_t{bytes} << " bytes (errno " << errno << ")";
    fatal(t);
  }
  // A touched stack must never become a 2 MiB page (a parked goroutine would
  // pin it); failure only costs memory, so it is not fatal.
  ::madvise(p, bytes, MADV_NOHUGEPAGE);

  size_t i = g_nslabs.load(std::memory_order_relaxed);
  if (i >= kChunkRecs * kMaxChunks) fatal("goroutine stacks: slab table full");
  SlabRec* chunk = g_chunks[i / kChunkRecs].load(std::memory_order_relaxed);
  if (chunk == nullptr) {
    void* c = ::mmap(nullptr, kChunkRecs * sizeof(SlabRec), PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (c == MAP_FAILED) fatal("goroutine stacks: out of memory for the slab table");
    chunk = static_cast<SlabRec*>(c);  // zero-filled: a valid empty SlabRec array
    g_chunks[i / kChunkRecs].store(chunk, std::memory_order_release);
  }
  SlabRec* rec = &chunk[i % kChunkRecs];
  rec->base = reinterpret_cast<uintptr_t>(p);
  rec->stride = stride;
  rec->count = static_cast<uint32_t>(count);
  rec->carved.store(0, std::memory_order_relaxed);
  // release: a reader that sees the new count sees the whole record.
  g_nslabs.store(i + 1, std::memory_order_release);

  g_total_slots += count;
  g_reserved += bytes;
  // Geometric growth: a copy per doubling, not per slab.
  if (g_cold->capacity() < g_total_slots)
    g_cold->reserve(std::max(g_total_slots, 2 * g_cold->capacity()));
  return rec;
}

// Releases the memory of a pooled stack except its top page.
void release_stack(Stack s) {
  if (s.size() > kPage) ::madvise(reinterpret_cast<void*>(s.lo), s.size() - kPage, MADV_DONTNEED);
}

void install_guard(uintptr_t guard, GuardMode mode) {
  if (mode == GuardMode::kMadvise) {
    int err = madvise_guard(guard);
    if (err == 0) return;
    FixedText t;
    t << "goroutine stacks: MADV_GUARD_INSTALL failed (errno " << err << ")";
    fatal(t);
  }
  if (::mprotect(reinterpret_cast<void*>(guard), kPage, PROT_NONE) != 0) {
    if (errno == ENOMEM) die_map_budget();
    FixedText t;
    t << "goroutine stacks: mprotect of a guard page failed (errno " << errno << ")";
    fatal(t);
  }
}

}  // namespace

void set_stack_size(size_t bytes) {
  if (bytes == 0 || bytes > kMaxStackSize) {
    FixedText t;
    t << "goroutine stacks: invalid stack size " << uint64_t{bytes};
    fatal(t);
  }
  size_t rounded = (bytes + kPage - 1) & ~(kPage - 1);
  Stack dropped[kHotStacks];
  size_t ndropped = 0;
  std::vector<Stack> cold;
  {
    LockGuard g(g_lock);
    if (rounded == g_stack_size.load(std::memory_order_relaxed)) return;
    g_stack_size.store(rounded, std::memory_order_relaxed);
    // Pooled stacks have the old size: forget them (see the file comment).
    while (g_hot_n > 0) {
      g_hot_head = (g_hot_head + kHotStacks - 1) % kHotStacks;
      dropped[ndropped++] = g_hot[g_hot_head];
      g_hot_n--;
    }
    if (g_cold != nullptr) {
      cold.swap(*g_cold);
      g_cold->reserve(g_total_slots);
    }
  }
  for (size_t i = 0; i < ndropped; i++) release_stack(dropped[i]);
  // Cold stacks were released when they went cold.
}

size_t stack_size() {
  return g_stack_size.load(std::memory_order_relaxed);
}

Stack stack_alloc() {
  uintptr_t base;
  size_t size;
  GuardMode mode;
  {
    LockGuard g(g_lock);
    init_locked();
    if (g_hot_n > 0) {
      g_hot_head = (g_hot_head + kHotStacks - 1) % kHotStacks;
      g_hot_n--;
      g_in_use++;
      g_in_use_bytes += g_hot[g_hot_head].size();
      return g_hot[g_hot_head];
    }
    if (!g_cold->empty()) {
      Stack s = g_cold->back();
      g_cold->pop_back();
      g_in_use++;
      g_in_use_bytes += s.size();
      return s;
    }
    // Carve a new stack.
    size = g_stack_size.load(std::memory_order_relaxed);
    size_t stride = size + kGuardSize;
    mode = g_mode.load(std::memory_order_relaxed);
    if (mode == GuardMode::kMprotect) {
      if (g_maps_used + 2 > g_map_limit) die_map_budget();  // fatal takes no locks
      g_maps_used += 2;
    }
    if (g_cur == nullptr || g_cur->stride != stride ||
        g_cur->carved.load(std::memory_order_relaxed) == g_cur->count)
      g_cur = new_slab_locked(stride);
    uint32_t idx = g_cur->carved.load(std::memory_order_relaxed);
    base = g_cur->base + idx * stride;
    // release: pairs with stack_guard_hit's acquire of the count.
    g_cur->carved.store(idx + 1, std::memory_order_release);
    g_in_use++;
    g_in_use_bytes += size;
  }
  // The stack is ours alone now; the syscall runs without the lock.
  install_guard(base, mode);
  return Stack{base + kGuardSize, base + kGuardSize + size};
}

void stack_free(Stack s) {
  RT_ASSERT(!s.empty() && s.lo % kPage == 0 && s.hi % kPage == 0 && s.lo < s.hi);
  Stack evicted{};
  {
    LockGuard g(g_lock);
    RT_ASSERT(g_in_use > 0);
    g_in_use--;
    g_in_use_bytes -= s.size();
    if (s.size() != g_stack_size.load(std::memory_order_relaxed)) {
      evicted = s;  // a stack of an old size: released and forgotten
    } else {
      if (g_hot_n == kHotStacks) {
        // Evict the oldest hot stack; it goes cold once released.
        evicted = g_hot[(g_hot_head + kHotStacks - g_hot_n) % kHotStacks];
        g_hot_n--;
      }
      g_hot[g_hot_head] = s;
      g_hot_head = (g_hot_head + 1) % kHotStacks;
      g_hot_n++;
      if (evicted.empty()) return;
    }
  }
  release_stack(evicted);
  if (evicted.size() != g_stack_size.load(std::memory_order_relaxed)) return;
  LockGuard g(g_lock);
  // The size may have changed while the lock was dropped; then forget it.
  if (evicted.size() == g_stack_size.load(std::memory_order_relaxed))
    g_cold->push_back(evicted);  // never reallocates: capacity >= all slots
}

bool stack_guard_hit(uintptr_t addr) {
  size_t n = g_nslabs.load(std::memory_order_acquire);
  for (size_t i = 0; i < n; i++) {
    const SlabRec* chunk = g_chunks[i / kChunkRecs].load(std::memory_order_acquire);
    const SlabRec& r = chunk[i % kChunkRecs];
    if (addr < r.base || addr - r.base >= r.count * r.stride) continue;
    size_t off = addr - r.base;
    // A pooled stack keeps its guard installed, so it counts as well.
    return off % r.stride < kGuardSize && off / r.stride < r.carved.load(std::memory_order_acquire);
  }
  return false;
}

StackStats stack_stats() {
  LockGuard g(g_lock);
  init_locked();
  StackStats st;
  st.in_use = g_in_use;
  st.pooled = g_hot_n + g_cold->size();
  st.reserved_bytes = g_reserved;
  st.in_use_bytes = g_in_use_bytes;
  st.pooled_bytes = st.pooled * g_stack_size.load(std::memory_order_relaxed);  // all of the current size
  st.guard_madvise = g_mode.load(std::memory_order_relaxed) == GuardMode::kMadvise;
  return st;
}

void stack_use_mprotect_guards() {
  LockGuard g(g_lock);
  g_mode.store(GuardMode::kMprotect, std::memory_order_relaxed);
}

void stack_release_memory(Stack s) {
  constexpr size_t kPage = 4096;
  if (s.size() > kPage) madvise(reinterpret_cast<void*>(s.lo), s.size() - kPage, MADV_DONTNEED);
}

}  // namespace rt::sched
