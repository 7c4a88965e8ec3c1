// Marking. See mark.h.
#include "gc/mark.h"

#include <algorithm>
#include <vector>

#include "chan/hchan.h"
#include "gc/heapobj.h"
#include "gc/phase.h"
#include "gc/roots.h"
#include "sched/proc.h"
#include "sched/stw.h"

#if defined(RT_ASAN)
#include <sanitizer/asan_interface.h>
#endif

namespace rt::collector {

namespace {

// Stack words (ASan redzones between locals) come through here too.
__attribute__((no_sanitize("address"))) inline uintptr_t load_word(uintptr_t addr) {
  return __atomic_load_n(reinterpret_cast<const uintptr_t*>(addr), __ATOMIC_RELAXED);
}

// One work item: a scan object's slot, or an oblet (an address inside a
// large scan object past its first kObletBytes). Returns the bytes scanned.
size_t scan_item(uintptr_t item, GcWork* gw) {
  Managed m;
  if (!find_managed(item, &m) || !m.scan) return 0;  // discarded since it was queued
  const rt::detail::TypeInfo* ti;
  uintptr_t obj, end;
  scan_object_bounds(m, &ti, &obj, &end);
  uintptr_t lo = item == m.slot ? obj : item;
  if (item == m.slot && end - obj > kObletBytes) {
    for (uintptr_t o = obj + kObletBytes; o < end; o += kObletBytes) gw->push(o);
  }
  uintptr_t hi = std::min(end, lo + kObletBytes);
  for_each_pointer_word(ti, obj, lo, hi, [gw](uintptr_t w) { shade(w, gw); });
  return hi - lo;
}

}  // namespace

void shade(uintptr_t w, GcWork* gw) {
  Managed m;
  if (!find_managed(w, &m)) return;
  std::atomic<uint64_t>& word = marks_of(m.span)[m.idx / 64];
  uint64_t bit = uint64_t{1} << (m.idx % 64);
  if (word.load(std::memory_order_relaxed) & bit) return;
  if (word.fetch_or(bit, std::memory_order_relaxed) & bit) return;  // another marker won
  gw->marked_objects++;
  gw->marked_bytes += m.slot_bytes;
  if (m.scan) gw->push(m.slot);
}

// Stacks hold ASan redzones; the loads here are deliberate.
__attribute__((no_sanitize("address"))) void scan_range(uintptr_t lo, uintptr_t hi, GcWork* gw) {
  lo = (lo + 7) & ~uintptr_t{7};
  for (uintptr_t p = lo; p + 8 <= hi; p += 8) {
#if defined(RT_ASAN)
    // A word ASan poisoned (a redzone, a local out of its scope, a retired
    // fake frame) holds no live value, only what earlier frames left:
    // skipping it keeps those stale words from retaining garbage.
    if (__asan_address_is_poisoned(reinterpret_cast<void*>(p))) continue;
#endif
    shade(load_word(p), gw);
  }
}

// Grey objects are scanned kPrefetchAhead pops after they are popped:
// each popped item is prefetched and waits in a small ring while the ones
// before it are scanned, so the cache miss on a grey object's header and
// first words (most of marking's time: the objects are scattered over the
// heap) overlaps the scans before it. Budget left over puts the waiting
// items back on the GcWork: none is lost.
constexpr size_t kPrefetchAhead = 8;

size_t drain(GcWork* gw, size_t budget_bytes) {
  size_t done = 0;
  uintptr_t ring[kPrefetchAhead];
  size_t head = 0, n = 0;
  uintptr_t item;
  // An empty item still costs a lookup: count it as a word.
  while (done < budget_bytes) {
    if (gw->pop(&item)) {
      __builtin_prefetch(reinterpret_cast<const void*>(item));
      if (n < kPrefetchAhead) {
        ring[(head + n++) % kPrefetchAhead] = item;
        continue;
      }
      uintptr_t oldest = ring[head];
      ring[head] = item;
      head = (head + 1) % kPrefetchAhead;
      done += std::max<size_t>(scan_item(oldest, gw), 8);
    } else if (n > 0) {
      uintptr_t oldest = ring[head];
      head = (head + 1) % kPrefetchAhead;
      n--;
      done += std::max<size_t>(scan_item(oldest, gw), 8);
    } else {
      break;
    }
  }
  for (; n > 0; n--, head = (head + 1) % kPrefetchAhead) gw->push(ring[head]);
  g_mark_counters.scanned_bytes.fetch_add(done, std::memory_order_relaxed);
  gw->flush_counters();
  return done;
}

namespace {

// A safe point inside marking work: time spent switched out there is not
// mark work (gcaccount's MarkCpuSpan leaves G::gc_yielded_ns out).
void marking_safe_point() {
  sched::G* g = sched::getg();
  if (!g || !g->preempt.load(std::memory_order_relaxed)) return;
  int64_t t0 = sched::nanotime();
  sched::preempt_check();
  g->gc_yielded_ns += sched::nanotime() - t0;
}

}  // namespace

size_t drain_preemptible(size_t budget_bytes) {
  size_t done = 0;
  while (done < budget_bytes) {
    GcWork* gw = local_work();
    size_t d = drain(gw, std::min<size_t>(budget_bytes - done, 64 << 10));
    if (d == 0) break;
    done += d;
    marking_safe_point();  // may move to another P: local_work() again
  }
  return done;
}

void mark_roots(GcWork* gw) {
  for_each_root([](void* p, void* w) { shade(reinterpret_cast<uintptr_t>(p), static_cast<GcWork*>(w)); }, gw);
  g_mark_counters.globals_scanned_bytes.fetch_add(root_count() * sizeof(void*), std::memory_order_relaxed);
}

void mark_chan_buffers() {
  rt::detail::chan_scan_buffers([](const void* p, size_t n, void*) {
    g_mark_counters.globals_scanned_bytes.fetch_add(n, std::memory_order_relaxed);
    uintptr_t lo = reinterpret_cast<uintptr_t>(p);
    if (GcWork* gw = local_work()) {
      scan_range(lo, lo + n, gw);
    } else {
      struct Range {
        uintptr_t lo, hi;
      } r{lo, lo + n};
      with_shared_work([](GcWork* w, void* a) {
        auto* r = static_cast<Range*>(a);
        scan_range(r->lo, r->hi, w);
      }, &r);
    }
  }, nullptr);
}

namespace {

struct RangeSink {
  RangeFn fn;
  void* ctx;
  void operator()(uintptr_t lo, uintptr_t hi) const { fn(lo, hi, ctx); }
};

#if defined(RT_ASAN)
// Words that point into ASan's fake frames (detect_stack_use_after_return)
// stand for locals that live there: those frames are ranges too.
void fake_frame_ranges(const RangeSink& sink, void* fake_stack, uintptr_t lo, uintptr_t hi)
    __attribute__((no_sanitize("address")));
void fake_frame_ranges(const RangeSink& sink, void* fake_stack, uintptr_t lo, uintptr_t hi) {
  if (!fake_stack) return;
  for (uintptr_t p = (lo + 7) & ~uintptr_t{7}; p + 8 <= hi; p += 8) {
    void* beg = nullptr;
    void* end = nullptr;
    void* w = *reinterpret_cast<void* const*>(p);
    if (__asan_addr_is_in_fake_stack(fake_stack, w, &beg, &end))
      sink(reinterpret_cast<uintptr_t>(beg), reinterpret_cast<uintptr_t>(end));
  }
}
#endif

// The task (captures of the goroutine's callable, which runs in place) and
// the goroutine-local slots: memory the G owns outside its stack.
void extra_ranges(sched::G* g, const RangeSink& sink) {
  if (const void* c = g->task.captures_begin()) {
    auto lo = reinterpret_cast<uintptr_t>(c);
    sink(lo, lo + g->task.captures_size());
  }
  if (g->closure) {
    auto lo = reinterpret_cast<uintptr_t>(g->closure);
    sink(lo, lo + g->closure_size);
  }
  auto gls = reinterpret_cast<uintptr_t>(&g->gls[0]);
  sink(gls, gls + sizeof(g->gls));
}

void shade_range_fn(uintptr_t lo, uintptr_t hi, void* gw) {
  if (hi > lo) g_mark_counters.stack_scanned_bytes.fetch_add(hi - lo, std::memory_order_relaxed);
  scan_range(lo, hi, static_cast<GcWork*>(gw));
}

}  // namespace

bool goroutine_ranges(sched::G* g, RangeFn fn, void* ctx) {
  if (g->gc_skip_scan.load(std::memory_order_relaxed)) return false;
  RangeSink sink{fn, ctx};
  sched::Suspended s = sched::suspend_g(g);
  if (!s.dead) {
    uintptr_t lo = 0, hi = 0;
    sched::g_stack_scan_range(s, &lo, &hi);
    sink(lo, hi);
#if defined(RT_ASAN)
    fake_frame_ranges(sink, g->asan_fake_stack, lo, hi);
#endif
    extra_ranges(g, sink);
  }
  sched::resume_g(s);
  return !s.dead;
}

void scan_goroutines() {
  std::vector<sched::G*> gs;
  sched::for_each_g([](sched::G* g, void* v) { static_cast<std::vector<sched::G*>*>(v)->push_back(g); }, &gs);
  sched::G* self = sched::getg();
  for (sched::G* g : gs) {
    if (g == self) continue;
    // Each scan is short; between scans this goroutine may move to another
    // P, so its GcWork is fetched per scan (plain threads: the shared one).
    if (GcWork* gw = local_work()) {
      goroutine_ranges(g, shade_range_fn, gw);
      marking_safe_point();
    } else {
      with_shared_work([](GcWork* w, void* g) { goroutine_ranges(static_cast<sched::G*>(g), shade_range_fn, w); }, g);
    }
  }
}

void shade_new_goroutine(sched::G* g) {
  // seq_cst: either this load sees the phase set at sweep termination, or
  // that stop-the-world (which follows the store) came after the G was
  // published runnable, and the scan of all goroutines will see its task.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (!marking()) return;
  if (GcWork* gw = local_work()) {
    extra_ranges(g, RangeSink{shade_range_fn, gw});
  } else {
    with_shared_work([](GcWork* w, void* g) { extra_ranges(static_cast<sched::G*>(g), RangeSink{shade_range_fn, w}); },
                     g);
  }
}

namespace {
uintptr_t g_own_floor = 0;  // the collector semaphore's holder
}  // namespace

void set_own_stack_floor(uintptr_t lo) { g_own_floor = lo; }

void own_stack_ranges(RangeFn fn, void* ctx) {
  sched::G* self = sched::getg();
  if (!self || self->gc_skip_scan.load(std::memory_order_relaxed) || !g_own_floor) return;  // a plain thread's stack is not a root
  RangeSink sink{fn, ctx};
  sink(g_own_floor, self->stack.hi);
#if defined(RT_ASAN)
  fake_frame_ranges(sink, __asan_get_current_fake_stack(), g_own_floor, self->stack.hi);
#endif
  extra_ranges(self, sink);
}

void mark_own_stack(GcWork* gw) { own_stack_ranges(shade_range_fn, gw); }

}  // namespace rt::collector
