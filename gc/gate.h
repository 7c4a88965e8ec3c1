// The plain-thread gate: how a stop-the-world collection excludes threads
// that are not goroutines.
//
// stop_the_world stops goroutines only. A plain thread that makes objects
// or stores Refs while the collector marks could hide an object from it, so
// such threads pass a gate around each make and each barriered store: a
// count of threads inside, and a flag the collector raises. The collector
// raises the flag, then waits for the count to drain (before it stops the
// world, so a plain thread waiting on a goroutine inside make can finish);
// a thread that finds the flag raised steps back out and waits until the
// collection is over. Goroutines never touch the gate. Depth is per thread,
// so nested makes (constructors that call make) enter once.
#pragma once

#include "sched/gmp.h"

namespace rt::collector {

// Whether a stop-the-world stops the caller: a goroutine outside a
// syscall scope. Everyone else (plain threads, goroutines in a syscall
// scope, which keep running through a stop) passes the gate.
inline bool stopped_by_the_world() {
  sched::G* g = sched::getg();
  return g && g->status.load(std::memory_order_relaxed) != sched::kGSyscall;
}

void gate_close();  // collector: raise the flag, wait for plain threads to leave
void gate_open();
// How deep the calling thread is inside the gate (0 on goroutines that a
// stop-the-world stops).
int gate_depth();

}  // namespace rt::collector
