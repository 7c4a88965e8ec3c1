// rt::Ref<T>: a pointer stored inside a GC'd object.
//
// A Ref is what makes the heap scannable without Trace methods: its
// constructor tells the collector where it lives (gc/typeinfo.cc), so the
// first rt::make of a type records the type's pointer map. Every store goes
// through rt::detail::ref_store, an out-of-line librt function: the write
// barrier's hook (a no-op check today; the hybrid barrier will shade the old
// and new targets there). Keeping the store inside librt code means the
// barrier's flag test and the store can never be split by a stop-the-world:
// the preemption signal never stops code in namespace rt.
//
// Where a Ref may live: inside an object made by rt::make (the normal case)
// or on a goroutine's stack (a local; scanned conservatively anyway).
// Anywhere else (globals, malloc'd memory, std::vector, a plain thread's
// stack) the collector cannot see it: its construction is a fatal error that
// points at rt::Root.
#pragma once

#include <compare>
#include <cstddef>
#include <type_traits>

namespace rt {

namespace detail {
// Called by every Ref constructor with the Ref's address (gc/typeinfo.cc).
void ref_constructed(void* ref_addr);
// The barriered store: *slot = value. Today: the plain-thread gate while a
// collection runs, then the store (gc/barrier.cc).
void ref_store(void** slot, void* value);
}  // namespace detail

template <typename T>
class Ref {
 public:
  Ref() noexcept { detail::ref_constructed(this); }
  Ref(std::nullptr_t) noexcept { detail::ref_constructed(this); }
  Ref(T* p) noexcept {  // NOLINT: implicit, like a raw pointer
    detail::ref_constructed(this);
    if (p) store(p);
  }
  Ref(const Ref& o) noexcept : Ref(o.get()) {}
  template <typename U, typename = std::enable_if_t<std::is_convertible_v<U*, T*>>>
  Ref(const Ref<U>& o) noexcept : Ref(static_cast<T*>(o.get())) {}
  // Trivial destructor: a type made only of Refs and trivial members stays
  // trivially destructible (no destructor thunk at sweep).
  ~Ref() = default;

  Ref& operator=(const Ref& o) noexcept {
    store(o.get());
    return *this;
  }
  Ref& operator=(T* p) noexcept {
    store(p);
    return *this;
  }
  Ref& operator=(std::nullptr_t) noexcept {
    store(nullptr);
    return *this;
  }
  template <typename U, typename = std::enable_if_t<std::is_convertible_v<U*, T*>>>
  Ref& operator=(const Ref<U>& o) noexcept {
    store(static_cast<T*>(o.get()));
    return *this;
  }

  T* get() const noexcept { return p_; }
  T* operator->() const noexcept { return p_; }
  T& operator*() const noexcept { return *p_; }
  explicit operator bool() const noexcept { return p_ != nullptr; }

  friend bool operator==(const Ref& a, const Ref& b) noexcept { return a.p_ == b.p_; }
  friend bool operator==(const Ref& a, const T* b) noexcept { return a.p_ == b; }
  friend bool operator==(const Ref& a, std::nullptr_t) noexcept { return a.p_ == nullptr; }
  friend auto operator<=>(const Ref& a, const Ref& b) noexcept { return a.p_ <=> b.p_; }

 private:
  void store(T* p) noexcept {
    detail::ref_store(reinterpret_cast<void**>(&p_), const_cast<std::remove_cv_t<T>*>(p));
  }
  T* p_ = nullptr;
};

}  // namespace rt
