// rt::Root<T>: a GC pointer held from outside the GC heap.
//
// Globals, malloc'd memory, plain (non-goroutine) threads and containers
// such as std::vector are invisible to the collector; a pointer kept there
// must be a Root. Each Root registers itself in the global root set
// (gc/roots.cc) for its whole life, so whatever it points at survives every
// collection. Roots are usable from any thread; moving one hands its target
// to the new Root and leaves the source null. Stores go through the same
// barriered store as Ref's.
#pragma once

#include <cstddef>
#include <type_traits>

#include "rt/ref.h"

namespace rt {

namespace detail {
// An entry of the root set: the pointer and the links (gc/roots.cc).
struct RootNode {
  void* ptr = nullptr;
  RootNode* prev = nullptr;
  RootNode* next = nullptr;
};
void root_register(RootNode* n);
void root_unregister(RootNode* n);
}  // namespace detail

template <typename T>
class Root {
 public:
  Root() noexcept { detail::root_register(&node_); }
  Root(std::nullptr_t) noexcept : Root() {}
  Root(T* p) noexcept : Root() { set(p); }  // NOLINT: implicit, like a raw pointer
  Root(const Ref<T>& r) noexcept : Root(r.get()) {}  // NOLINT
  Root(const Root& o) noexcept : Root(o.get()) {}
  Root(Root&& o) noexcept : Root(o.get()) { o.set(nullptr); }
  ~Root() { detail::root_unregister(&node_); }

  Root& operator=(const Root& o) noexcept {
    set(o.get());
    return *this;
  }
  Root& operator=(Root&& o) noexcept {
    if (this != &o) {
      set(o.get());
      o.set(nullptr);
    }
    return *this;
  }
  Root& operator=(T* p) noexcept {
    set(p);
    return *this;
  }
  Root& operator=(std::nullptr_t) noexcept {
    set(nullptr);
    return *this;
  }

  T* get() const noexcept { return static_cast<T*>(node_.ptr); }
  T* operator->() const noexcept { return get(); }
  T& operator*() const noexcept { return *get(); }
  explicit operator bool() const noexcept { return node_.ptr != nullptr; }
  void reset() noexcept { set(nullptr); }

  friend bool operator==(const Root& a, const Root& b) noexcept { return a.get() == b.get(); }
  friend bool operator==(const Root& a, const T* b) noexcept { return a.get() == b; }
  friend bool operator==(const Root& a, std::nullptr_t) noexcept { return a.get() == nullptr; }

 private:
  void set(T* p) noexcept { detail::ref_store(&node_.ptr, const_cast<std::remove_cv_t<T>*>(p)); }
  detail::RootNode node_;
};

}  // namespace rt
