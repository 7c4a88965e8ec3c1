// Marking: from roots and stacks to every reachable GC'd object.
//
// Grey objects wait on an explicit mark stack (a vector in malloc'd memory,
// never recursion). mark_word resolves a candidate pointer through the
// allocator's span table (interior pointers included; free slots and raw
// allocations ignored), sets the object's mark bit (the span's mark_bits)
// and pushes scan objects. drain() pops and scans: by the type's pointer
// map when precise, every word of the elements when conservative or not
// yet known. Noscan objects are marked but never scanned.
//
// Stacks are scanned conservatively, word by word: every other goroutine
// suspended (suspend_g claims it; with the world stopped they are all
// parked or runnable, their callee-saved registers spilled on their stacks
// by the switch or the preemption trampoline) from its saved SP (syscall
// SP in a syscall) to its top; the collecting goroutine from below its own
// frame, after spilling its registers. Plain threads' stacks are not roots.
//
// Single-threaded: runs on the collecting thread with the world stopped.
#pragma once

#include <cstdint>
#include <vector>

namespace rt::collector {

class Marker {
 public:
  void mark_word(uintptr_t w);
  void scan_range(uintptr_t lo, uintptr_t hi);  // conservative, word-aligned
  void mark_roots();
  void mark_goroutine_stacks();  // every goroutine but the caller
  void mark_own_stack();         // the calling goroutine's stack and registers
  void drain();
  uint64_t marked_objects() const { return marked_objects_; }

 private:
  void scan_object(uintptr_t slot);
  std::vector<uintptr_t> stack_;  // slots of grey scan objects
  uint64_t marked_objects_ = 0;
};

}  // namespace rt::collector
