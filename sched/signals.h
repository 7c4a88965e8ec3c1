// The runtime's signal handling, other than preemption (preempt.h):
//   SIGSEGV/SIGBUS on a goroutine's guard page -> "fatal error: stack
//     overflow" naming the goroutine, exit 2 (handled on the M's alternate
//     signal stack, since the goroutine's own stack is exhausted);
//     any other fault is passed on to the handler that was installed before
//     the runtime's (or the default action);
//   SIGQUIT -> dump every goroutine, exit 2 (as Go does).
#pragma once

#include "sched/gmp.h"

namespace rt::sched {

// Installs the process-wide handlers (once).
void install_signal_handlers();
// Per-M set-up on the M's own thread: alternate signal stack, signal mask.
void minit_signals(M* m);

}  // namespace rt::sched
