// Span sweeping. See sweep.h.
#include "alloc/sweep.h"

#include "alloc/mheap.h"

namespace rt::alloc {

bool sweep_span(MSpan* s, uint32_t sg) {
  uint32_t want = sg - 2;
  if (s->sweepgen.compare_exchange_strong(want, sg - 1, std::memory_order_acq_rel)) {
    s->reclaim();
    s->sweepgen.store(sg, std::memory_order_release);
  } else if (s->frees_pending()) {
    s->reclaim();
  }
  if (s->releasable()) {
    MHeap::get().free_span(s);
    return false;
  }
  return true;
}

}  // namespace rt::alloc
