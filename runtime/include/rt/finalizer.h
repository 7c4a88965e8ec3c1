// rt::set_finalizer: Go's runtime.SetFinalizer for GC'd objects.
//
// set_finalizer(p, fn) asks the collector to call fn(p) on the finalizer
// goroutine once p's object is found unreachable; the object is then kept
// (with everything it reaches) until fn has run, and freed by a later
// collection if it is still unreachable (its destructor runs then). Weak
// pointers to it are cleared before fn is queued. Objects reachable from a
// finalizable object stay alive while it is registered, so a cycle of
// finalizable objects is never collected (as in Go). fn runs once; setting
// a finalizer again inside it re-arms it. set_finalizer(p, nullptr)
// removes p's finalizer.
//
// p must point at the start of an object made by rt::make / make_array
// ("runtime.SetFinalizer: pointer not at beginning of allocated block"
// otherwise); setting a second finalizer is a fatal error ("finalizer
// already set"). fn's captures are scanned as roots while it is registered
// or queued. An exception escaping fn is a panic, as on any goroutine.
#pragma once

#include <cstddef>
#include <type_traits>
#include <utility>

namespace rt {

namespace detail {
// Registers run(obj, ctx) for obj; ctx (ctx_size bytes, heap-owned) is
// released with destroy_ctx after the run or on removal (gc/finalizer.cc).
void finalizer_set(void* obj, void (*run)(void* obj, void* ctx), void* ctx, size_t ctx_size,
                   void (*destroy_ctx)(void* ctx));
void finalizer_remove(void* obj);
}  // namespace detail

template <typename T, typename F>
void set_finalizer(T* p, F&& fn) {
  using D = std::decay_t<F>;
  static_assert(std::is_invocable_v<D&, T*>, "rt::set_finalizer: fn must be callable with T*");
  D* ctx = new D(std::forward<F>(fn));
  detail::finalizer_set(
      const_cast<std::remove_cv_t<T>*>(p), [](void* obj, void* c) { (*static_cast<D*>(c))(static_cast<T*>(obj)); },
      ctx, sizeof(D), [](void* c) { delete static_cast<D*>(c); });
}

template <typename T>
void set_finalizer(T* p, std::nullptr_t) {
  detail::finalizer_remove(const_cast<std::remove_cv_t<T>*>(p));
}

}  // namespace rt
