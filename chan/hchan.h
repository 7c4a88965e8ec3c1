// hchan: the runtime side of a channel (Go's chan.go), shared by send,
// receive, close and select.
//
// A channel is a lock, a ring buffer of cap elements (none when
// unbuffered), and two FIFO queues of waiters (sudogs): goroutines (or
// threads) blocked sending and blocked receiving. Invariants, all under
// the lock:
//   - recvq non-empty => the buffer is empty (a receiver only waits when
//     there is nothing to take);
//   - sendq non-empty => the buffer is full;
//   - after close, nobody is queued.
// Data moves directly between a waiting partner's stack and the active
// goroutine: a sender that finds a waiting receiver moves its value into
// the receiver's storage; a receiver that finds a waiting sender takes the
// buffer's head and moves the sender's value into the freed slot (or takes
// the sender's value directly when unbuffered). The partner is then made
// runnable with its sudog marked successful; close wakes everyone with
// success = false (receivers then see "closed", senders panic).
//
// Select waiters are sudogs too, one per case, all pointing at one
// SelectState; whoever dequeues one first wins it by CAS on the state's
// `done`, and stale sudogs of a won select are skipped by dequeue.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "gc/barrier.h"
#include "rt/chan.h"
#include "rt/gc.h"
#include "runtime/lock.h"
#include "sched/gmp.h"

namespace rt::detail {

struct SelectState;

struct Sudog {
  rt::sched::G* g = nullptr;           // the waiting goroutine, or nullptr: a thread
  std::atomic<uint32_t> note{0};       // a waiting thread sleeps on this
  void* elem = nullptr;                // send: value to move from; recv: storage
  ChanCore* c = nullptr;
  Sudog* next = nullptr;
  Sudog* prev = nullptr;
  SelectState* sel = nullptr;          // non-null: part of a select
  int case_index = -1;
  bool success = false;  // completed by a partner (false: woken by close)
  bool queued = false;   // on c's queue (channel lock)
};

struct SelectState {
  std::atomic<uint32_t> done{0};  // 0 -> 1 by the partner that wins it
  Sudog* winner = nullptr;        // set by that partner before waking us
  std::atomic<uint32_t> note{0};  // a select on a thread sleeps here
};

struct WaitQ {
  Sudog* first = nullptr;
  Sudog* last = nullptr;
  void enqueue(Sudog* s);
  // The first waiter still wanting to be woken (skips sudogs of selects
  // someone else already won), unlinked; nullptr if none.
  Sudog* dequeue();
  void remove(Sudog* s);
};

struct ChanCore {
  rt::detail::Lock lock;
  const ElemOps* ops = nullptr;
  size_t cap = 0;
  unsigned char* buf = nullptr;  // cap slots of ops->size, aligned to ops->align
  size_t slot = 0;               // bytes per slot
  // Buffer state (lock). qcount is atomic only so len() may read it unlocked.
  std::atomic<size_t> qcount{0};
  size_t sendx = 0, recvx = 0;
  bool closed = false;
  WaitQ recvq, sendq;
  std::atomic<uint32_t> refs{1};
  // The registry of buffers the collector scans (chanscan.cc): buffered
  // channels whose elements may hold pointers. Guarded by its lock.
  ChanCore* scan_prev = nullptr;
  ChanCore* scan_next = nullptr;
  bool scan_registered = false;  // set once at make

  void* slot_at(size_t i) { return buf + i * slot; }

  // The channel's lock, for an operation that may move elements. A plain
  // thread enters the collector's gate first (a no-op on goroutines): a
  // stop-the-world must not split its moves' barrier (move) from the phase
  // test, and it must never wait at the gate holding a channel lock (a
  // goroutine spinning on that lock could never stop).
  void lock_op() {
    plain_gate_enter();
    lock.lock();
  }
  void unlock_op() {
    lock.unlock();
    plain_gate_exit();
  }

  // Moves the element at src into uninitialized dst (lock held): shades
  // it first while the collector marks (gc/barrier.h). into_scanned: dst
  // is a slot of this channel's ring, or a waiting goroutine's receive
  // storage on that goroutine's stack (a direct hand-off); the collector
  // scans both, and src was shaded, so a stack it already scanned loses
  // nothing. An rt::Ref constructed there is not on the calling
  // goroutine's own stack, and without the scope ref_constructed would
  // report it as misplaced.
  void move(void* dst, void* src, bool into_scanned) {
    if (ops->may_hold_pointers) shade_words_barrier(src, ops->size);
    if (into_scanned) {
      ScannedBufferScope scope;
      ops->move_construct(dst, src);
    } else {
      ops->move_construct(dst, src);
    }
  }

  // The steps send, receive and select share; all with the lock held.
  // Appends *elem to the buffer (qcount < cap).
  void buf_put(void* elem) {
    size_t q = qcount.load(std::memory_order_relaxed);
    move(slot_at(sendx), elem, true);
    if (++sendx == cap) sendx = 0;
    qcount.store(q + 1, std::memory_order_relaxed);
  }
  // Moves the buffer's head into uninitialized `out` (qcount > 0).
  void buf_take(void* out) {
    size_t q = qcount.load(std::memory_order_relaxed);
    void* head = slot_at(recvx);
    move(out, head, false);
    ops->destroy(head);
    // A scanned ring keeps no stale pointer in an empty slot: it would
    // keep a dead object alive (chanscan.cc scans every slot).
    if (scan_registered) memset(head, 0, slot);
    if (++recvx == cap) recvx = 0;
    qcount.store(q - 1, std::memory_order_relaxed);
  }
  // Receives from the waiting sender s into `out`: directly when
  // unbuffered; else the buffer (full) gives its head and takes s's value
  // in the freed slot, which becomes the tail.
  void recv_from_sender(Sudog* s, void* out);
};

inline void ChanCore::recv_from_sender(Sudog* s, void* out) {
  if (cap == 0) {
    move(out, s->elem, false);
  } else {
    void* head = slot_at(recvx);
    move(out, head, false);
    ops->destroy(head);
    move(head, s->elem, true);
    if (++recvx == cap) recvx = 0;
    sendx = recvx;
  }
  s->success = true;
}

// Makes a waiter runnable (goroutine) or wakes it (thread).
void ready_sudog(Sudog* s);

// The collector's view of channel buffers (chanscan.cc): registration of
// a buffered channel whose elements may hold pointers, and the walk that
// reports each one's queued elements to scan, each under its channel's
// lock.
void chan_scan_register(ChanCore* c);
void chan_scan_unregister(ChanCore* c);
void chan_scan_buffers(void (*fn)(const void* p, size_t n, void* arg), void* arg);

}  // namespace rt::detail
