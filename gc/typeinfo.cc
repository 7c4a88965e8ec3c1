// Pointer maps learnt from construction (Go's ptrmask, without Trace methods).
//
// make<T> pushes a ConstructionFrame {object, sizeof(T), bitmap} on the
// calling goroutine's construction stack (G::gc_construction; a
// thread-local for plain threads, which never migrate) and pops it when the
// constructor returns. Every Ref constructor calls ref_constructed(this):
// - inside a frame's object (searched from the innermost, so nested make
//   calls in constructors record into their own objects): set the bit of
//   the Ref's word offset;
// - inside an existing managed object: the object's type gains a Ref after
//   construction (std::optional::emplace, placement new), so its pointer
//   map cannot be trusted: demote the type to conservative scanning (sound:
//   that Ref's stores pass the barrier like any other);
// - on the calling goroutine's own stack: a local, fine (stacks are
//   scanned conservatively);
// - anywhere else: a fatal error naming rt::Root.
//
// At the end of a construction the frame's bitmap is merged into the type:
// the first finished construction installs it (CAS) and makes the type
// precise; a later one with a bit outside the installed map demotes the
// type. While no map is installed the type is scanned conservatively.
// States only move unknown -> precise -> conservative or unknown ->
// conservative.
#include <cstring>

#include "gc/barrier.h"
#include "gc/heapobj.h"
#include "rt/gc.h"
#include "runtime/fatal.h"
#include "sched/gmp.h"

#if defined(RT_ASAN)
#include <sanitizer/asan_interface.h>
#endif

namespace rt::detail {

namespace {

thread_local ConstructionFrame* t_plain_frames = nullptr;

ConstructionFrame** frames_head() {
  if (rt::sched::G* g = rt::sched::getg()) return reinterpret_cast<ConstructionFrame**>(&g->gc_construction);
  return &t_plain_frames;
}

size_t mask_words(size_t size) {
  size_t words = (size + 7) / 8;
  return (words + 63) / 64;
}

void demote(TypeInfo* ti) { ti->state.store(TypeInfo::kConservative, std::memory_order_release); }

bool on_own_stack(uintptr_t a) {
  rt::sched::G* g = rt::sched::getg();
  if (!g) return false;
  if (a >= g->stack.lo && a < g->stack.hi) return true;
#if defined(RT_ASAN)
  // With detect_stack_use_after_return, locals live in ASan's fake frames.
  void* beg = nullptr;
  void* end = nullptr;
  if (__asan_addr_is_in_fake_stack(__asan_get_current_fake_stack(), reinterpret_cast<void*>(a), &beg,
                                   &end))
    return true;
#endif
  return false;
}

[[noreturn, gnu::cold, gnu::noinline]] void misplaced_ref(uintptr_t a, const char* what) {
  FixedText t;
  t << "rt::Ref constructed at " << reinterpret_cast<void*>(a) << ", " << what
    << ": the collector cannot see it; hold pointers from outside GC'd objects in rt::Root";
  fatal(t);
}

}  // namespace

void construction_begin(ConstructionFrame* f, void* obj, TypeInfo* ti) {
  f->base = reinterpret_cast<uintptr_t>(obj);
  f->size = ti->size;
  f->type = ti;
  size_t nw = mask_words(ti->size);
  f->bits = nw <= 4 ? f->inline_bits : new uint64_t[nw]();
  ConstructionFrame** head = frames_head();
  f->prev = *head;
  *head = f;
}

static void pop_frame(ConstructionFrame* f) {
  ConstructionFrame** head = frames_head();
  if (*head != f) fatal("rt::make: construction frames out of order");
  *head = f->prev;
}

void construction_end(ConstructionFrame* f) {
  pop_frame(f);
  TypeInfo* ti = f->type;
  size_t nw = mask_words(f->size);
  if (ti->state.load(std::memory_order_acquire) != TypeInfo::kConservative) {
    const uint64_t* mask = ti->ptrmask.load(std::memory_order_acquire);
    if (!mask) {
      auto* mine = new uint64_t[nw];
      memcpy(mine, f->bits, nw * sizeof(uint64_t));
      const uint64_t* expected = nullptr;
      if (ti->ptrmask.compare_exchange_strong(expected, mine, std::memory_order_acq_rel)) {
        uint8_t unknown = TypeInfo::kUnknown;
        ti->state.compare_exchange_strong(unknown, TypeInfo::kPrecise, std::memory_order_acq_rel);
      } else {
        delete[] mine;
        mask = expected;
      }
    }
    if (mask) {
      for (size_t i = 0; i < nw; i++) {
        if (f->bits[i] & ~mask[i]) {
          demote(ti);
          break;
        }
      }
    }
  }
  if (f->bits != f->inline_bits) delete[] f->bits;
}

void construction_abort(ConstructionFrame* f) {
  pop_frame(f);
  if (f->bits != f->inline_bits) delete[] f->bits;
}

void ref_constructed(void* ref_addr) {
  uintptr_t a = reinterpret_cast<uintptr_t>(ref_addr);
  for (ConstructionFrame* f = *frames_head(); f; f = f->prev) {
    if (a - f->base < f->size) {
      size_t word = (a - f->base) / 8;
      f->bits[word / 64] |= uint64_t{1} << (word % 64);
      f->saw_ref = true;
      return;
    }
  }
  rt::collector::Managed m;
  if (rt::collector::find_managed(a, &m)) {
    if (!m.scan) misplaced_ref(a, "inside a pointer-free (trivially copyable) GC'd object");
    auto* h = reinterpret_cast<rt::collector::ObjectHeader*>(m.slot);
    if (a < m.slot + rt::collector::kHeaderSize) misplaced_ref(a, "inside a GC'd object's header");
    demote(const_cast<TypeInfo*>(h->type));
    return;
  }
  if (on_own_stack(a) || t_scanned_runtime_buffer != 0) return;
  alloc::ObjectRef o;
  if (alloc::find_object(a, &o)) misplaced_ref(a, "in heap memory not made by rt::make");
  misplaced_ref(a, "outside the GC heap and outside the goroutine's stack");
}

}  // namespace rt::detail
