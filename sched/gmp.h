// The scheduler's three objects, as in Go's runtime2.go:
//   G - a goroutine: a fiber (Boost.Context fcontext) on its own stack;
//   M - an OS thread that runs goroutines; its native stack is "g0", where
//       the scheduler itself runs between goroutines;
//   P - a processor: the right to run Go code. GOMAXPROCS of them; each has
//       a run queue, a timer heap and an allocation cache. An M must hold a
//       P to run a G (except while the G is in a syscall scope).
//
// Switching: a G never switches directly to another G. It jumps to its
// M's g0 context with an action (park, yield, exit, ...); g0 performs the
// action now that the G's stack is no longer in use (so another M may
// resume the G at once), picks the next G and jumps to it. A G may resume
// on a different M than the one it left, so G code must re-read the current
// M after every switch (current_m() is deliberately not inlined: a cached
// TLS address would name the old thread).
//
// Invariants are written next to the fields they govern.
#pragma once

#include <boost/context/detail/fcontext.hpp>

#include <atomic>
#include <cstdint>

#include "runtime/lock.h"
#include "sched/stack.h"
#include "sched/task.h"

namespace rt::alloc {
class Cache;
}

namespace rt::sched {

using boost::context::detail::fcontext_t;
using boost::context::detail::transfer_t;

struct M;
struct P;
struct Timer;

// G status. kGScan may be or'ed into kGRunnable, kGWaiting, kGSyscall or
// kGPreempted by whoever claims the G to scan its stack; nobody else changes
// the status while the bit is set (they spin, as Go's casgstatus does).
enum GStatus : uint32_t {
  kGIdle = 0,       // allocated, not yet started
  kGRunnable = 1,   // on a run queue, not running
  kGRunning = 2,    // running on an M that holds a P
  kGSyscall = 3,    // in a syscall scope: has an M, not a P
  kGWaiting = 4,    // parked; some wait queue or timer will ready it
  kGDead = 6,       // finished, or on the free list
  kGPreempted = 9,  // stopped itself for suspend_g(); the suspender owns it
  kGScan = 0x1000,
};

enum class WaitReason : uint8_t {
  kNone,
  kChanReceiveNilChan,
  kChanSendNilChan,
  kSelectNoCases,
  kChanReceive,
  kChanSend,
  kSelect,
  kSleep,
  kSemacquire,
  kSyncMutexLock,
  kSyncRWMutexRLock,
  kSyncRWMutexLock,
  kSyncCondWait,
  kSyncWaitGroupWait,
  kSyncOnce,
  kPreempted,
  kGCWorkerIdle,
  kGCAssistWait,
  kFinalizerWait,
  kForceGCIdle,
  kStopTheWorld,
  kForEachP,
  kSyscallExit,
};
const char* wait_reason_string(WaitReason r);

// Goroutine-local storage slots per G (rt::GoroutineLocal keys).
inline constexpr int kGlsSlots = 16;

struct G {
  // --- the fiber ---------------------------------------------------------
  // Saved context (the SP of the switch frame) while the G is not running;
  // written by g0 after the G switched out, read by g0 to resume it.
  // nullptr until the G first runs: it has no stack until then.
  fcontext_t ctx = nullptr;
  Stack stack;
  int64_t id = 0;
  // See GStatus. Changed with CAS (cas_status) so scan claims are honoured.
  std::atomic<uint32_t> status{kGIdle};
  // The M running it (while kGRunning or kGSyscall); nullptr otherwise.
  // Written by that M (release); suspend_g and the signal handler read it
  // from outside while the G runs (acquire), the G itself relaxed.
  std::atomic<M*> m{nullptr};
  // lock_os_thread: the M this G is wired to, and the nesting count.
  M* lockedm = nullptr;
  uint32_t lock_count = 0;
  // The SP of a G that holds its M without switching out: in a syscall
  // scope (kGSyscall) or while it waits for the other Ps (kGWaiting in
  // run_scannable, scannable_wait.h); 0 otherwise. The collector scans
  // [blocked_sp, stack.hi) then: the frames above it stay as they are, and
  // hold the callee-saved registers (SyscallScope saves them in itself,
  // run_scannable in its frame). Written by the G before the status change
  // (release), read after the scanner's claim (acquire).
  uintptr_t blocked_sp = 0;
  WaitReason wait_reason = WaitReason::kNone;

  // --- preemption ---------------------------------------------------------
  // Set by sysmon / suspend_g; polled at safe points (allocation, channel
  // and sync operations, yield_point) and by the SIGURG handler.
  std::atomic<bool> preempt{false};
  // With preempt: stop as kGPreempted for the suspender instead of yielding.
  std::atomic<bool> preempt_stop{false};
  // > 0: inside a no-preempt scope; the signal handler will not preempt.
  int nopreempt = 0;

  bool system = false;  // runtime goroutine: not counted, not a deadlock witness
  // Set by the collector's own goroutines (mark workers, the background
  // cycle runner; the finalizer goroutine while it waits) whose stacks
  // then hold no reference the program needs: scanning them would only
  // retain what they last touched. Written by the G itself, read by the
  // collector's stack scan (either value is safe: skipped means the stack
  // is as good as empty, like a new goroutine's).
  std::atomic<bool> gc_skip_scan{false};
  // Nanoseconds this goroutine spent switched out at the collector's
  // drain safe points (owner only): mark CPU accounting leaves them out.
  int64_t gc_yielded_ns = 0;
  // The collector's assist account (gc/assist.cc): bytes of allocation
  // paid for with scan work in advance (negative: debt), valid for the
  // assist epoch gc_assist_epoch (a new cycle starts every account at 0).
  // Written by the G itself, or under the assist queue lock while it is
  // parked there.
  int64_t gc_assist_bytes = 0;
  uint32_t gc_assist_epoch = 0;
  G* schedlink = nullptr;  // global run queue / free list link (owner's lock)
  void* param = nullptr;   // handed over by whoever readies the G
  Task task;
  // The callable's captures when they live outside the task (rt::go's heap
  // copy): a root for the collector while the G lives. Set by newproc,
  // cleared by the G itself before its task is destroyed.
  const void* closure = nullptr;
  size_t closure_size = 0;
  void* gls[kGlsSlots] = {};
  // The collector's stack of objects under construction by rt::make on this
  // goroutine (gc/typeinfo.cc). Per G, not per thread: a constructor may
  // park and resume on another thread.
  void* gc_construction = nullptr;

  // Execution tracer (sched/trace.cc), written by the G's owner only: when
  // its current run began (cputicks; 0: not being recorded), and the GC
  // span it is inside (mark work or assist: trace_span_kind + 1, 0 = none),
  // reopened at trace_span_start each time it runs again.
  int64_t trace_run_start = 0;
  int64_t trace_span_start = 0;
  uint8_t trace_span_kind = 0;

  // Sanitizer bookkeeping for fiber switches. tsan_fiber: the TSan fiber
  // it runs on from its first run to its exit (gcache.cc).
  void* asan_fake_stack = nullptr;
  void* tsan_fiber = nullptr;
};

// What a G asks its M's g0 to do after the G has switched out.
enum class SwitchAction : uint8_t {
  kNone,
  kPark,      // gopark: status -> waiting, then run unlockf
  kYield,     // gosched: back to the global run queue
  kYieldLocal,  // goyield: to the tail of this P's run queue
  kPreempt,   // preempted at a safe point: global run queue
  kPreemptStop,  // suspend_g: status -> kGPreempted, tell the suspender
  kExit,      // the G's function returned
  kSyscallBlock,  // exitsyscall found no P: queue the G, stop the M
};

struct M {
  int64_t id = 0;
  // g0's saved context while a G runs on this M. Written by the G each time
  // it is resumed (the resuming g0 passes its own context).
  fcontext_t g0ctx = nullptr;
  // The G running on this M, or nullptr on g0. Atomic (relaxed) because
  // sysmon and the signal handler read it from outside.
  std::atomic<G*> curg{nullptr};
  P* p = nullptr;        // attached P (nullptr while idle or in a syscall)
  // P handed over by startm (stored before the wake-up), taken at wake-up.
  std::atomic<P*> nextp{nullptr};
  P* oldp = nullptr;     // the P it had when its G entered a syscall
  bool spinning = false; // looking for work; counted in Sched::nmspinning
  G* lockedg = nullptr;  // lock_os_thread
  M* schedlink = nullptr;  // idle M list (Sched::lock)
  // Note the M sleeps on while idle: 0 = not woken, 1 = woken.
  std::atomic<uint32_t> park{0};
  // Deadline (nanotime) of a timed idle sleep, 0 = none. Sched::lock.
  int64_t park_until = 0;
  // 1 while a SIGURG to this M is in flight (coalesces signals).
  std::atomic<uint32_t> signal_pending{0};
  std::atomic<uint64_t> preempt_gen{0};  // async preemptions done
  int tid = 0;
  unsigned long pthread = 0;

  // Switch handshake: set by the G before jumping to g0.
  SwitchAction action = SwitchAction::kNone;
  bool (*unlockf)(G*, void*) = nullptr;
  void* unlock_arg = nullptr;

  // Sanitizer bookkeeping: g0's stack bounds and TSan fiber.
  const void* g0_stack_bottom = nullptr;
  size_t g0_stack_size = 0;
  void* g0_tsan_fiber = nullptr;
  void* altstack = nullptr;
  // This thread's C++ exception globals (switch.h moves them per G).
  void* eh_globals = nullptr;
};

enum PStatus : uint32_t {
  kPIdle = 0,     // on the idle list, or being handed over
  kPRunning = 1,  // owned by an M running Go code or the scheduler
  kPSyscall = 2,  // its M's G is in a syscall scope; sysmon may retake it
  kPGCStop = 3,   // stopped for stop-the-world
};

inline constexpr uint32_t kRunqSize = 256;
inline constexpr int32_t kPStackCache = 32;

struct alignas(64) P {
  int32_t id = 0;
  // kPSyscall -> anything is taken by CAS (sysmon and the returning M race).
  std::atomic<uint32_t> status{kPIdle};
  uint32_t schedtick = 0;  // every schedule() on this P; owner only
  std::atomic<uint32_t> schedtick_pub{0};  // schedtick, published for sysmon
  // cputicks() when the current time slice began (set with schedtick_pub),
  // so sysmon preempts at 10 ms of the slice, not of its own observation.
  std::atomic<int64_t> schedwhen{0};
  std::atomic<uint32_t> syscalltick{0};    // every syscall entry
  // Owning M (nullptr when idle or in syscall). Atomic (relaxed): sysmon
  // reads it to find whom to preempt.
  std::atomic<M*> m{nullptr};
  P* link = nullptr;    // idle P list (Sched::lock)
  rt::alloc::Cache* mcache = nullptr;

  // Local run queue: a lock-free ring. Only the owner writes runq_tail and
  // the slots; consumers (owner and thieves) advance runq_head by CAS.
  // Slots are atomics because a thief may read a slot the owner is about
  // to reuse; its CAS then fails and it retries.
  alignas(64) std::atomic<uint32_t> runq_head{0};
  alignas(64) std::atomic<uint32_t> runq_tail{0};
  std::atomic<G*> runq[kRunqSize] = {};
  // One G to run next (inherits the time slice). Owner sets; thieves take
  // it by CAS in their last stealing pass.
  std::atomic<G*> runnext{nullptr};

  // Timers (timers.cc): a min-heap by deadline under timers_lock.
  rt::detail::Lock timers_lock;
  Timer** timers = nullptr;
  uint32_t ntimers = 0, timers_cap = 0;
  // Earliest deadline in the heap (0 = none): read without the lock.
  std::atomic<int64_t> timer0_when{0};

  // sysmon's view (sysmon thread only).
  uint32_t sysmon_schedtick = 0;
  int64_t sysmon_schedwhen = 0;
  int64_t sysmon_retry_at = 0;  // no new preemption request before this
  uint32_t sysmon_syscalltick = 0;
  int64_t sysmon_syscallwhen = 0;

  // Free Gs for this P's newproc; owner only. Spills half to Sched::gfree
  // past kPGFreeMax, refills from it when empty.
  G* gfree = nullptr;
  int32_t ngfree = 0;
  // Stacks of goroutines that ended here, for the next ones to start here
  // (LIFO: the most recently used is the hottest). Owner only.
  Stack stackcache[kPStackCache];
  int32_t nstackcache = 0;

  // Hooks for the collector: per-P state it owns (write-barrier buffer,
  // mark work buffer). Opaque here.
  void* gc_state = nullptr;
  // The collector's tiny block (gc/heapobj.cc): the 16-byte noscan slot
  // that objects under 16 bytes are packed into, its next free offset, and
  // the g_cycle_starts count it was allocated under. Owner only.
  uintptr_t gc_tiny = 0;
  uint32_t gc_tiny_off = 0;
  uint32_t gc_tiny_cycle = 0;
  // The last safe-point request (safepoint.h) this P has run, by number.
  // Written by the P's owner (or, for an idle P, under Sched::lock);
  // release, read with acquire by the requester waiting for it.
  std::atomic<uint32_t> safe_point_done{0};
};

// Global scheduler state (Go's schedt).
struct Sched {
  rt::detail::Lock lock;
  // Idle Ms (lock). nmidle counts them.
  M* midle = nullptr;
  int32_t nmidle = 0;
  int32_t mcount = 0;       // Ms created (lock)
  int32_t nmidlelocked = 0; // Ms idle waiting for their locked G (lock)
  // Idle Ps (lock); npidle is also read without it.
  P* pidle = nullptr;
  std::atomic<int32_t> npidle{0};
  std::atomic<int32_t> nmspinning{0};
  // Global run queue (lock).
  G* runq_head = nullptr;
  G* runq_tail = nullptr;
  std::atomic<int32_t> runq_size{0};
  // Free Gs with stacks (lock).
  G* gfree = nullptr;
  int32_t ngfree = 0;
  // Stop-the-world.
  std::atomic<uint32_t> gcwaiting{0};
  int32_t stopwait = 0;                 // Ps still to stop (lock)
  std::atomic<uint32_t> stopnote{0};
  // The M sleeping with a deadline for the earliest timer (lock).
  M* timer_waiter = nullptr;
};

// Whether g, seen in status `status` (without kGScan), is on its M without
// having switched out: its stack starts at blocked_sp, not at its saved
// context (a syscall scope, or a wait in run_scannable; a parked G has no
// blocked_sp: it is cleared before the G can park again).
inline bool on_m_from_blocked_sp(const G* g, uint32_t status) {
  return status == kGSyscall || (status == kGWaiting && g->blocked_sp != 0);
}

// --- globals and accessors (proc.cc) ---------------------------------------
extern Sched sched;
extern P** allp;             // GOMAXPROCS Ps
// The number of Ps in allp. procresize fills allp[old..n) and then stores n
// with release; a thread that loads n with acquire (sysmon, stealing,
// timers: they run beside procresize) sees those entries set up.
extern std::atomic<int32_t> gomaxprocs_n;

// initial-exec: read by the signal handlers, which must not call __tls_get_addr.
inline thread_local M* t_m __attribute__((tls_model("initial-exec"))) = nullptr;
// The calling thread's M (nullptr on threads that are not Ms). Not inlined:
// see the file comment.
M* current_m();
// The running G, or nullptr when not on a goroutine.
G* getg();

int64_t nanotime();

// A cheap clock for stamping time slices (execute runs on every switch):
// the TSC where it is invariant (constant rate, synchronised across CPUs),
// else nanotime(). Only differences of cputicks() readings mean anything;
// sysmon converts them to nanoseconds (sysmon.cc, TickRate). Reading the
// TSC costs about a third of clock_gettime on a kvm-clock guest.
extern bool g_tsc_invariant;  // set once in schedinit, before any M runs
inline int64_t cputicks() {
#if defined(__x86_64__)
  if (__builtin_expect(g_tsc_invariant, 1)) return static_cast<int64_t>(__builtin_ia32_rdtsc());
#endif
  return nanotime();
}

// CAS a G's status, waiting out a scan claim (the loop is out of line).
void cas_status_slow(G* g, uint32_t from, uint32_t to);
inline void cas_status(G* g, uint32_t from, uint32_t to) {
  uint32_t cur = from;
  if (__builtin_expect(g->status.compare_exchange_strong(cur, to, std::memory_order_acq_rel), 1))
    return;
  cas_status_slow(g, from, to);
}

}  // namespace rt::sched
