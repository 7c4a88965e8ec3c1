// Channels and select, with Go's semantics.
//
//   rt::Chan<int> ch = rt::make_chan<int>(16);   // buffered; make_chan<int>() unbuffered
//   ch.send(1);                 // blocks while full; throws rt::Panic if closed
//   int v = ch.recv();          // blocks while empty; T{} once closed and drained
//   auto [w, ok] = ch.recv2();  // ok == false: closed and drained
//   ch.close();
//   for (int x : ch) { ... }    // receives until closed
//
//   rt::select(rt::recv_case(a, [](int v, bool ok) { ... }),
//              rt::send_case(b, 42, [] { ... }),
//              rt::default_case([] { ... }));   // returns the index that fired
//
// Chan<T> is a reference: copies share one channel; a default-constructed
// Chan is the nil channel (send and receive block forever, close panics).
// T may be move-only. Blocking operations park the goroutine; on a thread
// that is not running a goroutine they block the thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "rt/panic.h"

namespace rt {

namespace detail {

struct ChanCore;  // the runtime's hchan (chan/hchan.h)

// How the runtime moves and destroys elements it does not know the type of.
struct ElemOps {
  size_t size;
  size_t align;
  // Whether an element may hold a pointer to a GC'd object: then the
  // collector scans the buffer's elements and shades every element the
  // channel moves while it marks (chan/chanscan.cc).
  bool may_hold_pointers;
  void (*move_construct)(void* dst, void* src);  // src stays valid (moved-from)
  void (*destroy)(void* p);
};

template <typename T>
inline constexpr ElemOps kElemOps = {
    sizeof(T), alignof(T), !(std::is_arithmetic_v<T> || std::is_enum_v<T>),
    [](void* d, void* s) { new (d) T(std::move(*static_cast<T*>(s))); },
    [](void* p) { static_cast<T*>(p)->~T(); }};

ChanCore* chan_make(const ElemOps* ops, size_t cap);
void chan_retain(ChanCore* c);
void chan_release(ChanCore* c);
// Sends *elem (moving from it only if sent). Returns false if !block and the
// send would block. Throws Panic if the channel is closed.
bool chan_send(ChanCore* c, void* elem, bool block);
// Receives into uninitialized storage `out`. *received is true if a value
// was constructed there, false if the channel is closed and drained.
// Returns false if !block and the receive would block.
bool chan_recv(ChanCore* c, void* out, bool block, bool* received);
void chan_close(ChanCore* c);
size_t chan_len(const ChanCore* c);
size_t chan_cap(const ChanCore* c);

struct SelectCase {
  ChanCore* c;
  void* elem;     // send: the value; receive: uninitialized storage
  bool is_send;
  bool received;  // out: for receive cases, whether a value was stored
};
// Go's selectgo: runs one ready case (chosen at random among the ready
// ones), or, if none is ready, the default (returns -1) when has_default,
// else blocks until one is. Returns the index of the case that ran.
int select_impl(SelectCase* cases, int n, bool has_default);

}  // namespace detail

template <typename T>
class Chan {
 public:
  using value_type = T;

  Chan() = default;  // nil channel
  Chan(const Chan& o) : c_(o.c_) {
    if (c_) detail::chan_retain(c_);
  }
  Chan(Chan&& o) noexcept : c_(o.c_) { o.c_ = nullptr; }
  Chan& operator=(Chan o) noexcept {
    std::swap(c_, o.c_);
    return *this;
  }
  ~Chan() {
    if (c_) detail::chan_release(c_);
  }

  void send(T v) { detail::chan_send(c_, &v, true); }
  // Non-blocking send; v is moved from only if it was sent.
  bool try_send(T& v) { return detail::chan_send(c_, &v, false); }
  bool try_send(T&& v) { return detail::chan_send(c_, &v, false); }

  // Receives a value; T{} once the channel is closed and drained.
  T recv() {
    static_assert(std::is_default_constructible_v<T>, "recv() needs a default-constructible T; use recv_opt()");
    auto [v, ok] = recv2();
    return std::move(v);
  }
  // Receives a value and whether it came from a send (false: closed).
  std::pair<T, bool> recv2() {
    static_assert(std::is_default_constructible_v<T>, "recv2() needs a default-constructible T; use recv_opt()");
    std::optional<T> v = recv_opt();
    if (v) return {std::move(*v), true};
    return {T{}, false};
  }
  // Receives a value, or nullopt once the channel is closed and drained.
  std::optional<T> recv_opt() {
    Storage s;
    bool received = false;
    detail::chan_recv(c_, s.ptr(), true, &received);
    return s.take(received);
  }

  enum class TryRecv { kReceived, kEmpty, kClosed };
  // Non-blocking receive into out.
  TryRecv try_recv(T& out) {
    Storage s;
    bool received = false;
    if (!detail::chan_recv(c_, s.ptr(), false, &received)) return TryRecv::kEmpty;
    if (!received) return TryRecv::kClosed;
    out = std::move(*s.ptr());
    s.destroy();
    return TryRecv::kReceived;
  }

  void close() { detail::chan_close(c_); }
  size_t len() const { return c_ ? detail::chan_len(c_) : 0; }
  size_t cap() const { return c_ ? detail::chan_cap(c_) : 0; }
  bool is_nil() const { return c_ == nullptr; }
  explicit operator bool() const { return c_ != nullptr; }
  friend bool operator==(const Chan& a, const Chan& b) { return a.c_ == b.c_; }

  // Range-for: receives until the channel is closed and drained.
  class iterator {
   public:
    explicit iterator(Chan* ch) : ch_(ch) { advance(); }
    iterator() = default;
    T& operator*() { return *cur_; }
    iterator& operator++() {
      advance();
      return *this;
    }
    bool operator!=(const iterator& o) const { return ch_ != o.ch_; }

   private:
    void advance() {
      cur_ = ch_->recv_opt();
      if (!cur_) ch_ = nullptr;
    }
    Chan* ch_ = nullptr;
    std::optional<T> cur_;
  };
  iterator begin() { return iterator(this); }
  iterator end() { return iterator(); }

  detail::ChanCore* core() const { return c_; }

  // Aligned raw storage for one T that the runtime may construct into.
  struct Storage {
    alignas(T) unsigned char buf[sizeof(T)];
    T* ptr() { return std::launder(reinterpret_cast<T*>(buf)); }
    void destroy() { ptr()->~T(); }
    std::optional<T> take(bool constructed) {
      if (!constructed) return std::nullopt;
      std::optional<T> v(std::move(*ptr()));
      destroy();
      return v;
    }
  };

 private:
  template <typename U>
  friend Chan<U> make_chan(size_t cap);
  explicit Chan(detail::ChanCore* c) : c_(c) {}
  detail::ChanCore* c_ = nullptr;
};

template <typename T>
Chan<T> make_chan(size_t cap = 0) {
  return Chan<T>(detail::chan_make(&detail::kElemOps<T>, cap));
}

// --- select ------------------------------------------------------------------

// A case refers to the caller's channel (ch), or, when made from a
// temporary such as rt::after(d) or ctx.done(), owns it (ch == nullptr).
template <typename T, typename F>
struct RecvCase {
  Chan<T>* ch;
  F fn;  // called as fn(T, bool ok) or fn(T) or fn()
  typename Chan<T>::Storage storage;
  Chan<T> owned;
  Chan<T>& chan() { return ch ? *ch : owned; }
};
template <typename T, typename F>
struct SendCase {
  Chan<T>* ch;
  T value;
  F fn;  // called as fn()
  Chan<T> owned;
  Chan<T>& chan() { return ch ? *ch : owned; }
};
template <typename F>
struct DefaultCase {
  F fn;
};
struct NoAction {
  void operator()() const {}
};

// A receive case; runs fn(T value, bool ok), fn(std::optional<T>) (nullopt:
// closed), fn(T value) or fn() when it fires.
template <typename T, typename F = NoAction>
RecvCase<T, F> recv_case(Chan<T>& ch, F fn = {}) {
  return RecvCase<T, F>{&ch, std::move(fn), {}, {}};
}
// The same on a temporary channel (rt::recv_case(rt::after(1s)),
// rt::recv_case(ctx.done())): the case keeps the channel.
template <typename T, typename F = NoAction>
RecvCase<T, F> recv_case(Chan<T>&& ch, F fn = {}) {
  return RecvCase<T, F>{nullptr, std::move(fn), {}, std::move(ch)};
}
// A send case; fn() runs if it fires.
template <typename T, typename V, typename F = NoAction>
SendCase<T, F> send_case(Chan<T>& ch, V&& value, F fn = {}) {
  return SendCase<T, F>{&ch, T(std::forward<V>(value)), std::move(fn), {}};
}
template <typename T, typename V, typename F = NoAction>
SendCase<T, F> send_case(Chan<T>&& ch, V&& value, F fn = {}) {
  return SendCase<T, F>{nullptr, T(std::forward<V>(value)), std::move(fn), std::move(ch)};
}
template <typename F = NoAction>
DefaultCase<F> default_case(F fn = {}) {
  return DefaultCase<F>{std::move(fn)};
}

namespace detail {

template <typename C>
struct IsDefault : std::false_type {};
template <typename F>
struct IsDefault<DefaultCase<F>> : std::true_type {};

template <typename T, typename F>
void fill_case(RecvCase<T, F>& rc, SelectCase& sc) {
  sc = SelectCase{rc.chan().core(), rc.storage.ptr(), false, false};
}
template <typename T, typename F>
void fill_case(SendCase<T, F>& s, SelectCase& sc) {
  sc = SelectCase{s.chan().core(), &s.value, true, false};
}

template <typename T, typename F>
void run_case(RecvCase<T, F>& rc, SelectCase& sc) {
  if constexpr (std::is_invocable_v<F&, std::optional<T>> && !std::is_invocable_v<F&, T, bool>) {
    rc.fn(rc.storage.take(sc.received));
  } else if constexpr (std::is_invocable_v<F&, T, bool>) {
    if (sc.received) {
      T v(std::move(*rc.storage.ptr()));
      rc.storage.destroy();
      rc.fn(std::move(v), true);
    } else {
      rc.fn(T{}, false);
    }
  } else if constexpr (std::is_invocable_v<F&, T>) {
    if (sc.received) {
      T v(std::move(*rc.storage.ptr()));
      rc.storage.destroy();
      rc.fn(std::move(v));
    } else {
      rc.fn(T{});
    }
  } else {
    if (sc.received) rc.storage.destroy();
    rc.fn();
  }
}
template <typename T, typename F>
void run_case(SendCase<T, F>& s, SelectCase&) {
  s.fn();
}

}  // namespace detail

// Waits for one of the cases (Go's select). Cases on nil channels never
// fire. With a default_case, returns at once (index of the default) when
// no case is ready. Returns the index of the case that fired, in argument
// order, and runs its function.
template <typename... Cases>
int select(Cases&&... cases) {
  constexpr size_t n = sizeof...(Cases);
  constexpr size_t ndefault = (0 + ... + (detail::IsDefault<std::decay_t<Cases>>::value ? 1 : 0));
  static_assert(ndefault <= 1, "select: at most one default_case");
  if constexpr (n == 0) {
    // select {} (no cases): blocks forever. These two branches keep the
    // bookkeeping below free of empty arrays and unused variables.
    detail::select_impl(nullptr, 0, false);
    return -1;
  } else if constexpr (n == ndefault) {
    // Only a default: it runs at once.
    (cases.fn(), ...);
    return 0;
  } else {
    detail::SelectCase sc[n];
    int map[n];  // select_impl index -> argument index
    int default_index = -1;
    int k = 0, i = 0;
    auto fill = [&](auto& c) {
      using C = std::decay_t<decltype(c)>;
      if constexpr (detail::IsDefault<C>::value) {
        default_index = i;
      } else {
        detail::fill_case(c, sc[k]);
        map[k++] = i;
      }
      i++;
    };
    (fill(cases), ...);
    int chosen = detail::select_impl(sc, k, default_index >= 0);
    int fired = chosen < 0 ? default_index : map[chosen];
    i = 0;
    auto run = [&](auto& c) {
      using C = std::decay_t<decltype(c)>;
      if (i == fired) {
        if constexpr (detail::IsDefault<C>::value) {
          c.fn();
        } else {
          detail::run_case(c, sc[chosen]);
        }
      }
      i++;
    };
    (run(cases), ...);
    return fired;
  }
}

}  // namespace rt
