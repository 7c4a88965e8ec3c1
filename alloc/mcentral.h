// mcentral: the spans of one span class that no mcache holds.
//
// As in Go's mcentral.go, spans sit on partial (has free slots) or full
// lists, each split in two by sweep generation: index sweepgen/2 % 2 holds
// the spans already swept this cycle, the other one those still to sweep.
// The collector only has to advance the heap's sweepgen by 2 to turn every
// "swept" list into an "unswept" one.
//
// cache_span() hands a span with free slots to an mcache: first a swept
// partial span, then an unswept partial span (swept now), then up to
// kSpanBudget unswept full spans (swept now; kept if sweeping freed a slot),
// then full spans with pending explicit frees, then a fresh span from the
// mheap. uncache_span() takes a span back. A doubly linked list per
// (partial|full) x (swept|unswept) under one lock gives O(1) pushes, pops and
// moves, the same complexity as Go's lock-free span sets.
#pragma once

#include "alloc/mspan.h"
#include "runtime/lock.h"

namespace rt::alloc {

class Cache;

// Intrusive doubly linked list of spans. The owner's lock guards it.
class SpanQueue {
 public:
  bool empty() const { return head_ == nullptr; }
  void push(MSpan* s);
  MSpan* pop();
  void remove(MSpan* s);
  MSpan* head() const { return head_; }

 private:
  MSpan* head_ = nullptr;
  MSpan* tail_ = nullptr;
};

class MCentral {
 public:
  static constexpr int kSpanBudget = 100;

  void init(SpanClass sc) { spanclass_ = sc; }
  // Returns a span with at least one free slot, owned by `cache`, or nullptr
  // if the heap is out of memory.
  MSpan* cache_span(Cache* cache);
  // Takes back a span from `cache`'s owner thread. Frees it to the heap if
  // it holds no object.
  void uncache_span(MSpan* s);
  // A thread other than the owner freed a slot in `s`: make sure a full
  // span becomes visible as partial.
  void note_remote_free(MSpan* s);

  // Returns every span holding no object to the heap (after folding in
  // pending frees). Returns how many went.
  size_t free_empty_spans();
  // The collector's sweep emptied `s` (a span of this class): returns it to
  // the heap now if no cache owns it and no slot is taken after folding in
  // pending frees (Go's sweeper frees a span it empties). True if it went.
  bool release_if_empty(MSpan* s);

  size_t npartial() const;  // for tests and stats

 private:
  size_t sweep_index(bool swept) const;
  // The index of the list pair (swept / unswept) a listed span is on: its
  // sweepgen is the heap's on the swept lists, two behind on the others.
  size_t list_index_locked(const MSpan* s) const;
  MSpan* take_usable_locked(uint32_t sg);
  void push_locked(MSpan* s);  // onto the swept list that fits its count

  SpanClass spanclass_ = 0;
  mutable rt::detail::Lock lock_;
  SpanQueue partial_[2];  // guarded by lock_
  SpanQueue full_[2];     // guarded by lock_
};

}  // namespace rt::alloc
