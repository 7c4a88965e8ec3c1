// Timer channels, after Go's time package: After, Timer, Ticker.
//
//   rt::select(rt::recv_case(work, ...), rt::recv_case(rt::after(100ms)...));
//   rt::Timer t(50ms);  t.c.recv();  t.reset(10ms);  t.stop();
//   rt::Ticker tk(1s);  for (;;) { tk.c.recv(); ... }
//
// Each channel has a buffer of one: a tick that finds the buffer full is
// dropped (a slow reader of a Ticker sees fewer ticks, never a backlog).
// As in Go 1.23+, stop() and reset() also discard a value already sitting
// in the channel, so no stale time is received afterwards.
#pragma once

#include <chrono>
#include <memory>

#include "rt/chan.h"

namespace rt {

using Clock = std::chrono::steady_clock;
using Time = Clock::time_point;

// A channel that receives the current time once, after d.
Chan<Time> after(std::chrono::nanoseconds d);

namespace detail {
struct TimerState;
}

class Timer {
 public:
  explicit Timer(std::chrono::nanoseconds d);
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  // Prevents the timer from firing. Returns false if it had already fired
  // or been stopped. As in Go 1.23, a value that fired but was not received
  // yet is discarded and counts as not fired (stop() returns true): until
  // the program receives from c, stop() on a running timer returns true.
  bool stop();
  // Re-arms it to fire after d. Returns whether it was still pending (by
  // the same rule: a discarded unreceived value counts as pending).
  bool reset(std::chrono::nanoseconds d);

  Chan<Time> c;

 private:
  std::unique_ptr<detail::TimerState> st_;
};

class Ticker {
 public:
  // d must be positive (a non-positive period throws rt::Panic, as Go's
  // NewTicker panics).
  explicit Ticker(std::chrono::nanoseconds d);
  ~Ticker();
  Ticker(const Ticker&) = delete;
  Ticker& operator=(const Ticker&) = delete;

  void stop();
  void reset(std::chrono::nanoseconds d);

  Chan<Time> c;

 private:
  std::unique_ptr<detail::TimerState> st_;
};

}  // namespace rt
