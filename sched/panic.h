// Go panics for C++: an exception that escapes a goroutine ends the process
// with "panic: <what()>", the goroutine's trace and exit status 2.
//
// Goroutine bodies run without a catch-all, so an escaping exception finds
// no handler and the C++ runtime calls std::terminate before unwinding
// anything: the throwing goroutine's stack is intact when the runtime's
// terminate handler prints its trace. Outside goroutines the previous
// terminate handler (normally the C++ runtime's own) runs as before.
#pragma once

#include "sched/gmp.h"

namespace rt::sched {

// Installs the terminate handler (once).
void install_panic_handler();
// Runs g's task. Exceptions deliberately propagate (see above).
void run_goroutine_body(G* g);

}  // namespace rt::sched
