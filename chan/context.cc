// Contexts. See rt/context.h.
//
// Each cancelable context has a lock (a runtime Lock: cancellation may run
// on a timer, on the scheduler stack, where goroutine-parking locks are not
// allowed), its done channel, its error and the set of cancelable children
// registered with it. Value contexts are links in the chain, and register
// their cancelable descendants with their nearest cancelable ancestor.
//
// Lock order: a parent's lock before a child's (cancel() cancels children
// while holding its own lock, nesting down the tree).
// Lifetime: a parent's child list holds plain pointers; a child removes
// itself from its parent when it is cancelled or destroyed, under the
// parent's lock, so the parent never sees a dead child. A deadline timer's
// argument is the context itself; the destructor stops the timer (waiting
// out a run in progress) before anything goes.
#include <algorithm>
#include <vector>

#include "chan/hchan.h"
#include "rt/context.h"
#include "runtime/lock.h"
#include "sched/proc.h"
#include "sched/timers.h"

namespace rt {

namespace detail {

struct ContextImpl {
  std::shared_ptr<ContextImpl> parent;
  bool cancelable = false;
  // Cancelable state.
  rt::detail::Lock lock;
  Chan<Unit> done;
  ContextError err = ContextError::kNone;   // guarded by lock
  std::vector<ContextImpl*> children;       // guarded by lock
  ContextImpl* registered_with = nullptr;   // guarded by that context's lock
  std::optional<Time> deadline;
  rt::sched::Timer timer;
  // Set by with_deadline after the context is registered with its parent,
  // whose cancel may read it from another goroutine: atomic. The timer's
  // fields are written before it (release) and read after it (acquire).
  // A cancel that reads false set err before with_deadline checks err
  // under the lock, so the timer is then never added.
  std::atomic<bool> timer_armed{false};
  // Value state.
  const void* key = nullptr;
  std::any value;

  ~ContextImpl();
  void cancel(ContextError e, bool detach);
  // The nearest ancestor-or-self that can be cancelled, or nullptr.
  ContextImpl* cancel_owner() {
    for (ContextImpl* c = this; c; c = c->parent.get())
      if (c->cancelable) return c;
    return nullptr;
  }
};

namespace {

void unregister(ContextImpl* child) {
  // The parent pointer cannot change; registered_with is read under the
  // parent's lock.
  ContextImpl* owner = child->parent ? child->parent->cancel_owner() : nullptr;
  if (!owner) return;
  rt::detail::LockGuard g(owner->lock);
  if (child->registered_with != owner) return;
  auto& v = owner->children;
  v.erase(std::remove(v.begin(), v.end(), child), v.end());
  child->registered_with = nullptr;
}

void deadline_fired(void* arg, int64_t) {
  static_cast<ContextImpl*>(arg)->cancel(ContextError::kDeadlineExceeded, true);
}

}  // namespace

ContextImpl::~ContextImpl() {
  if (timer_armed.load(std::memory_order_acquire)) rt::sched::stop_timer(&timer, /*wait_running=*/true);
  if (cancelable) unregister(this);
}

void ContextImpl::cancel(ContextError e, bool detach) {
  {
    rt::detail::LockGuard g(lock);
    if (err != ContextError::kNone) return;
    err = e;
    // Children are cancelled under our lock: a child being destroyed
    // concurrently waits for it in unregister(), so none dies under us.
    for (ContextImpl* k : children) {
      k->registered_with = nullptr;
      k->cancel(e, /*detach=*/false);
    }
    children.clear();
  }
  done.close();
  if (detach) unregister(this);
  if (timer_armed.load(std::memory_order_acquire)) rt::sched::stop_timer(&timer, /*wait_running=*/false);
}

namespace {

std::shared_ptr<ContextImpl> new_cancelable(const Context& parent) {
  auto c = std::make_shared<ContextImpl>();
  c->parent = parent.impl();
  c->cancelable = true;
  c->done = make_chan<Unit>();
  // Inherit the parent's deadline for deadline().
  c->deadline = parent.deadline();
  // Register with the nearest cancelable ancestor, or inherit its state.
  if (ContextImpl* owner = parent.impl()->cancel_owner()) {
    ContextError perr;
    {
      rt::detail::LockGuard g(owner->lock);
      perr = owner->err;
      if (perr == ContextError::kNone) {
        owner->children.push_back(c.get());
        c->registered_with = owner;
      }
    }
    if (perr != ContextError::kNone) c->cancel(perr, false);
  }
  return c;
}

std::shared_ptr<ContextImpl>& root() {
  static std::shared_ptr<ContextImpl>* r = new std::shared_ptr<ContextImpl>(std::make_shared<ContextImpl>());
  return *r;
}

}  // namespace

}  // namespace detail

const char* context_error_string(ContextError e) {
  switch (e) {
    case ContextError::kNone: return "";
    case ContextError::kCanceled: return "context canceled";
    case ContextError::kDeadlineExceeded: return "context deadline exceeded";
  }
  return "";
}

Context Context::background() { return Context(detail::root()); }

Chan<Unit> Context::done() const {
  detail::ContextImpl* c = impl_->cancel_owner();
  return c ? c->done : Chan<Unit>();
}

ContextError Context::err() const {
  detail::ContextImpl* c = impl_->cancel_owner();
  if (!c) return ContextError::kNone;
  rt::detail::LockGuard g(c->lock);
  return c->err;
}

std::optional<Time> Context::deadline() const {
  for (detail::ContextImpl* c = impl_.get(); c; c = c->parent.get())
    if (c->cancelable) return c->deadline;
  return std::nullopt;
}

const std::any* Context::value(const void* key) const {
  for (detail::ContextImpl* c = impl_.get(); c; c = c->parent.get())
    if (c->key == key && key != nullptr) return &c->value;
  return nullptr;
}

void CancelFunc::operator()() const {
  if (impl_) impl_->cancel(ContextError::kCanceled, /*detach=*/true);
}

std::pair<Context, CancelFunc> with_cancel(const Context& parent) {
  auto c = detail::new_cancelable(parent);
  return {Context(c), CancelFunc(c)};
}

std::pair<Context, CancelFunc> with_deadline(const Context& parent, Time d) {
  std::optional<Time> pd = parent.deadline();
  if (pd && *pd <= d) return with_cancel(parent);  // the parent's comes first
  auto c = detail::new_cancelable(parent);
  c->deadline = d;
  auto left = d - Clock::now();
  if (left <= Clock::duration::zero()) {
    c->cancel(ContextError::kDeadlineExceeded, true);
  } else {
    c->timer.when = rt::sched::nanotime() +
                    std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
    c->timer.f = detail::deadline_fired;
    c->timer.arg = c.get();
    c->timer_armed.store(true, std::memory_order_seq_cst);
    bool cancelled;
    {
      rt::detail::LockGuard g(c->lock);
      cancelled = c->err != ContextError::kNone;
    }
    if (!cancelled) rt::sched::add_timer(&c->timer);
  }
  return {Context(c), CancelFunc(c)};
}

std::pair<Context, CancelFunc> with_timeout(const Context& parent, std::chrono::nanoseconds d) {
  return with_deadline(parent, Clock::now() + std::chrono::duration_cast<Clock::duration>(d));
}

size_t detail::context_children(const Context& ctx) {
  detail::ContextImpl* c = ctx.impl()->cancel_owner();
  if (!c) return 0;
  rt::detail::LockGuard g(c->lock);
  return c->children.size();
}

Context with_value(const Context& parent, const void* key, std::any value) {
  auto c = std::make_shared<detail::ContextImpl>();
  c->parent = parent.impl();
  c->key = key;
  c->value = std::move(value);
  return Context(c);
}

}  // namespace rt
