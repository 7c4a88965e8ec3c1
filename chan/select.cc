// select: Go's selectgo.
//
// 1. Visit the cases in a random order (a fresh permutation per call) and
//    lock their channels in address order (each channel once), so two
//    selects over the same channels cannot deadlock.
// 2. Pass 1, in the random order: the first case that can proceed now runs
//    (receive: a waiting sender, buffered data, or closed; send: a waiting
//    receiver or buffer room; send on a closed channel panics).
// 3. Nothing ready: with a default, unlock and return -1. Otherwise pass 2
//    queues one sudog per case, all sharing one SelectState, and parks
//    (the channels are unlocked only after the goroutine is off its stack).
// 4. A partner that dequeues one of our sudogs wins the select by CAS on
//    SelectState::done, completes that case and wakes us. Pass 3 relocks
//    the channels and unlinks our other sudogs.
#include <algorithm>
#include <cstdint>
#include <memory>

#include "chan/hchan.h"
#include "runtime/fatal.h"
#include "sched/proc.h"

namespace rt::detail {

using rt::sched::G;
using rt::sched::WaitReason;

namespace {

uint32_t cheaprand() {
  static thread_local uint64_t s = 0x2545F4914F6CDD1Dull ^ reinterpret_cast<uintptr_t>(&s);
  s ^= s << 13;
  s ^= s >> 7;
  s ^= s << 17;
  return static_cast<uint32_t>(s >> 32);
}

struct LockSet {
  ChanCore** chans;  // distinct non-nil channels, in address order
  int n;
  // The collector's gate once around the whole set (see ChanCore::lock_op).
  void lock() {
    rt::detail::plain_gate_enter();
    for (int i = 0; i < n; i++) chans[i]->lock.lock();
  }
  void unlock_chans() {
    for (int i = n; i > 0; i--) chans[i - 1]->lock.unlock();
  }
  void unlock() {
    unlock_chans();
    rt::detail::plain_gate_exit();
  }
};

// Runs on the scheduler's stack after the goroutine parked: the gate was
// left before (it is per thread, and the goroutine may wake on another).
bool unlock_all(G*, void* arg) {
  static_cast<LockSet*>(arg)->unlock_chans();
  return true;
}

[[noreturn]] void block_forever() {
  if (rt::sched::getg()) {
    for (;;) rt::sched::gopark(nullptr, nullptr, WaitReason::kSelectNoCases);
  }
  std::atomic<uint32_t> never{0};
  for (;;) rt::sched::notesleep(&never);
}

// Tries case i with its channel locked. Returns true if it ran.
bool try_case(SelectCase& sc, LockSet& locks) {
  ChanCore* c = sc.c;
  size_t q = c->qcount.load(std::memory_order_relaxed);
  if (sc.is_send) {
    if (c->closed) {
      locks.unlock();
      throw rt::Panic("send on closed channel");
    }
    if (Sudog* r = c->recvq.dequeue()) {
      c->move(r->elem, sc.elem, r->g != nullptr);  // a goroutine receives into its stack
      r->success = true;
      locks.unlock();
      ready_sudog(r);
      return true;
    }
    if (q < c->cap) {
      c->buf_put(sc.elem);
      locks.unlock();
      return true;
    }
    return false;
  }
  if (Sudog* s = c->sendq.dequeue()) {
    c->recv_from_sender(s, sc.elem);
    sc.received = true;
    locks.unlock();
    ready_sudog(s);
    return true;
  }
  if (q > 0) {
    c->buf_take(sc.elem);
    sc.received = true;
    locks.unlock();
    return true;
  }
  if (c->closed) {
    sc.received = false;
    locks.unlock();
    return true;
  }
  return false;
}

}  // namespace

int select_impl(SelectCase* cases, int n, bool has_default) {
  rt::sched::preempt_check();
  // Small selects keep their bookkeeping on the stack.
  constexpr int kInline = 16;
  int order_buf[kInline];
  ChanCore* lock_buf[kInline];
  std::unique_ptr<int[]> order_heap;
  std::unique_ptr<ChanCore*[]> lock_heap;
  int* order = order_buf;
  ChanCore** lockv = lock_buf;
  if (n > kInline) {
    order_heap.reset(new int[n]);
    lock_heap.reset(new ChanCore*[n]);
    order = order_heap.get();
    lockv = lock_heap.get();
  }
  // Poll order: a random permutation of the non-nil cases.
  int m = 0;
  for (int i = 0; i < n; i++) {
    cases[i].received = false;
    if (!cases[i].c) continue;
    int j = static_cast<int>(cheaprand() % static_cast<uint32_t>(m + 1));
    order[m] = order[j];
    order[j] = i;
    m++;
  }
  if (m == 0) {
    if (has_default) return -1;
    block_forever();
  }
  // Lock order: distinct channels by address.
  for (int i = 0; i < m; i++) lockv[i] = cases[order[i]].c;
  std::sort(lockv, lockv + m);
  int nl = static_cast<int>(std::unique(lockv, lockv + m) - lockv);
  LockSet locks{lockv, nl};
  locks.lock();

  // Pass 1: something ready now?
  for (int k = 0; k < m; k++) {
    int i = order[k];
    if (try_case(cases[i], locks)) return i;
  }
  if (has_default) {
    locks.unlock();
    return -1;
  }

  // Pass 2: wait on every case.
  SelectState st;
  Sudog sud_buf[kInline];
  std::unique_ptr<Sudog[]> sud_heap;
  Sudog* sud = sud_buf;
  if (n > kInline) {
    sud_heap.reset(new Sudog[n]);
    sud = sud_heap.get();
  }
  G* g = rt::sched::getg();
  for (int k = 0; k < m; k++) {
    int i = order[k];
    Sudog& s = sud[i];
    s.g = g;
    s.c = cases[i].c;
    s.elem = cases[i].elem;
    s.sel = &st;
    s.case_index = i;
    (cases[i].is_send ? s.c->sendq : s.c->recvq).enqueue(&s);
  }
  if (g) {
    rt::detail::plain_gate_exit();
    rt::sched::gopark(unlock_all, &locks, WaitReason::kSelect);
  } else {
    // A thread: partners wake the select's note (ready_sudog).
    locks.unlock();
    rt::sched::notesleep(&st.note);
  }
  // Pass 3: unlink the losers.
  locks.lock();
  Sudog* win = st.winner;
  for (int k = 0; k < m; k++) {
    Sudog& s = sud[order[k]];
    if (&s != win && s.queued) (cases[s.case_index].is_send ? s.c->sendq : s.c->recvq).remove(&s);
  }
  locks.unlock();
  if (!win) rt::detail::fatal("select: woken without a winning case");
  SelectCase& sc = cases[win->case_index];
  if (sc.is_send) {
    if (!win->success) throw rt::Panic("send on closed channel");
  } else {
    sc.received = win->success;
  }
  return win->case_index;
}

}  // namespace rt::detail
