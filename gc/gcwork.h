// Grey objects waiting to be scanned: per-P work buffers and a global list
// (Go's gcWork / workbuf, mgcwork.go).
//
// A WorkBuf holds up to kWorkBufCap work items (the address of a grey
// object's slot, or of an oblet inside a large object). Each P owns one
// GcWork (P::gc_state) with a current buffer; only the goroutine running on
// that P touches it (the barrier, assists and mark workers run in librt
// code with no safe point inside a push or pop, so the P cannot change
// hands mid-operation). A full buffer goes to the global list; an empty
// GcWork takes one from it. Plain threads (and goroutines in a syscall
// scope, which run without their P's protection) share one GcWork under
// a lock.
//
// The global list is a lock-protected stack of full or partial buffers;
// g_global_bufs counts them for a lock-free "is there work?" check.
// With the world stopped every GcWork can be inspected and flushed
// (flush_all_locked_world), which mark termination uses to find work that
// barriers left on idle Ps.
//
// Buffers come from the runtime's metadata allocator and are recycled on a
// free list; they are never freed (a few KiB per P at steady state).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace rt::sched {
struct P;
}

namespace rt::collector {

inline constexpr size_t kWorkBufCap = 254;

struct WorkBuf {
  WorkBuf* next = nullptr;
  size_t n = 0;
  uintptr_t items[kWorkBufCap];
};

class GcWork {
 public:
  void push(uintptr_t item) {
    if (__builtin_expect(!cur_ || cur_->n == kWorkBufCap, 0)) refill_for_push();
    cur_->items[cur_->n++] = item;
  }
  // Returns false when neither this GcWork nor the global list has work.
  bool pop(uintptr_t* item) {
    if (__builtin_expect(!cur_ || cur_->n == 0, 0)) {
      if (!refill_for_pop()) return false;
    }
    *item = cur_->items[--cur_->n];
    return true;
  }
  bool empty() const { return !cur_ || cur_->n == 0; }
  // Hands a non-empty current buffer to the global list.
  void flush();

  // What shade() marked through this GcWork and has not yet added to
  // g_mark_counters (mark.h): per-P sums, so that marking an object costs
  // no read-modify-write on a line every marker shares. Added by drain()
  // as it returns and by flush_all_stopped_world(), which mark
  // termination runs before it reads the totals. Owner only, like the
  // buffers (or the world stopped).
  uint64_t marked_objects = 0;
  uint64_t marked_bytes = 0;
  void flush_counters();

 private:
  void refill_for_push();
  bool refill_for_pop();
  WorkBuf* cur_ = nullptr;
};

// The calling goroutine's P's GcWork; on plain threads (and in syscall
// scopes) nullptr: use with_shared_work.
GcWork* local_work();
// Runs f(GcWork*) on the shared GcWork under its lock.
void with_shared_work(void (*f)(GcWork*, void*), void* arg);

// Whether the global list holds any buffer (lock-free hint).
bool global_work_available();
// Moves p's items to the global list: by p's owner, or with p idle and
// Sched::lock held (the ragged barrier, sched/safepoint.h).
void flush_p_work(sched::P* p);
// With the world stopped: moves every P's and the shared GcWork's items to
// the global list, and their mark counts to g_mark_counters. Returns
// whether any items were found.
bool flush_all_stopped_world();
// Makes sure at least n empty buffers wait on the free list, so a pause
// that scans (mark termination) need not allocate.
void reserve_buffers(size_t n);

}  // namespace rt::collector
