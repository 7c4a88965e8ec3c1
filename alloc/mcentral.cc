// mcentral: see mcentral.h.
#include "alloc/mcentral.h"

#include "alloc/mcache.h"
#include "alloc/mheap.h"
#include "alloc/sweep.h"
#include "runtime/fatal.h"

namespace rt::alloc {

void SpanQueue::push(MSpan* s) {
  s->next = nullptr;
  s->prev = tail_;
  if (tail_) {
    tail_->next = s;
  } else {
    head_ = s;
  }
  tail_ = s;
}

MSpan* SpanQueue::pop() {
  MSpan* s = head_;
  if (s) remove(s);
  return s;
}

void SpanQueue::remove(MSpan* s) {
  if (s->prev) {
    s->prev->next = s->next;
  } else {
    head_ = s->next;
  }
  if (s->next) {
    s->next->prev = s->prev;
  } else {
    tail_ = s->prev;
  }
  s->next = s->prev = nullptr;
  s->list = SpanList::kNone;
}

size_t MCentral::sweep_index(bool swept) const {
  uint32_t sg = MHeap::get().sweepgen();
  return swept ? (sg / 2) % 2 : 1 - (sg / 2) % 2;
}

void MCentral::push_locked(MSpan* s) {
  size_t i = sweep_index(true);
  if (s->alloc_count.load(std::memory_order_relaxed) < s->nelems || s->frees_pending()) {
    partial_[i].push(s);
    s->list = SpanList::kPartial;
  } else {
    full_[i].push(s);
    s->list = SpanList::kFull;
  }
}

MSpan* MCentral::take_usable_locked(uint32_t sg) {
  auto usable = [](MSpan* s) {
    return s->alloc_count.load(std::memory_order_relaxed) < s->nelems;
  };
  // Swept partial spans. A span may sit here only because frees were
  // pending; after the reclaim it can turn out full after all.
  while (MSpan* s = partial_[sweep_index(true)].pop()) {
    if (s->frees_pending()) s->reclaim();
    if (usable(s)) return s;
    push_locked(s);
  }
  // Unswept partial spans: sweep, then use.
  while (MSpan* s = partial_[sweep_index(false)].pop()) {
    if (!sweep_span(s, sg)) continue;  // it was empty and went to the heap
    if (usable(s)) return s;
    push_locked(s);
  }
  // Unswept full spans: sweep a bounded number; keep one that freed a slot.
  for (int budget = kSpanBudget; budget > 0; budget--) {
    MSpan* f = full_[sweep_index(false)].pop();
    if (!f) break;
    if (!sweep_span(f, sg)) continue;
    if (usable(f)) return f;
    push_locked(f);
  }
  // Swept full spans that other threads freed into since.
  int budget = kSpanBudget;
  SpanQueue& full = full_[sweep_index(true)];
  for (MSpan* f = full.head(); f && budget > 0; budget--) {
    MSpan* nxt = f->next;
    if (f->frees_pending()) {
      full.remove(f);
      f->reclaim();
      if (usable(f)) return f;
      push_locked(f);
    }
    f = nxt;
  }
  return nullptr;
}

MSpan* MCentral::cache_span(Cache* cache) {
  MHeap& heap = MHeap::get();
  MSpan* s = nullptr;
  {
    rt::detail::LockGuard g(lock_);
    uint32_t sg = heap.sweepgen();
    s = take_usable_locked(sg);
    if (s) {
      s->owner.store(cache, std::memory_order_relaxed);
      s->sweepgen.store(sg + 3, std::memory_order_relaxed);
    }
  }
  if (!s) {
    s = heap.alloc_span(kSizeClasses[span_class_size_class(spanclass_)].npages, spanclass_, cache);
    if (!s) return nullptr;
    s->owner.store(cache, std::memory_order_relaxed);
    s->sweepgen.store(heap.sweepgen() + 3, std::memory_order_relaxed);
  }
  s->count_at_cache = s->alloc_count.load(std::memory_order_relaxed);
  RT_ASSERT(s->alloc_count.load(std::memory_order_relaxed) < s->nelems);
  return s;
}

void MCentral::uncache_span(MSpan* s) {
  MHeap& heap = MHeap::get();
  s->owner.store(nullptr, std::memory_order_relaxed);
  if (s->frees_pending()) s->reclaim();
  if (s->releasable()) {
    heap.free_span(s);
    return;
  }
  rt::detail::LockGuard g(lock_);
  s->sweepgen.store(heap.sweepgen(), std::memory_order_relaxed);
  push_locked(s);
}

void MCentral::note_remote_free(MSpan* s) {
  rt::detail::LockGuard g(lock_);
  // Only a span that is full *and* still has the pending free moves: the
  // owner may have reclaimed and refilled it while we waited for the lock.
  if (s->list == SpanList::kFull && s->frees_pending()) {
    size_t i = list_index_locked(s);
    full_[i].remove(s);
    partial_[i].push(s);
    s->list = SpanList::kPartial;
  }
}

size_t MCentral::free_empty_spans() {
  MHeap& heap = MHeap::get();
  size_t freed = 0;
  rt::detail::LockGuard g(lock_);
  for (SpanQueue* q : {&partial_[0], &partial_[1], &full_[0], &full_[1]}) {
    for (MSpan* s = q->head(); s;) {
      MSpan* nxt = s->next;
      if (s->frees_pending()) s->reclaim();
      if (s->releasable()) {
        q->remove(s);
        heap.free_span(s);
        freed++;
      } else if (q == &full_[0] || q == &full_[1]) {
        if (s->alloc_count.load(std::memory_order_relaxed) < s->nelems) {
          // Reclaimed room: it belongs on a partial list now.
          bool swept = q == &full_[sweep_index(true)];
          q->remove(s);
          partial_[swept ? sweep_index(true) : sweep_index(false)].push(s);
          s->list = SpanList::kPartial;
        }
      }
      s = nxt;
    }
  }
  return freed;
}

size_t MCentral::list_index_locked(const MSpan* s) const {
  uint32_t sg = MHeap::get().sweepgen();
  uint32_t span_sg = s->sweepgen.load(std::memory_order_relaxed);
  RT_ASSERT(span_sg == sg || span_sg == sg - 2);
  return sweep_index(span_sg == sg);
}

bool MCentral::release_if_empty(MSpan* s) {
  {
    rt::detail::LockGuard g(lock_);
    // Off the lists: a cache owns it (its owner releases it on uncache), or
    // it already went to free_span and waits for the span walk to end. A
    // listed span has no owner: caches take spans off the lists first.
    if (s->list == SpanList::kNone) return false;
    if (s->frees_pending()) s->reclaim();
    if (!s->releasable()) return false;
    (s->list == SpanList::kPartial ? partial_ : full_)[list_index_locked(s)].remove(s);
  }
  MHeap::get().free_span(s);
  return true;
}

size_t MCentral::npartial() const {
  rt::detail::LockGuard g(lock_);
  size_t n = 0;
  for (const SpanQueue& q : partial_)
    for (MSpan* s = q.head(); s; s = s->next) n++;
  return n;
}

}  // namespace rt::alloc
