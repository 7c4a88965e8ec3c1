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

// Switches g off this M: saves g's exception state, tells the sanitizers
// which stack comes next (to_lo/to_size, to_tsan), runs jump (which leaves
// g's stack), and on resume - maybe on another M - records the resuming
// g0's context (t.fctx) and restores g's exception state.
template <typename Jump>
inline void switch_out(G* g, M* m, const void* to_lo, size_t to_size, void* to_tsan, Jump jump) {
  (void)g, (void)to_lo, (void)to_size, (void)to_tsan;  // the sanitizer annotations use them
  EhGlobals* eh = static_cast<EhGlobals*>(m->eh_globals);
  EhGlobals saved = *eh;
  *eh = EhGlobals{};
#if defined(RT_ASAN)
  __sanitizer_start_switch_fiber(&g->asan_fake_stack, to_lo, to_size);
#endif
#if defined(RT_TSAN)
  __tsan_switch_to_fiber(to_tsan, 0);
#endif
  transfer_t t = jump();
  M* now = current_m();
  now->g0ctx = t.fctx;
#if defined(RT_ASAN)
  __sanitizer_finish_switch_fiber(g->asan_fake_stack, nullptr, nullptr);
#endif
  *static_cast<EhGlobals*>(now->eh_globals) = saved;
}

// G -> g0. Returns when some M's g0 (or a G that switched to g directly)
// resumes g.
inline void switch_to_g0(G* g, M* m) {
  switch_out(g, m, m->g0_stack_bottom, m->g0_stack_size, m->g0_tsan_fiber,
             [&] { return boost::context::detail::jump_fcontext(m->g0ctx, g); });
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

// G -> next G, skipping g0 (park.cc). Like switch_to_g0 for g, but jumps
// into next's context and runs ontop(transfer_t{g's context, arg}) on next's
// stack first; ontop finishes parking g and returns {the M's g0 context, the
// M}, which next's resume path (here, switch_to_g0 or g_entry) takes as if
// g0 had resumed it. The caller has made next the M's current G.
inline void switch_g_to_g(G* g, M* m, G* next, void* arg,
                          transfer_t (*ontop)(transfer_t)) {
  switch_out(g, m, reinterpret_cast<const void*>(next->stack.lo), next->stack.size(),
             next->tsan_fiber,
             [&] { return boost::context::detail::ontop_fcontext(next->ctx, arg, ontop); });
}

// g0 -> G. Returns when a G switches back - g, or another G that g switched
// to directly - and returns that G, with its ctx set to its new context.
inline G* switch_to_g(M* m, G* g) {
#if defined(RT_ASAN)
  void* g0_fake = nullptr;
  __sanitizer_start_switch_fiber(&g0_fake, reinterpret_cast<const void*>(g->stack.lo),
                                 g->stack.size());
#endif
#if defined(RT_TSAN)
  __tsan_switch_to_fiber(g->tsan_fiber, 0);
#endif
  transfer_t t = boost::context::detail::jump_fcontext(g->ctx, m);
  G* back = static_cast<G*>(t.data);  // switch_to_g0 and exit_to_g0 pass their G
  back->ctx = t.fctx;
#if defined(RT_ASAN)
  __sanitizer_finish_switch_fiber(g0_fake, nullptr, nullptr);
#endif
  return back;
}

}  // namespace rt::sched
