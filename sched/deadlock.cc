// Deadlock detection, as Go's checkdead: when no M is running goroutines,
// nobody is in a syscall scope, no goroutine is queued and no timer is
// pending, yet user goroutines exist, nothing can ever wake them: print
// "fatal error: all goroutines are asleep - deadlock!" with every
// goroutine's trace and exit 2. Only while rt::run's main goroutine lives
// (sysmon.h: deadlock_detection_enabled).
#include <unistd.h>

#include <atomic>

#include "runtime/fatal.h"
#include "sched/proc.h"
#include "sched/sysmon.h"

namespace rt::sched {

namespace {
// Live rt::ExternalWaker objects: threads the runtime cannot see that may
// still wake goroutines.
std::atomic<int32_t> g_external_wakers{0};
}  // namespace

void external_wakers_add(int32_t d) { g_external_wakers.fetch_add(d, std::memory_order_seq_cst); }

void checkdead() {
  if (!started() || sched.gcwaiting.load(std::memory_order_relaxed)) return;
  int32_t run = sched.mcount - sched.nmidle - sched.nmidlelocked;
  if (run > 0) return;
  if (msyscall_count() > 0) return;
  if (g_external_wakers.load(std::memory_order_seq_cst) > 0) return;
  if (user_goroutines() == 0) return;  // nothing waits
  if (sched.runq_size.load(std::memory_order_relaxed) != 0) return;
  for (int32_t i = 0; i < gomaxprocs_n.load(std::memory_order_acquire); i++) {
    if (allp[i]->timer0_when.load(std::memory_order_relaxed) != 0) return;
    if (!runq_empty(allp[i])) return;
  }
  if (!deadlock_detection_enabled()) return;
  rt::detail::FixedText line;
  line << "fatal error: all goroutines are asleep - deadlock!\n\n";
  line.write_to(2);
  dump_goroutines();
  _exit(2);
}

}  // namespace rt::sched
