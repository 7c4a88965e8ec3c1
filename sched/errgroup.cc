// rt::Group: x/sync/errgroup's Group (see rt/errgroup.h), the parts that
// are not templates.
//
// A task's life: go() takes a slot of the limit channel if there is one
// (a blocking send; try_go's is non-blocking), wg_.add(1), then a new
// goroutine runs the function, turns its result or escaping exception into
// an exception_ptr, destroys the function, and finish()es: the first error
// goes into err_ under err_once_, which also cancels the derived context at
// that moment; then the slot is freed (a receive) and wg_.done(). wait() is
// wg_.wait(), then the cancellation Go's Wait does, then err_.
//
// Ordering: err_ is written inside err_once_ by a task before its
// wg_.done(), and read by wait() after wg_.wait() returns, so the
// WaitGroup's release/acquire orders the write before the read (and Once
// makes the write happen at most once). After wg_.done() a task touches
// nothing of the group: the group may already be destroyed; its slot
// channel stays alive through the task's own reference.
#include <string>

#include "rt/errgroup.h"
#include "rt/panic.h"

namespace rt {

Group::WithContext Group::with_context(const Context& parent) {
  auto [ctx, cancel] = with_cancel(parent);
  return WithContext{Group(std::move(cancel)), std::move(ctx)};
}

Group::~Group() {
  // Tasks still running (wait() not called, e.g. unwinding from an
  // exception): tell them to stop through the context, then let them end.
  cancel_();
  wg_.wait();
}

void Group::finish(std::exception_ptr err, Chan<Unit>& slot) noexcept {
  if (err) {
    err_once_.call([&] {
      err_ = std::move(err);
      cancel_();
    });
  }
  if (slot) slot.recv();  // our own token: never blocks
  wg_.done();
}

std::exception_ptr Group::wait() {
  wg_.wait();
  cancel_();
  return err_;
}

void Group::set_limit(int n) {
  if (n < 0) {
    sem_ = Chan<Unit>();
    return;
  }
  if (size_t active = sem_.len(); active != 0) {
    throw Panic("errgroup: modify limit while " + std::to_string(active) +
                " goroutines in the group are still active");
  }
  sem_ = make_chan<Unit>(static_cast<size_t>(n));
}

}  // namespace rt
