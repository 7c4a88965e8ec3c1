// Fatal errors: see fatal.h. Everything here is async-signal-safe: no
// allocation, no locks, no stdio; output goes straight to write(2).
#include "runtime/fatal.h"

#include <unistd.h>

#include <atomic>
#include <cstring>

namespace rt::detail {

FixedText& FixedText::operator<<(std::string_view s) {
  size_t n = s.size();
  if (n > sizeof(buf_) - len_) n = sizeof(buf_) - len_;
  memcpy(buf_ + len_, s.data(), n);
  len_ += n;
  return *this;
}

FixedText& FixedText::operator<<(uint64_t v) {
  char tmp[24];
  size_t i = sizeof(tmp);
  do {
    tmp[--i] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  return *this << std::string_view(tmp + i, sizeof(tmp) - i);
}

FixedText& FixedText::operator<<(int64_t v) {
  if (v < 0) {
    *this << '-';
    // Negate in unsigned arithmetic so INT64_MIN does not overflow.
    return *this << (~static_cast<uint64_t>(v) + 1);
  }
  return *this << static_cast<uint64_t>(v);
}

FixedText& FixedText::hex(uint64_t v) {
  char tmp[16];
  size_t i = sizeof(tmp);
  do {
    tmp[--i] = "0123456789abcdef"[v & 15];
    v >>= 4;
  } while (v != 0);
  *this << "0x";
  return *this << std::string_view(tmp + i, sizeof(tmp) - i);
}

FixedText& FixedText::operator<<(const void* p) { return hex(reinterpret_cast<uintptr_t>(p)); }

void FixedText::write_to(int fd) const {
  const char* p = buf_;
  size_t left = len_;
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n <= 0) return;  // nothing sensible to do about a failing stderr
    p += n;
    left -= static_cast<size_t>(n);
  }
}

namespace {
std::atomic<FatalHook> g_fatal_hook{nullptr};
// Set by the first fatal(); a second fatal (e.g. from inside the hook) exits
// at once instead of recursing.
std::atomic<bool> g_dying{false};
}  // namespace

void set_fatal_hook(FatalHook hook) { g_fatal_hook.store(hook, std::memory_order_release); }

void fatal(const FixedText& msg) {
  FixedText line;
  line << "fatal error: " << msg.view() << '\n';
  line.write_to(STDERR_FILENO);
  if (!g_dying.exchange(true)) {
    if (FatalHook hook = g_fatal_hook.load(std::memory_order_acquire)) hook();
  }
  _exit(2);
}

void fatal(std::string_view msg) {
  FixedText t;
  t << msg;
  fatal(t);
}

void assert_failed(const char* cond, const char* file, int line) {
  FixedText t;
  t << "assertion failed: " << cond << " at " << file << ':' << line;
  fatal(t);
}

}  // namespace rt::detail
