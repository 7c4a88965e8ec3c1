// Marking. See mark.h.
#include "gc/mark.h"

#include <setjmp.h>

#include "gc/heapobj.h"
#include "gc/roots.h"
#include "sched/proc.h"
#include "sched/stw.h"

#if defined(RT_ASAN)
#include <sanitizer/asan_interface.h>
#endif

namespace rt::collector {

void Marker::mark_word(uintptr_t w) {
  Managed m;
  if (!find_managed(w, &m)) return;
  std::atomic<uint64_t>& word = m.span->mark_bits[m.idx / 64];
  uint64_t bit = uint64_t{1} << (m.idx % 64);
  uint64_t old = word.load(std::memory_order_relaxed);
  if (old & bit) return;
  word.store(old | bit, std::memory_order_relaxed);
  marked_objects_++;
  if (m.scan) stack_.push_back(m.slot);
}

// Stacks hold ASan redzones; the loads here are deliberate.
__attribute__((no_sanitize("address"))) void Marker::scan_range(uintptr_t lo, uintptr_t hi) {
  lo = (lo + 7) & ~uintptr_t{7};
  for (uintptr_t p = lo; p + 8 <= hi; p += 8) {
    uintptr_t w = *reinterpret_cast<const uintptr_t*>(p);
    mark_word(w);
  }
}

void Marker::scan_object(uintptr_t slot) {
  const auto* h = reinterpret_cast<const ObjectHeader*>(slot);
  const rt::detail::TypeInfo* ti = h->type;
  uintptr_t obj = slot + kHeaderSize;
  size_t count = h->count;
  if (ti->state.load(std::memory_order_acquire) == rt::detail::TypeInfo::kPrecise) {
    const uint64_t* mask = ti->ptrmask.load(std::memory_order_acquire);
    size_t words = ti->size / 8;
    for (size_t e = 0; e < count; e++) {
      uintptr_t base = obj + e * ti->size;
      for (size_t i = 0; i < words; i++) {
        if ((mask[i / 64] >> (i % 64)) & 1) mark_word(*reinterpret_cast<const uintptr_t*>(base + i * 8));
      }
    }
  } else {
    scan_range(obj, obj + count * ti->size);
  }
}

void Marker::drain() {
  while (!stack_.empty()) {
    uintptr_t slot = stack_.back();
    stack_.pop_back();
    scan_object(slot);
  }
}

void Marker::mark_roots() {
  for_each_root([](void* p, void* self) { static_cast<Marker*>(self)->mark_word(reinterpret_cast<uintptr_t>(p)); },
                this);
}

namespace {

#if defined(RT_ASAN)
// Words that point into ASan's fake frames (detect_stack_use_after_return)
// stand for locals that live there: scan those frames too.
void scan_fake_frames(Marker* m, void* fake_stack, uintptr_t lo, uintptr_t hi) __attribute__((no_sanitize("address")));
void scan_fake_frames(Marker* m, void* fake_stack, uintptr_t lo, uintptr_t hi) {
  if (!fake_stack) return;
  for (uintptr_t p = (lo + 7) & ~uintptr_t{7}; p + 8 <= hi; p += 8) {
    void* beg = nullptr;
    void* end = nullptr;
    void* w = *reinterpret_cast<void* const*>(p);
    if (__asan_addr_is_in_fake_stack(fake_stack, w, &beg, &end))
      m->scan_range(reinterpret_cast<uintptr_t>(beg), reinterpret_cast<uintptr_t>(end));
  }
}
#endif

}  // namespace

void Marker::mark_goroutine_stacks() {
  std::vector<sched::G*> gs;
  sched::for_each_g([](sched::G* g, void* v) { static_cast<std::vector<sched::G*>*>(v)->push_back(g); }, &gs);
  sched::G* self = sched::getg();
  for (sched::G* g : gs) {
    if (g == self) continue;
    sched::Suspended s = sched::suspend_g(g);
    if (!s.dead) {
      uintptr_t lo = 0, hi = 0;
      sched::g_stack_scan_range(s, &lo, &hi);
      scan_range(lo, hi);
#if defined(RT_ASAN)
      scan_fake_frames(this, g->asan_fake_stack, lo, hi);
#endif
    }
    sched::resume_g(s);
  }
}

namespace {

// Called from mark_own_stack with the registers spilled in the caller's
// frame: everything from this frame up to the stack's top is live.
[[gnu::noinline]] void scan_from_here(Marker* m, uintptr_t hi) {
  uintptr_t lo = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  m->scan_range(lo, hi);
#if defined(RT_ASAN)
  scan_fake_frames(m, __asan_get_current_fake_stack(), lo, hi);
#endif
}

}  // namespace

[[gnu::noinline]] void Marker::mark_own_stack() {
  sched::G* self = sched::getg();
  if (!self) return;  // a plain thread's stack is not a root
  __builtin_unwind_init();
  jmp_buf regs;
  setjmp(regs);  // callee-saved registers into this frame
  scan_from_here(this, self->stack.hi);
  asm volatile("" : : "r"(&regs) : "memory");
}

}  // namespace rt::collector
