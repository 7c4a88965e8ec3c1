// Semaphores by address: Go's runtime sema (sema.go), the sleeping half of
// every sync primitive.
//
// semacquire(addr) waits until *addr > 0 and decrements it; semrelease(addr)
// increments it and wakes one waiter. Waiters park in one of 251 buckets
// (hashed by address, each padded to a cache line), in a FIFO queue per
// address (LIFO on request: a mutex waiter that already waited goes back to
// the front). With handoff, semrelease gives the count straight to the
// first waiter and yields to it, so a starving waiter cannot be overtaken
// (the Mutex's starvation mode).
//
// Invariant: a waiter is queued only after checking *addr under its bucket
// lock with nwait incremented; semrelease increments *addr before reading
// nwait (both seq_cst). So either the waiter sees the count or the releaser
// sees the waiter.
#pragma once

#include <atomic>
#include <cstdint>

#include "sched/gmp.h"

namespace rt::sched {

struct SemaWaitOpts {
  bool lifo = false;
  WaitReason reason = WaitReason::kSemacquire;
};

// Works on goroutines; on threads that are not running a goroutine it
// blocks the thread (futex).
void semacquire(std::atomic<uint32_t>* addr, SemaWaitOpts opts = {});
// Like semacquire with a deadline (nanotime); false if it timed out.
bool semacquire_until(std::atomic<uint32_t>* addr, int64_t deadline, SemaWaitOpts opts = {});
void semrelease(std::atomic<uint32_t>* addr, bool handoff = false);

// Number of waiters queued on addr (tests, dumps).
uint32_t sema_waiters(std::atomic<uint32_t>* addr);

// Yields to the G just readied: the current G goes to the tail of the local
// run queue (Go's goyield).
void goyield();

}  // namespace rt::sched
