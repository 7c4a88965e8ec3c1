// Fiber switches between g0 and goroutines, with what must travel along:
// - AddressSanitizer is told about each stack switch
//   (__sanitizer_start/finish_switch_fiber), or it reports false stack
//   overflows and mishandles exceptions on goroutine stacks;
// - ThreadSanitizer switches fibers (__tsan_switch_to_fiber) so it keeps a
//   separate shadow stack per goroutine;
// - the C++ runtime's per-thread exception state (__cxa_eh_globals: the
//   caught-exception stack and uncaught count) belongs to the goroutine, not
//   the thread: it is moved out of the thread when a G switches out and
//   back in when it resumes, possibly on another thread, so `throw;`,
//   std::current_exception and std::uncaught_exceptions stay correct
//   across parking.
#pragma once

#include <cstddef>
#include <cstdint>

#include "runtime/tsan.h"
#include "sched/gmp.h"

#if defined(RT_ASAN)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

namespace rt::sched {

// libstdc++'s __cxa_eh_globals layout (cxxabi: caughtExceptions,
// uncaughtExceptions).
struct EhGlobals {
  void* caught = nullptr;
  unsigned int uncaught = 0;
};
extern "C" EhGlobals* __cxa_get_globals() noexcept;

struct GSwitchState {
  EhGlobals eh;
};

// G -> g0. Saves the G's exception state, switches, and on resume (maybe on
// another M) restores it and records the resuming g0's context. Returns the
// data the resumer passed.
inline void* switch_to_g0(G* g, M* m) {
  EhGlobals* eh = static_cast<EhGlobals*>(m->eh_globals);
  EhGlobals saved = *eh;
  *eh = EhGlobals{};
#if defined(RT_ASAN)
  __sanitizer_start_switch_fiber(&g->asan_fake_stack, m->g0_stack_bottom, m->g0_stack_size);
#endif
#if defined(RT_TSAN)
  __tsan_switch_to_fiber(m->g0_tsan_fiber, 0);
#endif
  transfer_t t = boost::context::detail::jump_fcontext(m->g0ctx, g);
  // Resumed by some M's g0: t.fctx is that g0's context.
  M* now = current_m();
  now->g0ctx = t.fctx;
#if defined(RT_ASAN)
  __sanitizer_finish_switch_fiber(g->asan_fake_stack, nullptr, nullptr);
#endif
  *static_cast<EhGlobals*>(now->eh_globals) = saved;
  return t.data;
}

// G -> g0 for the last time (the G has finished): no state to keep.
// Uninstrumented like its caller g_entry: it never returns, so a TSan
// function-entry record would stay on the fiber's shadow stack.
[[noreturn]] RT_NO_TSAN inline void exit_to_g0(G* g, M* m) {
#if defined(RT_ASAN)
  __sanitizer_start_switch_fiber(nullptr, m->g0_stack_bottom, m->g0_stack_size);
#endif
#if defined(RT_TSAN)
  __tsan_switch_to_fiber(m->g0_tsan_fiber, 0);
#endif
  boost::context::detail::jump_fcontext(m->g0ctx, g);
  __builtin_unreachable();
}

// g0 -> G. Returns when the G switches back; sets g->ctx to its new
// context.
inline void switch_to_g(M* m, G* g) {
#if defined(RT_ASAN)
  void* g0_fake = nullptr;
  __sanitizer_start_switch_fiber(&g0_fake, reinterpret_cast<const void*>(g->stack.lo),
                                 g->stack.size());
#endif
#if defined(RT_TSAN)
  __tsan_switch_to_fiber(g->tsan_fiber, 0);
#endif
  transfer_t t = boost::context::detail::jump_fcontext(g->ctx, m);
  g->ctx = t.fctx;
#if defined(RT_ASAN)
  __sanitizer_finish_switch_fiber(g0_fake, nullptr, nullptr);
#endif
}

}  // namespace rt::sched
