// mspan slot allocation and reclaim. See mspan.h.
#include "alloc/mspan.h"

namespace rt::alloc {

void MSpan::refill_alloc_cache(size_t index) {
  size_t w = index / 64;
  uint64_t bits = w < nwords ? alloc_bits[w].load(std::memory_order_relaxed) : ~uint64_t{0};
  alloc_cache = (~bits >> (index % 64));
}

size_t MSpan::next_free_index() {
  size_t fi = freeindex.load(std::memory_order_relaxed);
  if (fi >= nelems) return nelems;
  uint64_t cache = alloc_cache;
  size_t bit = cache ? std::countr_zero(cache) : 64;
  while (bit == 64) {
    // Move to the start of the next word and load its free bits.
    fi = (fi + 64) & ~size_t{63};
    if (fi >= nelems) {
      freeindex.store(nelems, std::memory_order_relaxed);
      return nelems;
    }
    cache = ~alloc_bits[fi / 64].load(std::memory_order_relaxed);
    bit = cache ? std::countr_zero(cache) : 64;
  }
  size_t result = fi + bit;
  if (result >= nelems) {
    freeindex.store(nelems, std::memory_order_relaxed);
    return nelems;
  }
  alloc_cache = (cache >> bit) >> 1;
  size_t next = result + 1;
  if (next % 64 == 0 && next != nelems) refill_alloc_cache(next);
  freeindex.store(static_cast<uint16_t>(next), std::memory_order_relaxed);
  alloc_count.store(static_cast<uint16_t>(alloc_count.load(std::memory_order_relaxed) + 1),
                    std::memory_order_relaxed);
  return result;
}

size_t MSpan::reclaim() {
  size_t fi = freeindex.load(std::memory_order_relaxed);
  size_t freed = 0, live = 0;
  for (size_t w = 0; w < nwords; w++) {
    uint64_t bits = alloc_bits[w].load(std::memory_order_relaxed);
    // Slots below freeindex were handed out even if their bit is clear.
    size_t lo = w * 64;
    if (fi >= lo + 64) {
      bits = ~uint64_t{0};
    } else if (fi > lo) {
      bits |= (uint64_t{1} << (fi - lo)) - 1;
    }
    uint64_t gone = local_free[w].load(std::memory_order_relaxed) |
                    remote_free[w].exchange(0, std::memory_order_acq_rel);
    local_free[w].store(0, std::memory_order_relaxed);
    gone &= bits;
    bits &= ~gone;
    // Bits past nelems stay clear.
    if (lo + 64 > nelems) bits &= (nelems > lo) ? ((uint64_t{1} << (nelems - lo)) - 1) : 0;
    alloc_bits[w].store(bits, std::memory_order_relaxed);
    freed += std::popcount(gone);
    live += std::popcount(bits);
  }
  local_pending = false;
  // Re-check remote frees that raced with the loop: their bits stay in
  // remote_free for the next reclaim, so flag them again. seq_cst here and
  // on the remote path (fetch_or, then exchange of the flag) means: if a
  // remote free's flag store precedes our clear, its bit is visible below.
  remote_pending.store(false, std::memory_order_seq_cst);
  for (size_t w = 0; w < nwords; w++) {
    if (remote_free[w].load(std::memory_order_seq_cst) != 0) {
      remote_pending.store(true, std::memory_order_relaxed);
      break;
    }
  }
  alloc_count.store(static_cast<uint16_t>(live), std::memory_order_relaxed);
  count_at_cache = static_cast<uint16_t>(live);
  if (freed) needzero = true;
  // release: pairs with is_allocated()'s acquire load of freeindex.
  freeindex.store(0, std::memory_order_release);
  refill_alloc_cache(0);
  return freed;
}

}  // namespace rt::alloc
