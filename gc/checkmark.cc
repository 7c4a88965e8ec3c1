// Mark verification. See checkmark.h.
#include "gc/checkmark.h"

#include <unordered_set>
#include <vector>

#include "chan/hchan.h"
#include "gc/heapobj.h"
#include "gc/mark.h"
#include "gc/phase.h"
#include "gc/roots.h"
#include "runtime/fatal.h"
#include "sched/proc.h"

namespace rt::collector {

namespace {

struct Checker {
  uint32_t e;
  std::unordered_set<uintptr_t> seen;
  std::vector<uintptr_t> grey;

  // A precise reference (a Root, or a pointer word of a reached object):
  // its target must be marked.
  void visit(uintptr_t w) {
    Managed m;
    if (!find_managed(w, &m)) return;
    if (!seen.insert(m.slot).second) return;
    if (!bit_test(marks_of(m.span, e), m.idx)) report(m);
    if (m.scan) grey.push_back(m.slot);
  }

  // A stack word: stacks are scanned conservatively, and a word the
  // concurrent scan never saw (a stale slot in a frame pushed after the
  // goroutine's scan) may point at garbage. Only marked targets seed the
  // walk; from them every heap edge must lead to marked objects.
  void visit_stack_word(uintptr_t w) {
    Managed m;
    if (!find_managed(w, &m)) return;
    if (!bit_test(marks_of(m.span, e), m.idx)) return;
    if (!seen.insert(m.slot).second) return;
    if (m.scan) grey.push_back(m.slot);
  }

  [[noreturn]] void report(const Managed& m) {
    rt::detail::FixedText t;
    t << "gccheckmark: reachable object at " << reinterpret_cast<const void*>(m.slot) << " (slot of " << uint64_t{m.slot_bytes} << " bytes";
    if (m.scan) {
      const auto* h = reinterpret_cast<const ObjectHeader*>(m.slot);
      t << ", " << uint64_t{h->count} << " element(s) of " << uint64_t{h->type->size} << " bytes";
    } else {
      t << ", noscan";
    }
    t << ") was not marked";
    rt::detail::fatal(t);
  }

  __attribute__((no_sanitize("address"))) void range(uintptr_t lo, uintptr_t hi) {
    for (uintptr_t p = (lo + 7) & ~uintptr_t{7}; p + 8 <= hi; p += 8)
      visit_stack_word(*reinterpret_cast<const uintptr_t*>(p));
  }

  void drain() {
    while (!grey.empty()) {
      uintptr_t slot = grey.back();
      grey.pop_back();
      Managed m;
      if (!find_managed(slot, &m)) continue;
      const rt::detail::TypeInfo* ti;
      uintptr_t obj, end;
      scan_object_bounds(m, &ti, &obj, &end);
      for_each_pointer_word(ti, obj, obj, end, [this](uintptr_t w) { visit(w); });
    }
  }
};

void range_fn(uintptr_t lo, uintptr_t hi, void* c) { static_cast<Checker*>(c)->range(lo, hi); }

}  // namespace

void verify_marks(uint32_t e) {
  Checker c{e, {}, {}};
  for_each_root([](void* p, void* c) { static_cast<Checker*>(c)->visit(reinterpret_cast<uintptr_t>(p)); }, &c);
  own_stack_ranges(range_fn, &c);
  // Channel rings, conservatively like stacks (the world is stopped: no
  // channel lock is held by anyone, see chan/chanscan.cc).
  rt::detail::chan_scan_buffers([](const void* p, size_t n, void* c) {
    auto lo = reinterpret_cast<uintptr_t>(p);
    static_cast<Checker*>(c)->range(lo, lo + n);
  }, &c);
  std::vector<sched::G*> gs;
  sched::for_each_g([](sched::G* g, void* v) { static_cast<std::vector<sched::G*>*>(v)->push_back(g); }, &gs);
  sched::G* self = sched::getg();
  for (sched::G* g : gs) {
    if (g != self) goroutine_ranges(g, range_fn, &c);
  }
  c.drain();
}

}  // namespace rt::collector
