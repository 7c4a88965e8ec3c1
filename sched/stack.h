// Goroutine stacks: fixed-size, reserved large and committed lazily by the
// OS, each with a guard page below it, pooled for reuse.
//
// Layout of one stack (addresses grow up):
//   [guard page (kGuardSize)][usable stack .................... ] hi
// The guard is installed with MADV_GUARD_INSTALL (Linux 6.13+), which does
// not split the mapping, so many stacks carved from one mapping stay one
// VMA; where the kernel lacks it, mprotect(PROT_NONE) is used, which costs
// two mappings per stack against vm.max_map_count (the allocator refuses
// with a clear fatal error before the kernel would). Stacks are marked
// MADV_NOHUGEPAGE so a touched stack never becomes a 2 MiB page.
//
// Freed stacks go to a pool; a pooled stack keeps only its top pages
// resident (the rest is released with MADV_DONTNEED), so a burst of
// goroutines does not pin its peak memory forever. The newest few freed
// stacks (64) stay whole, so steady spawning reuses them without a syscall.
#pragma once

#include <cstddef>
#include <cstdint>

namespace rt::sched {

inline constexpr size_t kGuardSize = 4096;
inline constexpr size_t kDefaultStackSize = 256 << 10;  // usable bytes per goroutine

struct Stack {
  uintptr_t lo = 0;  // lowest usable byte (just above the guard page)
  uintptr_t hi = 0;  // one past the highest usable byte; the stack grows down from here
  size_t size() const { return hi - lo; }
  bool empty() const { return hi == 0; }
};

// Sets the usable size of stacks allocated from now on (rounded up to the
// page size); call before the first goroutine starts. RT_STACKSIZE sets it.
void set_stack_size(size_t bytes);
size_t stack_size();

// A fresh or pooled stack. Dies with a fatal error if no memory or no
// mapping budget is left.
Stack stack_alloc();
// Returns a stack to the pool.
void stack_free(Stack s);
// Returns a stack's memory to the OS (all but its top page) while keeping
// the stack itself; it reads as zero when touched again. For stacks that
// are not in use (free goroutines).
void stack_release_memory(Stack s);

// If `addr` lies in the guard page of a live goroutine stack, returns true.
// Async-signal-safe (the SIGSEGV handler uses it to report overflow).
bool stack_guard_hit(uintptr_t addr);

struct StackStats {
  size_t in_use = 0;       // stacks handed out
  size_t pooled = 0;       // stacks in the pool
  size_t reserved_bytes = 0;
  size_t in_use_bytes = 0;  // usable bytes of the stacks handed out
  size_t pooled_bytes = 0;  // usable bytes of the pooled stacks
  bool guard_madvise = false;  // true: MADV_GUARD_INSTALL, false: mprotect
};
StackStats stack_stats();

// Installs guard pages with mprotect from now on, as on a kernel without
// MADV_GUARD_INSTALL (tests use it to exercise the fallback and its mapping
// budget). Stacks already handed out keep their guards.
void stack_use_mprotect_guards();

}  // namespace rt::sched
