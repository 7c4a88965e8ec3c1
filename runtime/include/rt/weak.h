// rt::Weak<T>: a pointer that does not keep its target alive (Go's
// weak.Pointer).
//
// lock() returns the target while it is reachable through strong
// references (Refs, Roots, goroutine stacks), and nullptr once a collection
// has found it unreachable: weak pointers are cleared after marking and
// before the object's finalizer (if any) is queued or its slot freed, so a
// cleared Weak never sees a resurrected or reused object. While the
// collector marks, lock() shades the target (the caller now holds a strong
// pointer the collector may not have seen); while it sweeps, a target left
// unmarked reads as already gone.
//
// Each Weak registers a node in the collector's weak table (gc/weak.cc) for
// its whole life and keeps the target's address hidden (complemented), so
// conservative scanning of the stack or object that holds the Weak never
// mistakes it for a strong reference. Usable from any thread, and inside
// GC'd objects (its destructor unregisters it when the sweeper frees them).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace rt {

namespace detail {
// An entry of the weak table: the hidden target (~address; ~0 when null or
// cleared) and the table's links, hidden the same way (gc/weak.cc): nodes
// may sit inside GC'd objects, and a plain link would make a conservative
// scan keep the neighbouring node's object alive.
struct WeakNode {
  std::atomic<uintptr_t> hidden{~uintptr_t{0}};
  uintptr_t prev_hidden = ~uintptr_t{0};
  uintptr_t next_hidden = ~uintptr_t{0};
};
void weak_register(WeakNode* n, void* target);
void weak_unregister(WeakNode* n);
void* weak_lock(const WeakNode* n);
}  // namespace detail

template <typename T>
class Weak {
 public:
  Weak() noexcept { detail::weak_register(&node_, nullptr); }
  Weak(std::nullptr_t) noexcept : Weak() {}
  explicit Weak(T* p) noexcept { detail::weak_register(&node_, const_cast<std::remove_cv_t<T>*>(p)); }
  Weak(const Weak& o) noexcept : Weak(o.lock()) {}
  Weak& operator=(const Weak& o) noexcept {
    if (this != &o) {
      detail::weak_unregister(&node_);
      detail::weak_register(&node_, const_cast<std::remove_cv_t<T>*>(o.lock()));
    }
    return *this;
  }
  ~Weak() { detail::weak_unregister(&node_); }

  // The target, or nullptr if there is none or it was collected.
  T* lock() const noexcept { return static_cast<T*>(detail::weak_lock(&node_)); }
  bool expired() const noexcept { return lock() == nullptr; }

 private:
  detail::WeakNode node_;
};

}  // namespace rt
