// Finalizers. See finalizer.h and <rt/finalizer.h>.
#include "gc/finalizer.h"

#include <unordered_map>
#include <vector>

#include "gc/heapobj.h"
#include "gc/mark.h"
#include "gc/phase.h"
#include "rt/finalizer.h"
#include "runtime/fatal.h"
#include "runtime/lock.h"
#include "sched/proc.h"
#include "sched/sema.h"

namespace rt::collector {

namespace {

struct Finalizer {
  void (*run)(void* obj, void* ctx);
  void* ctx;
  size_t ctx_size;
  void (*destroy_ctx)(void* ctx);
};

struct Due {
  void* obj;
  Finalizer f;
};

rt::detail::Lock g_fin_lock;
std::unordered_map<uintptr_t, Finalizer>* g_table = nullptr;  // by object address; g_fin_lock
std::vector<Due>* g_queue = nullptr;                          // g_fin_lock
// The finalizer running now: still a root (its captures live off-heap).
Due g_current{};                                              // g_fin_lock
bool g_has_current = false;                                   // g_fin_lock
bool g_goroutine_started = false;                             // g_fin_lock
std::atomic<uint32_t> g_fin_wake{0};
std::atomic<uint64_t> g_run{0};

void init_locked() {
  if (!g_table) {
    g_table = new std::unordered_map<uintptr_t, Finalizer>();
    g_queue = new std::vector<Due>();
  }
}

// The object starts where make returned it: 16 bytes into a scan slot, at
// the slot itself for noscan ones. Inside a 16-byte noscan slot any byte
// may start one (a tiny block holds several objects; as Go allows for
// tiny allocations, the finalizer then waits for the whole block).
bool object_start(void* p, Managed* m) {
  auto a = reinterpret_cast<uintptr_t>(p);
  if (!find_managed(a, m)) return false;
  if (!m->scan && m->slot_bytes == kTinyBytes) return true;
  return a == (m->scan ? m->slot + kHeaderSize : m->slot);
}

void finalizer_goroutine() {
  rt::sched::G* self = rt::sched::getg();
  for (;;) {
    // Waiting, its stack holds nothing anyone needs (stale words of the
    // last finalizer would keep that object alive): not scanned.
    self->gc_skip_scan.store(true, std::memory_order_relaxed);
    rt::sched::semacquire(&g_fin_wake);
    self->gc_skip_scan.store(false, std::memory_order_relaxed);
    for (;;) {
      Due d;
      {
        rt::detail::LockGuard g(g_fin_lock);
        if (g_queue->empty()) break;
        d = g_queue->back();
        g_queue->pop_back();
        g_current = d;  // a root until it has run
        g_has_current = true;
      }
      d.f.run(d.obj, d.f.ctx);
      {
        rt::detail::LockGuard g(g_fin_lock);
        g_has_current = false;
      }
      d.f.destroy_ctx(d.f.ctx);
      g_run.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

void shade_payload(void* obj, GcWork* gw) {
  Managed m;
  if (!find_managed(reinterpret_cast<uintptr_t>(obj), &m) || !m.scan) return;
  const rt::detail::TypeInfo* ti;
  uintptr_t lo, hi;
  scan_object_bounds(m, &ti, &lo, &hi);
  for_each_pointer_word(ti, lo, lo, hi, [gw](uintptr_t w) { shade(w, gw); });
}

void shade_captures(const Finalizer& f, GcWork* gw) {
  auto lo = reinterpret_cast<uintptr_t>(f.ctx);
  scan_range(lo, lo + f.ctx_size, gw);
}

}  // namespace

void mark_finalizer_roots(GcWork* gw) {
  rt::detail::LockGuard g(g_fin_lock);
  if (!g_table) return;
  for (auto& [obj, f] : *g_table) {
    shade_payload(reinterpret_cast<void*>(obj), gw);
    shade_captures(f, gw);
  }
  for (const Due& d : *g_queue) {
    shade(reinterpret_cast<uintptr_t>(d.obj), gw);
    shade_captures(d.f, gw);
  }
  if (g_has_current) {
    shade(reinterpret_cast<uintptr_t>(g_current.obj), gw);
    shade_captures(g_current.f, gw);
  }
}

uint64_t queue_dead_finalizers(uint32_t e) {
  uint64_t queued = 0;
  {
    rt::detail::LockGuard g(g_fin_lock);
    if (!g_table) return 0;
    for (auto it = g_table->begin(); it != g_table->end();) {
      Managed m;
      if (find_managed(it->first, &m) && !bit_test(marks_of(m.span, e), m.idx)) {
        // Resurrect: its referents were marked through the table.
        marks_of(m.span, e)[m.idx / 64].fetch_or(uint64_t{1} << (m.idx % 64), std::memory_order_relaxed);
        g_queue->push_back(Due{reinterpret_cast<void*>(it->first), it->second});
        it = g_table->erase(it);
        queued++;
      } else {
        ++it;
      }
    }
    if (queued && !g_goroutine_started) {
      g_goroutine_started = true;
      rt::sched::newproc(finalizer_goroutine, /*system=*/true);
    }
  }
  if (queued) rt::sched::semrelease(&g_fin_wake);
  return queued;
}

uint64_t finalizers_run() { return g_run.load(std::memory_order_relaxed); }

}  // namespace rt::collector

namespace rt::detail {

void finalizer_set(void* obj, void (*run)(void*, void*), void* ctx, size_t ctx_size, void (*destroy_ctx)(void*)) {
  using namespace rt::collector;
  Managed m;
  if (!object_start(obj, &m)) {
    destroy_ctx(ctx);
    fatal("runtime.SetFinalizer: pointer not at beginning of allocated block");
  }
  Finalizer f{run, ctx, ctx_size, destroy_ctx};
  {
    LockGuard g(g_fin_lock);
    init_locked();
    if (!g_table->emplace(reinterpret_cast<uintptr_t>(obj), f).second) {
      destroy_ctx(ctx);
      fatal("runtime.SetFinalizer: finalizer already set");
    }
  }
  // While marking, the new entry's referents must be marked too: the
  // collector may have walked the table already. (Outside the table lock:
  // the shared work list's lock is taken before it elsewhere.)
  if (marking()) {
    struct Arg {
      void* obj;
      Finalizer* f;
    } a{obj, &f};
    auto both = [](GcWork* w, void* p) {
      auto* a = static_cast<Arg*>(p);
      shade_payload(a->obj, w);
      shade_captures(*a->f, w);
    };
    if (GcWork* gw = local_work()) {
      both(gw, &a);
    } else {
      with_shared_work(both, &a);
    }
  }
}

void finalizer_remove(void* obj) {
  using namespace rt::collector;
  Finalizer f{};
  {
    LockGuard g(g_fin_lock);
    if (!g_table) return;
    auto it = g_table->find(reinterpret_cast<uintptr_t>(obj));
    if (it == g_table->end()) return;
    f = it->second;
    g_table->erase(it);
  }
  f.destroy_ctx(f.ctx);
}

}  // namespace rt::detail
