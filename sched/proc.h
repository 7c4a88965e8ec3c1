// The scheduler's internal interface (proc.cc, newproc.cc, runq.cc,
// syscall.cc, ...), used by channels, sync, timers and the collector.
#pragma once

#include <cstdint>

#include "sched/gmp.h"

namespace rt::sched {

// Starts the runtime if it is not running: Ps, sysmon, signal handlers.
void schedinit();
bool started();

// errno of the calling thread, looked up afresh on every call. errno is
// per thread and __errno_location() is declared const, so in one function
// the compiler may reuse the address it computed before a goroutine switch;
// after the switch the goroutine may run on another thread, and that
// address is the old thread's errno. Code that keeps errno across a point
// where the goroutine may move restores it with set_thread_errno.
// Not inlined, and callers may assume nothing about them: GCC's noipa;
// clang has no noipa, and optnone keeps it from inferring the functions
// read nothing (which would let it reuse a result across the switch).
#if defined(__clang__)
#define RT_NOIPA __attribute__((noinline, optnone))
#else
#define RT_NOIPA __attribute__((noipa))
#endif
RT_NOIPA int thread_errno();
RT_NOIPA void set_thread_errno(int v);

// Creates a goroutine running `fn` and makes it runnable (in the current P's
// runnext when called from a goroutine, else on the global run queue);
// newproc.cc.
// closure/closure_size: memory the task owns outside itself that holds the
// callable's captures (rt::go's heap copy), scanned by the collector.
G* newproc(Task fn, bool system = false, const void* closure = nullptr, size_t closure_size = 0);
// Called by newproc with every new G once its task is set, before it can
// run (the collector shades the task's captures while it marks).
extern std::atomic<void (*)(G*)> g_newproc_hook;

// Parks the running G. On g0, after the G has switched out, unlockf(g, arg)
// runs (if given); if it returns false the G is made runnable again at once.
// This is how a wait queue's lock is released only once the G's stack is
// free: see gmp.h. Returns when some goready() resumes the G.
void gopark(bool (*unlockf)(G*, void*), void* arg, WaitReason reason);
// Makes a parked G runnable. Callable from goroutines, from g0 and from
// threads that are not Ms.
void goready(G* g);
// A new time slice starts on p (sysmon preempts 10 ms into it).
inline void begin_time_slice(P* p) {
  p->schedtick++;
  p->schedwhen.store(cputicks(), std::memory_order_relaxed);
  p->schedtick_pub.store(p->schedtick, std::memory_order_release);
}

// Gives g, about to run for the first time, a stack and a fiber context
// that starts in its task (newproc.cc).
void prepare_first_run(P* p, G* g);
// Yields the processor; the G goes to the global run queue.
void gosched();
// Checks the preemption flag at a safe point and yields if it is set. The
// check is inline (one TLS load and two plain loads); the yield is not.
void preempt_check_slow();
inline void preempt_check() {
  M* m = t_m;
  if (!m) return;
  G* g = m->curg.load(std::memory_order_relaxed);
  if (__builtin_expect(g != nullptr && g->preempt.load(std::memory_order_relaxed), 0))
    preempt_check_slow();
}

// Syscall scope (syscall.cc).
void entersyscall();
void exitsyscall();

// Wake an idle P if there is work and nobody is spinning.
void wakep();

// Run queues (runq.cc).
bool runq_put(P* p, G* g, bool next);  // false if it went to the global queue
G* runq_get(P* p, bool* inherit_time);
bool runq_empty(P* p);
uint32_t runq_steal(P* p, P* victim, bool steal_runnext, G** first);
void globrunq_put(G* g);          // Sched::lock held
void globrunq_put_batch(G* head, G* tail, int32_t n);  // Sched::lock held
G* globrunq_get(P* p, int32_t max);  // Sched::lock held

// The collector's idle-P hook: asked by find_runnable before it gives up
// its P; returns a goroutine made runnable (an idle mark worker) or null.
inline std::atomic<G* (*)(P*)> g_idle_p_hook{nullptr};
// CPUs this process may run on (Go's ncpu), read once.
int ncpu();
// M and P hand-over (proc.cc).
void startm(P* p, bool spinning);
void handoffp(P* p);
P* pidleget();         // Sched::lock held
void pidleput(P* p);   // Sched::lock held
void acquirep(P* p);
P* releasep();
// Sleeps until notewakeup (returns true, consuming the wake-up) or until
// the nanotime deadline until_ns passes (returns false; 0 = no deadline).
bool tsc_is_invariant();  // note.cc
bool notesleep(std::atomic<uint32_t>* note, int64_t until_ns = 0);
// As notesleep, polling the note for up to spin_ns first: for waits that
// are usually a few microseconds (a stop-the-world), where a futex sleep
// and the waker's wake-up call would cost more than the wait.
bool notesleep_spinning(std::atomic<uint32_t>* note, int64_t spin_ns, int64_t until_ns = 0);
// Polls the note for up to ns, and while keep_polling (when given, asked
// every few microseconds) says so: true (consuming the wake-up) if it was
// woken, false otherwise (the note untouched).
bool notepoll(std::atomic<uint32_t>* note, int64_t ns, bool (*keep_polling)(int64_t now) = nullptr);
void notewakeup(std::atomic<uint32_t>* note);

// Changes GOMAXPROCS (stw.cc).
void procresize(int32_t n);

// Per-P stack caches and free G lists (gcache.cc).
Stack stack_get(P* p);
void stack_put(P* p, Stack s);
G* gfget(P* p);
void gfput(P* p, G* g);
#if defined(RT_TSAN)
// The TSan fiber a goroutine runs on, from its first run to its exit.
void* tsan_fiber_get();
void tsan_fiber_put(void* fiber);
#endif

// Counts for num_goroutine and deadlock detection.
int64_t user_goroutines();  // newproc.cc
int32_t msyscall_count();  // Ms inside syscall scopes
// Goroutines alive (not dead), by kind (newproc.cc): newproc counts a G
// in together with queueing it, goexit0 counts it out.
extern std::atomic<int64_t> g_user_gs;
extern std::atomic<int64_t> g_system_gs;

// The end of a goroutine, on g0 after its task returned and it switched
// out with SwitchAction::kExit (newproc.cc's g_entry): it is dead, its
// stack goes back to the P's cache and the G to the free list. Inline
// because execute() (proc.cc), which runs it for every exit, inlines it.
inline void goexit0(G* g) {
  M* m = current_m();
  cas_status(g, kGRunning, kGDead);
  stack_put(m->p, g->stack);
  g->stack = Stack{};
  g->ctx = nullptr;
#if defined(RT_TSAN)
  tsan_fiber_put(g->tsan_fiber);
  g->tsan_fiber = nullptr;
#endif
  (g->system ? g_system_gs : g_user_gs).fetch_sub(1, std::memory_order_relaxed);
  g->m.store(nullptr, std::memory_order_relaxed);
  m->curg.store(nullptr, std::memory_order_relaxed);
  if (g->lockedm) {
    // Go terminates a thread whose locked G exits; we simply unwire it.
    g->lockedm = nullptr;
    m->lockedg = nullptr;
  }
  gfput(m->p, g);
}

// Deadlock detection (deadlock.cc); Sched::lock held.
void checkdead();
// Counts rt::ExternalWaker objects (deadlock.cc).
void external_wakers_add(int32_t d);

// The current P of the calling M (nullptr if none).
inline P* getp() {
  M* m = current_m();
  return m ? m->p : nullptr;
}

// Iterate all Gs (for dumps, the collector's stack scan). Lock-free and
// async-signal-safe (see allg in newproc.cc): Gs created during the walk may
// be missed.
void for_each_g(void (*f)(G*, void*), void* arg);

// Dumps every goroutine to stderr (fatal errors, deadlock reports).
void dump_goroutines();
// The same from a signal handler (SIGQUIT) that interrupted `ucontext`: no
// lock and no allocation, so function names are printed as the symbol
// table has them (mangled), and the interrupted goroutine's trace comes
// from the context's frame pointers.
void dump_goroutines_from_signal(const void* ucontext);
void dump_goroutines_after_fatal();

}  // namespace rt::sched
