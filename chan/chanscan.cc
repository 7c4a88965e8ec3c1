// Channel buffers as collector roots.
//
// A buffered channel whose element type may hold pointers keeps GC'd
// objects alive while they sit in its ring, as a Go channel's buffer (a
// heap object) does. The ring lives outside the GC heap, so such channels
// join a registry (an intrusive doubly linked list under one runtime lock)
// from make to their last release, and the collector's root marking walks
// it: for each channel, the ring's words are copied out under the
// channel's lock, a chunk at a time, then shaded with no channel lock held (the copy
// keeps the lock order channel -> collector work lists, the order the
// move barrier uses, see gc/barrier.h). A value that leaves the ring after
// its copy was taken was shaded by the move barrier as it left; one that
// enters after is shaded as it enters. Lock order: registry -> channel.
#include <algorithm>
#include <cstring>

#include "chan/hchan.h"

namespace rt::detail {

namespace {

rt::detail::Lock g_scan_lock;
ChanCore* g_scan_head = nullptr;  // g_scan_lock

// Words copied per channel lock hold: bounds the time a sender or receiver
// waits on a scan, and the copy's stack footprint.
constexpr size_t kCopyWords = 256;

}  // namespace

void chan_scan_register(ChanCore* c) {
  LockGuard g(g_scan_lock);
  c->scan_prev = nullptr;
  c->scan_next = g_scan_head;
  if (g_scan_head) g_scan_head->scan_prev = c;
  g_scan_head = c;
}

void chan_scan_unregister(ChanCore* c) {
  LockGuard g(g_scan_lock);
  if (c->scan_prev) {
    c->scan_prev->scan_next = c->scan_next;
  } else {
    g_scan_head = c->scan_next;
  }
  if (c->scan_next) c->scan_next->scan_prev = c->scan_prev;
  c->scan_prev = c->scan_next = nullptr;
}

void chan_scan_buffers(void (*fn)(const void* p, size_t n, void* arg), void* arg) {
  uintptr_t copy[kCopyWords];
  LockGuard g(g_scan_lock);
  for (ChanCore* c = g_scan_head; c; c = c->scan_next) {
    // The whole ring in slot order: an element stays in its slot from send
    // to receive, so rounds of copying (the channel unlocked between them)
    // miss none, and emptied slots are zeroed (buf_take).
    const unsigned char* ring = static_cast<const unsigned char*>(c->slot_at(0));
    size_t bytes = c->slot * c->cap;  // slots are word multiples (chan_make)
    for (size_t off = 0; off < bytes; off += sizeof copy) {
      size_t n = std::min(sizeof copy, bytes - off);
      {
        LockGuard cl(c->lock);
        memcpy(copy, ring + off, n);
      }
      fn(copy, n, arg);
    }
  }
}

}  // namespace rt::detail
