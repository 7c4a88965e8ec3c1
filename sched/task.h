// Task: the callable a goroutine runs. A move-only, type-erased void()
// function with a small inline buffer, so spawning a goroutine whose lambda
// captures a few words allocates nothing beyond the G itself.
#pragma once

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

namespace rt::sched {

class Task {
 public:
  static constexpr size_t kInline = 48;

  Task() = default;
  template <typename F, typename D = std::decay_t<F>,
            typename = std::enable_if_t<!std::is_same_v<D, Task> && std::is_invocable_v<D&>>>
  Task(F&& f) {  // NOLINT: implicit on purpose, like std::function
    if constexpr (sizeof(D) <= kInline && alignof(D) <= alignof(std::max_align_t) &&
                  std::is_nothrow_move_constructible_v<D>) {
      new (buf_) D(std::forward<F>(f));
      ops_ = &inline_ops<D>;
    } else {
      *reinterpret_cast<D**>(buf_) = new D(std::forward<F>(f));
      ops_ = &heap_ops<D>;
    }
  }
  Task(Task&& o) noexcept { take(o); }
  Task& operator=(Task&& o) noexcept {
    if (this != &o) {
      reset();
      take(o);
    }
    return *this;
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  ~Task() { reset(); }

  explicit operator bool() const { return ops_ != nullptr; }
  // Where the callable's captures live (the inline buffer or its heap
  // block), for the collector's conservative scan; {nullptr, 0} if empty.
  const void* captures_begin() const {
    if (!ops_) return nullptr;
    return ops_->heap_size ? *reinterpret_cast<void* const*>(buf_) : buf_;
  }
  size_t captures_size() const { return !ops_ ? 0 : ops_->heap_size ? ops_->heap_size : kInline; }
  void operator()() { ops_->invoke(buf_); }
  void reset() {
    if (ops_) ops_->destroy(buf_);
    ops_ = nullptr;
  }

 private:
  struct Ops {
    void (*invoke)(void*);
    void (*destroy)(void*);
    void (*move)(void* dst, void* src);  // move-construct dst from src, destroy src
    size_t heap_size;  // sizeof the callable when on the heap, else 0
  };
  template <typename D>
  static constexpr Ops inline_ops = {
      [](void* p) { (*static_cast<D*>(p))(); },
      [](void* p) { static_cast<D*>(p)->~D(); },
      [](void* dst, void* src) {
        new (dst) D(std::move(*static_cast<D*>(src)));
        static_cast<D*>(src)->~D();
      },
      0};
  template <typename D>
  static constexpr Ops heap_ops = {
      [](void* p) { (**static_cast<D**>(p))(); },
      [](void* p) { delete *static_cast<D**>(p); },
      [](void* dst, void* src) { *static_cast<D**>(dst) = *static_cast<D**>(src); },
      sizeof(D)};

  void take(Task& o) {
    ops_ = o.ops_;
    if (ops_) ops_->move(buf_, o.buf_);
    o.ops_ = nullptr;
  }

  alignas(std::max_align_t) unsigned char buf_[kInline];
  const Ops* ops_ = nullptr;
};

}  // namespace rt::sched
