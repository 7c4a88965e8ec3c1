// A group of goroutines working on subtasks of one task, after
// golang.org/x/sync/errgroup: wait for all of them, keep the first error,
// and optionally cancel a shared Context when one fails.
//
//   auto [g, ctx] = rt::Group::with_context(parent);
//   for (auto& url : urls)
//     g.go([&, ctx = ctx] { fetch(ctx, url); });   // may throw
//   if (std::exception_ptr err = g.wait()) std::rethrow_exception(err);
//
// Errors are std::exception_ptr, the C++ value that carries any error. A
// task is a callable taking no arguments that returns either void or
// std::exception_ptr: it fails if it returns a non-null exception_ptr or if
// an exception escapes it (which is then its error; nothing ends the
// process). The first failure is the group's error; later ones are dropped.
// wait() returns that error (nullptr if every task succeeded) rather than
// rethrowing it, as Go's Wait returns one; rethrow it with
// std::rethrow_exception. The caller of wait() sees everything the tasks did.
//
// With with_context(parent), the group owns a child of parent that is
// cancelled (rt::ContextError::kCanceled) the first time a task fails or
// the first time wait() returns, whichever comes first.
//
// set_limit(n) bounds the number of active tasks: go() blocks while n are
// active, try_go() then returns false without starting fn. A negative n
// removes the bound. Changing the limit while tasks are active throws
// rt::Panic("errgroup: modify limit while N goroutines in the group are
// still active"), as Go panics; with set_limit(0), go() blocks for good.
//
// A Group may be used from goroutines and plain threads, and tasks may
// start more tasks in their own group (go() from inside a task; mind the
// limit). Not copyable or movable. Unlike Go (whose collector keeps a
// Group alive), destroying a Group that still has running tasks first
// cancels its context, then waits for them, so no task outlives it (its
// error is then dropped). Each task's callable is destroyed before the task
// counts as finished.
#pragma once

#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include "rt/chan.h"
#include "rt/context.h"
#include "rt/sched.h"
#include "rt/sync.h"

// Calls a task's function. It must be a function outside namespace rt, and
// not inlined: the preemption signal handler never preempts code in
// functions of namespace rt, so a user loop inlined into one would never be
// preempted asynchronously (same as rt_sync_user in <rt/sync.h>).
namespace rt_errgroup_user {
template <typename F>
[[gnu::noinline]] decltype(auto) call(F& fn) {
  return fn();
}
}  // namespace rt_errgroup_user

namespace rt {

namespace detail {

// Runs a task's function and turns its outcome into its error.
template <typename F>
std::exception_ptr run_group_task(F& fn) noexcept {
  using R = std::invoke_result_t<F&>;
  static_assert(std::is_void_v<R> || std::is_convertible_v<R, std::exception_ptr>,
                "a Group task returns void or std::exception_ptr");
  try {
    if constexpr (std::is_void_v<R>) {
      rt_errgroup_user::call(fn);
      return nullptr;
    } else {
      return rt_errgroup_user::call(fn);
    }
  } catch (...) {
    return std::current_exception();
  }
}

}  // namespace detail

class Group {
 public:
  struct WithContext;

  // A group without a context.
  Group() noexcept = default;
  // A group and its derived context (see the top of this header):
  //   auto [g, ctx] = rt::Group::with_context(parent);
  static WithContext with_context(const Context& parent);

  Group(const Group&) = delete;
  Group& operator=(const Group&) = delete;
  // Cancels the group's context and waits for the tasks still running.
  ~Group();

  // Runs fn on a new goroutine; blocks first while the limit is reached.
  template <typename F>
  void go(F&& fn) {
    Chan<Unit> slot = sem_;  // the limit in force when the task started
    if (slot) slot.send(Unit{});
    start(std::forward<F>(fn), std::move(slot));
  }

  // Like go(), but returns false (fn not started) if the limit is reached.
  template <typename F>
  bool try_go(F&& fn) {
    Chan<Unit> slot = sem_;
    if (slot && !slot.try_send(Unit{})) return false;
    start(std::forward<F>(fn), std::move(slot));
    return true;
  }

  // Waits for every task started so far, cancels the group's context, and
  // returns the first error (nullptr if none). May be called again.
  [[nodiscard]] std::exception_ptr wait();

  // At most n active tasks (n < 0: no limit). Throws rt::Panic if tasks are
  // active (see the top of this header).
  void set_limit(int n);

 private:
  explicit Group(CancelFunc cancel) noexcept : cancel_(std::move(cancel)) {}

  template <typename F>
  void start(F&& fn, Chan<Unit> slot) {
    using D = std::decay_t<F>;
    wg_.add(1);
    rt::go([this, slot = std::move(slot), f = std::optional<D>(std::forward<F>(fn))]() mutable {
      std::exception_ptr err = detail::run_group_task(*f);
      // Destroy the task's captures now: once finish() counts it done, the
      // waiter (and whatever the captures refer to) may be gone.
      f.reset();
      finish(std::move(err), slot);
    });
  }

  // Records err (if the first), frees the task's slot, counts it done. The
  // group may be destroyed as soon as this returns.
  void finish(std::exception_ptr err, Chan<Unit>& slot) noexcept;

  CancelFunc cancel_;       // cancels the derived context; a no-op without one
  WaitGroup wg_;            // active tasks
  Once err_once_;           // the first failure stores err_ and cancels
  std::exception_ptr err_;  // written once, under err_once_; read after wg_.wait()
  // The limit: a buffered channel with one slot per allowed active task
  // (Go's semaphore channel); nil without a limit. Each task keeps its own
  // reference, so set_limit never pulls the channel from under a task.
  Chan<Unit> sem_;
};

struct Group::WithContext {
  Group group;
  Context ctx;
};

}  // namespace rt
