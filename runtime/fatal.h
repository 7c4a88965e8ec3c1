// Fatal errors: the runtime's way to die when an invariant breaks.
//
// fatal() prints "fatal error: <message>" to stderr and ends the process
// with exit status 2, as Go's throw does. It must work anywhere: inside a
// signal handler, with the heap lock held, during a stop-the-world pause.
// So it never allocates and never takes a lock: the message is assembled in
// a stack buffer by the tiny formatter below and written with write(2).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace rt::detail {

// A fixed-capacity, allocation-free text buffer for messages printed from
// places where malloc and locks are forbidden. Output past the capacity is
// dropped (the message is cut, never overflowed).
class FixedText {
 public:
  FixedText& operator<<(std::string_view s);
  FixedText& operator<<(const char* s) { return *this << std::string_view(s ? s : "(null)"); }
  FixedText& operator<<(char c) { return *this << std::string_view(&c, 1); }
  FixedText& operator<<(uint64_t v);
  FixedText& operator<<(int64_t v);
  FixedText& operator<<(unsigned v) { return *this << static_cast<uint64_t>(v); }
  FixedText& operator<<(int v) { return *this << static_cast<int64_t>(v); }
  FixedText& operator<<(unsigned long long v) { return *this << static_cast<uint64_t>(v); }
  FixedText& operator<<(long long v) { return *this << static_cast<int64_t>(v); }
  FixedText& operator<<(const void* p);  // printed as 0x-prefixed hex
  FixedText& hex(uint64_t v);

  std::string_view view() const { return {buf_, len_}; }
  void write_to(int fd) const;

 private:
  char buf_[512];
  size_t len_ = 0;
};

// Prints "fatal error: <msg>" and exits with status 2. Async-signal-safe.
[[noreturn]] void fatal(std::string_view msg);
[[noreturn]] void fatal(const FixedText& msg);

// Hook run by fatal() after the message, before exiting (the scheduler
// installs its goroutine dump here). Must itself be async-signal-safe.
using FatalHook = void (*)();
void set_fatal_hook(FatalHook hook);

}  // namespace rt::detail

// RT_ASSERT: an invariant check, compiled in for Debug builds and for
// builds with RT_ASSERTIONS (the test builds). A failure is a fatal error
// naming the file, line and condition.
#if defined(RT_ASSERTIONS)
#define RT_ASSERT(cond)                                                                       \
  do {                                                                                        \
    if (__builtin_expect(!(cond), 0)) ::rt::detail::assert_failed(#cond, __FILE__, __LINE__); \
  } while (0)
#else
#define RT_ASSERT(cond) \
  do {                  \
  } while (0)
#endif

namespace rt::detail {
[[noreturn]] void assert_failed(const char* cond, const char* file, int line);
}
