// Context, after Go's context package: cancellation, deadlines and
// request-scoped values, carried down a tree of contexts.
//
//   auto [ctx, cancel] = rt::with_timeout(rt::Context::background(), 100ms);
//   rt::select(rt::recv_case(results, ...),
//              rt::recv_case(ctx.done(), [&] { /* ctx.err() says why */ }));
//   cancel();
//
// Cancelling a context closes its done() channel, cancels every context
// derived from it, and detaches it from its parent. A deadline cancels it
// with kDeadlineExceeded when it passes; a derived context never outlives
// its parent's deadline. Contexts are cheap shared references; they may be
// used from any goroutine or thread.
#pragma once

#include <any>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <utility>

#include "rt/chan.h"
#include "rt/time.h"

namespace rt {

struct Unit {};

enum class ContextError { kNone, kCanceled, kDeadlineExceeded };
// "context canceled" / "context deadline exceeded" (Go's messages).
const char* context_error_string(ContextError e);

namespace detail {
struct ContextImpl;
}

class Context {
 public:
  // The root: never cancelled, no deadline, no values.
  static Context background();
  static Context todo() { return background(); }

  // Closed when the context is cancelled. The root's is the nil channel
  // (never ready).
  Chan<Unit> done() const;
  // kNone while not cancelled; then why.
  ContextError err() const;
  std::optional<Time> deadline() const;
  // The value stored under `key` by with_value here or in an ancestor.
  const std::any* value(const void* key) const;
  template <typename T>
  const T* value_as(const void* key) const {
    const std::any* v = value(key);
    return v ? std::any_cast<T>(v) : nullptr;
  }

  Context() : Context(background()) {}
  explicit Context(std::shared_ptr<detail::ContextImpl> impl) : impl_(std::move(impl)) {}
  const std::shared_ptr<detail::ContextImpl>& impl() const { return impl_; }

 private:
  std::shared_ptr<detail::ContextImpl> impl_;
};

// Cancels its context (idempotent; safe from any goroutine or thread).
class CancelFunc {
 public:
  CancelFunc() = default;
  explicit CancelFunc(std::shared_ptr<detail::ContextImpl> impl) : impl_(std::move(impl)) {}
  void operator()() const;

 private:
  std::shared_ptr<detail::ContextImpl> impl_;
};

std::pair<Context, CancelFunc> with_cancel(const Context& parent);
std::pair<Context, CancelFunc> with_deadline(const Context& parent, Time deadline);
std::pair<Context, CancelFunc> with_timeout(const Context& parent, std::chrono::nanoseconds d);
// A child carrying key -> value (keys are addresses of objects you own, as
// Go's unexported key types).
Context with_value(const Context& parent, const void* key, std::any value);

namespace detail {
// For tests: how many cancelable contexts are registered as children of
// ctx's nearest cancelable ancestor-or-self (0 when it has none). A child
// leaves that set when it is cancelled or destroyed.
size_t context_children(const Context& ctx);
}  // namespace detail

}  // namespace rt
