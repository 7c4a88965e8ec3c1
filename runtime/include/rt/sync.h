// Go's sync package for goroutines: Mutex, RWMutex, WaitGroup, Once, Cond,
// Pool<T>, with Go's algorithms and Go's error behaviour.
//
//   rt::Mutex mu;                        // zero value ready, like Go's
//   { std::lock_guard g(mu); ... }       // or mu.lock(); ... mu.unlock();
//
//   rt::WaitGroup wg;
//   for (int i = 0; i < n; i++) wg.go([i] { work(i); });
//   wg.wait();
//
//   rt::Once once;
//   once.call([] { init(); });
//
//   rt::Cond cond(mu);                   // any BasicLockable works
//   mu.lock(); while (!ready) cond.wait(); mu.unlock();
//
//   rt::Pool<Buffer> pool([] { return std::make_unique<Buffer>(); });
//   std::unique_ptr<Buffer> b = pool.get(); ...; pool.put(std::move(b));
//
// Blocking operations park the calling goroutine (its thread runs other
// goroutines meanwhile). Every type also works on plain threads that are
// not running a goroutine: there the thread itself blocks. Prefer these to
// std::mutex / std::condition_variable in goroutines: a std::mutex held by
// a goroutine that parks or is preempted blocks a whole thread (see
// docs/HAZARDS.md).
//
// None of the types is copyable or movable (Go forbids copying them after
// first use; here the rule is checked at compile time).
//
// Errors, as in Go:
//   - Mutex::unlock of an unlocked Mutex, RWMutex::unlock / runlock of an
//     unlocked RWMutex: fatal error ("fatal error: sync: unlock of unlocked
//     mutex", ...), exit status 2. Not catchable, as in Go.
//   - WaitGroup misuse (negative counter, add racing with wait, reuse before
//     wait returned): throws rt::Panic with Go's message.
#pragma once

#include <atomic>
#include <concepts>
#include <cstdint>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

#include "rt/panic.h"
#include "rt/sched.h"

// Calls user code from librt's templates. It must be a function outside
// namespace rt, and not inlined: the preemption signal handler treats code
// in functions of namespace rt as the runtime's and never preempts it, so a
// user loop inlined into an rt template would never be preempted
// asynchronously (sched/symtab.h).
namespace rt_sync_user {
template <typename F>
[[gnu::noinline]] void call(F& fn) {
  fn();
}
}  // namespace rt_sync_user

namespace rt {

// A mutual exclusion lock (Go's sync.Mutex). The zero value is unlocked; it
// can be constant-initialised. A locked Mutex is not tied to a goroutine:
// one goroutine may lock it and another unlock it. Not recursive.
//
// Fairness, as in Go: in normal mode a woken waiter competes with newly
// arriving lockers (which usually win: they are already running), and
// lockers spin briefly on multicore machines before parking. A waiter that
// has waited more than 1 ms switches the mutex to starvation mode, where
// unlock hands the mutex directly to the waiter at the head of the queue
// and newcomers queue at the tail without spinning; the mutex returns to
// normal mode when a waiter that receives it waited less than 1 ms or is
// the last waiter.
//
// Satisfies the standard Lockable requirements: std::lock_guard,
// std::unique_lock and std::scoped_lock work.
class Mutex {
 public:
  constexpr Mutex() noexcept = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  // Locks, parking the goroutine (or blocking the thread) while another
  // holder has it.
  void lock() {
    int32_t expected = 0;
    // acquire: the critical section must not float above the lock.
    if (state_.compare_exchange_strong(expected, kLocked, std::memory_order_acquire,
                                       std::memory_order_relaxed)) [[likely]]
      return;
    lock_slow();
  }

  // Locks if the mutex is free and not in starvation mode (Go's TryLock).
  // Correct uses are rare, as in Go.
  bool try_lock() noexcept;

  // Unlocks. Fatal error "sync: unlock of unlocked mutex" if not locked.
  void unlock() {
    // release: the critical section's writes are visible to the next owner.
    int32_t now = state_.fetch_sub(kLocked, std::memory_order_release) - kLocked;
    if (now != 0) [[unlikely]]
      unlock_slow(now);
  }

 private:
  static constexpr int32_t kLocked = 1;
  void lock_slow();
  void unlock_slow(int32_t now);

  // Go's state word: bit 0 locked, bit 1 woken, bit 2 starving, the number
  // of parked waiters above (state >> 3).
  std::atomic<int32_t> state_{0};
  // The semaphore the waiters park on (sched/sema.h).
  std::atomic<uint32_t> sema_{0};
};

// A type-erased reference to any BasicLockable (Go's sync.Locker): holds a
// pointer to the lock object, which must outlive it.
class Locker {
 public:
  template <typename L>
    requires(!std::same_as<std::remove_cvref_t<L>, Locker>) &&
            requires(L& l) {
              l.lock();
              l.unlock();
            }
  Locker(L& l) noexcept  // NOLINT: implicit on purpose, like a Go interface value
      : obj_(static_cast<void*>(std::addressof(l))),
        lock_([](void* p) { static_cast<L*>(p)->lock(); }),
        unlock_([](void* p) { static_cast<L*>(p)->unlock(); }) {}

  // From an object and the two operations on it.
  Locker(void* obj, void (*lock_fn)(void*), void (*unlock_fn)(void*)) noexcept
      : obj_(obj), lock_(lock_fn), unlock_(unlock_fn) {}

  void lock() const { lock_(obj_); }
  void unlock() const { unlock_(obj_); }

 private:
  void* obj_;
  void (*lock_)(void*);
  void (*unlock_)(void*);
};

// A reader/writer mutual exclusion lock (Go's sync.RWMutex): any number of
// readers or one writer. Writer-preferring: once a writer is waiting in
// lock(), new rlock() calls block until that writer has had the lock, so a
// stream of readers cannot starve a writer (and a reader must not rlock
// recursively: with a writer waiting between the two calls it deadlocks).
// At most 2^30 - 1 concurrent readers. The zero value is unlocked.
//
// Works with std::unique_lock / std::lock_guard (lock/unlock/try_lock) and
// std::shared_lock (lock_shared/unlock_shared/try_lock_shared).
class RWMutex {
 public:
  constexpr RWMutex() noexcept = default;
  RWMutex(const RWMutex&) = delete;
  RWMutex& operator=(const RWMutex&) = delete;

  // Write lock.
  void lock();
  bool try_lock() noexcept;
  // Fatal error "sync: Unlock of unlocked RWMutex" if not write-locked.
  void unlock();

  // Read lock.
  void rlock() {
    // acquire: pairs with the last writer's release in unlock().
    if (reader_count_.fetch_add(1, std::memory_order_acquire) + 1 < 0) [[unlikely]]
      rlock_slow();
  }
  bool try_rlock() noexcept;
  // Fatal error "sync: RUnlock of unlocked RWMutex" if not read-locked.
  void runlock() {
    // release: the reader's accesses happen before a waiting writer's.
    int32_t r = reader_count_.fetch_sub(1, std::memory_order_release) - 1;
    if (r < 0) [[unlikely]]
      runlock_slow(r);
  }

  void lock_shared() { rlock(); }
  bool try_lock_shared() noexcept { return try_rlock(); }
  void unlock_shared() { runlock(); }

  // A Locker whose lock/unlock are rlock/runlock (Go's RLocker).
  Locker rlocker() noexcept {
    return Locker(
        this, [](void* p) { static_cast<RWMutex*>(p)->rlock(); },
        [](void* p) { static_cast<RWMutex*>(p)->runlock(); });
  }

 private:
  void rlock_slow();
  void runlock_slow(int32_t r);

  Mutex w_;                                  // held by the writer (or a pending one)
  std::atomic<uint32_t> writer_sem_{0};      // the writer waits here for departing readers
  std::atomic<uint32_t> reader_sem_{0};      // readers wait here for the writer
  std::atomic<int32_t> reader_count_{0};     // readers; minus 2^30 while a writer is in
  std::atomic<int32_t> reader_wait_{0};      // readers the pending writer still waits for
};

// Waits for a collection of goroutines to finish (Go's sync.WaitGroup).
// add(n) before starting each batch of work, done() when a piece finishes,
// wait() blocks until the counter is zero. A WaitGroup may be reused once
// every wait() of the previous round has returned.
//
// Misuse throws rt::Panic with Go's messages:
//   "sync: negative WaitGroup counter",
//   "sync: WaitGroup misuse: Add called concurrently with Wait",
//   "sync: WaitGroup is reused before previous Wait has returned".
class WaitGroup {
 public:
  constexpr WaitGroup() noexcept = default;
  WaitGroup(const WaitGroup&) = delete;
  WaitGroup& operator=(const WaitGroup&) = delete;

  // Adds delta (which may be negative) to the counter; at zero, releases
  // every waiter. A positive delta that starts from zero must happen
  // before wait() is called.
  void add(int delta);
  void done() { add(-1); }
  void wait();

  // Go 1.25's WaitGroup.Go: add(1), then run fn on a new goroutine and call
  // done() when it returns. As in Go, fn must not throw: an exception that
  // escapes fn ends the process like a panic, and done() is deliberately
  // not called on that path, so wait() cannot return (and let the program
  // exit) before the panic is reported.
  template <typename F>
  void go(F&& fn) {
    add(1);
    rt::go([this, f = std::forward<F>(fn)]() mutable {
      rt_sync_user::call(f);
      done();
    });
  }

 private:
  // Counter in the high 32 bits (signed), waiter count in the low 32.
  std::atomic<uint64_t> state_{0};
  std::atomic<uint32_t> sema_{0};
};

// Runs a function exactly once (Go's sync.Once). Every call() returns after
// that one run has finished, so whatever it initialises is visible. If fn
// throws, the exception propagates to that caller and the Once still counts
// as done: later calls do not run their function (as in Go, where a
// panicking f counts as returned).
class Once {
 public:
  constexpr Once() noexcept = default;
  Once(const Once&) = delete;
  Once& operator=(const Once&) = delete;

  template <typename F>
  void call(F&& fn) {
    // acquire: pairs with the release store after fn ran, so fn's effects
    // are visible to callers that take the fast path.
    if (done_.load(std::memory_order_acquire) == 0) [[unlikely]]
      call_slow(std::forward<F>(fn));
  }

 private:
  template <typename F>
  [[gnu::noinline]] void call_slow(F&& fn) {
    struct Unlock {
      Mutex& m;
      ~Unlock() { m.unlock(); }
    };
    struct SetDone {
      std::atomic<uint32_t>& d;
      ~SetDone() { d.store(1, std::memory_order_release); }
    };
    m_.lock();
    Unlock unlock{m_};  // destroyed last: done is set before others get in
    if (done_.load(std::memory_order_relaxed) == 0) {
      SetDone set{done_};
      rt_sync_user::call(fn);
    }
  }

  std::atomic<uint32_t> done_{0};
  Mutex m_;
};

namespace detail {

struct NotifyWaiter;

// Go's notifyList (runtime/sema.go), the queue behind Cond: tickets instead
// of a plain queue, so that a signal wakes the longest waiter even if it
// has not parked yet. See sched/cond.cc.
struct NotifyList {
  NotifyList() noexcept;
  NotifyList(const NotifyList&) = delete;
  NotifyList& operator=(const NotifyList&) = delete;

  std::atomic<uint32_t> wait{0};    // ticket of the next waiter
  std::atomic<uint32_t> notify{0};  // ticket of the next waiter to wake
  // Storage of a runtime lock (an rt::detail::Lock, constructed by the
  // out-of-line constructor) guarding the fields below.
  alignas(4) unsigned char lock[4];
  NotifyWaiter* head = nullptr;
  NotifyWaiter* tail = nullptr;
};

uint32_t notify_list_add(NotifyList* l) noexcept;
void notify_list_wait(NotifyList* l, uint32_t ticket);
void notify_list_notify_one(NotifyList* l) noexcept;
void notify_list_notify_all(NotifyList* l) noexcept;

}  // namespace detail

// A condition variable (Go's sync.Cond) over any BasicLockable L (rt::Mutex,
// an RWMutex's rlocker(), ...), which must outlive the Cond.
//
// wait() must be called with L held: it releases L, parks until a signal()
// or broadcast() that comes after the wait began, and re-acquires L before
// returning. As in Go, wake-ups need not mean the condition holds; wait in
// a loop:
//
//   mu.lock();
//   while (!condition()) cond.wait();
//   ... use the condition ...
//   mu.unlock();
//
// signal() wakes the goroutine that has waited longest (if any); broadcast()
// wakes all current waiters. Neither requires holding L.
class Cond {
 public:
  explicit Cond(Locker l) noexcept : l_(l) {}
  Cond(const Cond&) = delete;  // Go's copyChecker, at compile time
  Cond& operator=(const Cond&) = delete;

  void wait() {
    uint32_t ticket = detail::notify_list_add(&notify_);
    l_.unlock();
    detail::notify_list_wait(&notify_, ticket);
    l_.lock();
  }
  void signal() noexcept { detail::notify_list_notify_one(&notify_); }
  void broadcast() noexcept { detail::notify_list_notify_all(&notify_); }

  // The lock (Go's c.L).
  Locker locker() const noexcept { return l_; }

 private:
  Locker l_;
  detail::NotifyList notify_;
};

namespace detail {

// The type-erased engine of Pool<T>: holds objects as void* and destroys
// them with `destroy`. See sched/pool.cc.
class PoolCore {
 public:
  explicit PoolCore(void (*destroy)(void*));
  ~PoolCore();  // destroys every object still held
  PoolCore(const PoolCore&) = delete;
  PoolCore& operator=(const PoolCore&) = delete;

  void* get() noexcept;      // nullptr if the pool is empty
  void put(void* x) noexcept;  // x != nullptr

  struct Impl;

 private:
  Impl* impl_;
};

// Go's poolCleanup, run at the start of every GC cycle: for every Pool in
// the process, the objects in the victim cache are destroyed and the
// primary cache becomes the victim cache. An object put in a Pool thus
// survives one call and is destroyed by the second (unless taken out).
// Destructors run on the calling thread, after the pools' locks are
// released. Safe to call concurrently with get/put.
void pool_cleanup();

}  // namespace detail

// A set of temporary objects that may be reused (Go's sync.Pool): a cache
// of allocated but unused objects that relieves the allocator. Objects are
// kept per processor (P), so get and put are cheap and rarely contend.
//
// get() returns an object from the calling P's cache, else one from another
// P's cache, else one from the victim cache (objects that survived one GC
// cycle), else a new one from the factory given to the constructor; with
// no factory, an empty pointer. put() gives an object back (an empty
// pointer is ignored). The pool owns the objects it holds: it destroys
// them when they are dropped by two GC cycles (detail::pool_cleanup) or
// when the Pool itself is destroyed. Reset an object's state before putting
// it back, or after getting it: get() may return any object of the pool.
//
// Outside goroutines (plain threads, which have no P) get and put use P 0's
// cache, which is safe, only less local.
//
// Each Pool costs about 8 KiB plus 128 bytes per P that has used it.
template <typename T>
class Pool {
 public:
  using Factory = std::function<std::unique_ptr<T>()>;

  Pool() : Pool(Factory{}) {}
  explicit Pool(Factory make) : core_(&destroy), make_(std::move(make)) {}
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  std::unique_ptr<T> get() {
    if (void* x = core_.get()) return std::unique_ptr<T>(static_cast<T*>(x));
    if (make_) return make_();
    return nullptr;
  }

  void put(std::unique_ptr<T> x) noexcept {
    if (x) core_.put(x.release());
  }

 private:
  static void destroy(void* p) { delete static_cast<T*>(p); }

  detail::PoolCore core_;
  Factory make_;
};

namespace detail {
// Number of times any Mutex has switched into starvation mode since the
// process started (diagnostics and tests).
uint64_t mutex_starvation_entries() noexcept;
}  // namespace detail

}  // namespace rt
