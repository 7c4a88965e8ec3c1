// Goroutine traces for panics, fatal errors, deadlock reports and SIGQUIT.
//
// The running goroutine's trace comes from the C++ unwinder (backtrace()).
// A parked goroutine is not running, so its trace is walked from the frame
// pointer saved by its last switch (fcontext's save area: RBP at +0x30,
// return address at +0x38), staying inside its stack; frames of code built
// without frame pointers end the walk early. Names come from the
// executable's symbol table (symtab.h), demangled unless `demangle` is
// false: demangling allocates, which a signal handler must not do.
#pragma once

#include "sched/gmp.h"

namespace rt::sched {

// The calling thread's current stack.
void print_current_backtrace(int fd);
// A goroutine that is not running (parked, runnable, preempted).
void print_g_backtrace(G* g, int fd, bool demangle = true);
// The goroutine a signal interrupted on this thread, from the handler's
// ucontext (frame pointers only; no allocation, names not demangled).
void print_context_backtrace(G* g, const void* ucontext, int fd);

}  // namespace rt::sched
