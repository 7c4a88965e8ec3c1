// Channel send, receive and close. See hchan.h for the design.
#include <algorithm>
#include <cstring>
#include <new>

#include "chan/hchan.h"
#include "runtime/fatal.h"
#include "runtime/meta_alloc.h"
#include "sched/proc.h"

namespace rt::detail {

using rt::sched::G;
using rt::sched::WaitReason;

// --- wait queues ---------------------------------------------------------------

void WaitQ::enqueue(Sudog* s) {
  s->next = nullptr;
  s->prev = last;
  if (last) {
    last->next = s;
  } else {
    first = s;
  }
  last = s;
  s->queued = true;
}

void WaitQ::remove(Sudog* s) {
  if (s->prev) {
    s->prev->next = s->next;
  } else {
    first = s->next;
  }
  if (s->next) {
    s->next->prev = s->prev;
  } else {
    last = s->prev;
  }
  s->next = s->prev = nullptr;
  s->queued = false;
}

Sudog* WaitQ::dequeue() {
  for (;;) {
    Sudog* s = first;
    if (!s) return nullptr;
    remove(s);
    // A select waiter is ours only if its select is not already won.
    if (s->sel) {
      uint32_t zero = 0;
      if (!s->sel->done.compare_exchange_strong(zero, 1, std::memory_order_acq_rel)) continue;
      s->sel->winner = s;
    }
    return s;
  }
}

void ready_sudog(Sudog* s) {
  if (s->g) {
    rt::sched::goready(s->g);
  } else if (s->sel) {
    rt::sched::notewakeup(&s->sel->note);
  } else {
    rt::sched::notewakeup(&s->note);
  }
}

namespace {

// Runs on the scheduler's stack after the goroutine parked: the lock
// only. The gate is per thread and was left on the goroutine (leaving it
// here, on g0, would count down a gate this thread never entered).
bool unlock_chan(G*, void* arg) {
  static_cast<ChanCore*>(arg)->lock.unlock();
  return true;
}

// Parks the caller (lock held) until a partner or close wakes it.
void park(ChanCore* c, Sudog* s, WaitReason reason) {
  if (s->g) {
    rt::detail::plain_gate_exit();
    rt::sched::gopark(unlock_chan, c, reason);
  } else {
    c->unlock_op();
    rt::sched::notesleep(&s->note);
  }
}

[[noreturn]] void block_forever(WaitReason reason) {
  if (rt::sched::getg()) {
    for (;;) rt::sched::gopark(nullptr, nullptr, reason);
  }
  std::atomic<uint32_t> never{0};
  for (;;) rt::sched::notesleep(&never);
}

[[noreturn, gnu::cold]] void panic_unlock(ChanCore* c, const char* msg) {
  c->unlock_op();
  throw rt::Panic(msg);
}

void init_sudog(Sudog* s, ChanCore* c, void* elem) {
  s->g = rt::sched::getg();
  s->c = c;
  s->elem = elem;
}

}  // namespace

// --- lifetime ------------------------------------------------------------------

ChanCore* chan_make(const ElemOps* ops, size_t cap) {
  if (cap > (size_t{1} << 40) / (ops->size ? ops->size : 1)) throw rt::Panic("makechan: size out of range");
  void* mem = rt::detail::meta_malloc_aligned(sizeof(ChanCore), alignof(ChanCore));
  if (!mem) rt::detail::fatal("makechan: out of memory");
  ChanCore* c = new (mem) ChanCore();
  c->ops = ops;
  c->cap = cap;
  if (cap > 0 && ops->size > 0) {
    c->slot = (ops->size + ops->align - 1) & ~(ops->align - 1);
    // A scanned ring's slots are whole, aligned words (chanscan.cc).
    if (ops->may_hold_pointers) c->slot = (c->slot + 7) & ~size_t{7};
    size_t align = ops->may_hold_pointers ? std::max<size_t>(ops->align, 8) : ops->align;
    c->buf = static_cast<unsigned char*>(rt::detail::meta_malloc_aligned(c->slot * cap, align));
    if (!c->buf) rt::detail::fatal("makechan: out of memory");
    if (ops->may_hold_pointers) {
      memset(c->buf, 0, c->slot * cap);
      c->scan_registered = true;
      chan_scan_register(c);
    }
  }
  return c;
}

void chan_retain(ChanCore* c) { c->refs.fetch_add(1, std::memory_order_relaxed); }

void chan_release(ChanCore* c) {
  if (c->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  // Last reference: nobody can be queued (a waiter holds a reference).
  size_t n = c->qcount.load(std::memory_order_relaxed);
  if (c->scan_registered) chan_scan_unregister(c);
  for (size_t i = 0; i < n; i++) c->ops->destroy(c->slot_at((c->recvx + i) % c->cap));
  rt::detail::meta_free(c->buf);
  c->~ChanCore();
  rt::detail::meta_free(c);
}

size_t chan_len(const ChanCore* c) { return c->qcount.load(std::memory_order_relaxed); }
size_t chan_cap(const ChanCore* c) { return c->cap; }

// --- send ----------------------------------------------------------------------

bool chan_send(ChanCore* c, void* elem, bool block) {
  if (!c) {
    if (!block) return false;
    block_forever(WaitReason::kChanSendNilChan);
  }
  rt::sched::preempt_check();
  c->lock_op();
  if (c->closed) panic_unlock(c, "send on closed channel");
  if (Sudog* r = c->recvq.dequeue()) {
    // A receiver is waiting: hand the value straight to it.
    c->move(r->elem, elem, r->g != nullptr);  // a goroutine receives into its stack
    r->success = true;
    c->unlock_op();
    ready_sudog(r);
    return true;
  }
  if (c->qcount.load(std::memory_order_relaxed) < c->cap) {
    c->buf_put(elem);
    c->unlock_op();
    return true;
  }
  if (!block) {
    c->unlock_op();
    return false;
  }
  Sudog me;
  init_sudog(&me, c, elem);
  c->sendq.enqueue(&me);
  // No extra reference while parked: the caller's Chan keeps it alive.
  park(c, &me, WaitReason::kChanSend);
  if (!me.success) throw rt::Panic("send on closed channel");
  return true;
}

// --- receive -------------------------------------------------------------------

bool chan_recv(ChanCore* c, void* out, bool block, bool* received) {
  *received = false;
  if (!c) {
    if (!block) return false;
    block_forever(WaitReason::kChanReceiveNilChan);
  }
  rt::sched::preempt_check();
  c->lock_op();
  size_t q = c->qcount.load(std::memory_order_relaxed);
  if (c->closed && q == 0) {
    c->unlock_op();
    return true;
  }
  if (Sudog* s = c->sendq.dequeue()) {
    c->recv_from_sender(s, out);
    c->unlock_op();
    ready_sudog(s);
    *received = true;
    return true;
  }
  if (q > 0) {
    c->buf_take(out);
    c->unlock_op();
    *received = true;
    return true;
  }
  if (!block) {
    c->unlock_op();
    return false;
  }
  Sudog me;
  init_sudog(&me, c, out);
  c->recvq.enqueue(&me);
  park(c, &me, WaitReason::kChanReceive);
  *received = me.success;
  return true;
}

// --- close ---------------------------------------------------------------------

void chan_close(ChanCore* c) {
  if (!c) throw rt::Panic("close of nil channel");
  c->lock_op();
  if (c->closed) panic_unlock(c, "close of closed channel");
  c->closed = true;
  // Unlink every waiter under the lock, wake them after it.
  Sudog* wake = nullptr;
  auto collect = [&](WaitQ& q) {
    while (Sudog* s = q.dequeue()) {
      s->success = false;
      s->next = wake;
      wake = s;
    }
  };
  collect(c->recvq);
  collect(c->sendq);
  c->unlock_op();
  while (wake) {
    Sudog* s = wake;
    wake = s->next;
    ready_sudog(s);
  }
}

}  // namespace rt::detail
