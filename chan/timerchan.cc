// Timer channels (rt/time.h) on the scheduler's per-P timers.
//
// A timer's function runs on some M's scheduler stack: it may not park, so
// it only does a non-blocking send into the channel's one-slot buffer
// (dropping the tick if the slot is full), which may ready a receiver.
// rt::Timer and rt::Ticker own their timer and stop it (waiting out a run
// in progress) before their memory goes. after()'s timer is detached: it
// holds a reference to its channel and frees itself when it fires.
#include <new>

#include "chan/hchan.h"
#include "rt/time.h"
#include "sched/proc.h"
#include "sched/timers.h"

namespace rt {

namespace detail {

struct TimerState {
  rt::sched::Timer t;
  ChanCore* c = nullptr;  // not owned (the Timer/Ticker's Chan owns it)
};

namespace {

void send_time(ChanCore* c) {
  Time now = Clock::now();
  chan_send(c, &now, /*block=*/false);  // a full buffer drops the tick
}

void fire(void* arg, int64_t) { send_time(static_cast<TimerState*>(arg)->c); }

void fire_detached(void* arg, int64_t) {
  auto* st = static_cast<TimerState*>(arg);
  send_time(st->c);
  chan_release(st->c);
  delete st;
}

int64_t deadline_after(std::chrono::nanoseconds d) {
  return rt::sched::nanotime() + (d.count() > 0 ? d.count() : 0);
}

// Discards a value waiting in the channel; true if there was one.
bool drain(Chan<Time>& c) {
  Time t;
  return c.try_recv(t) == Chan<Time>::TryRecv::kReceived;
}

}  // namespace

}  // namespace detail

Chan<Time> after(std::chrono::nanoseconds d) {
  Chan<Time> ch = make_chan<Time>(1);
  auto* st = new detail::TimerState();
  st->c = ch.core();
  detail::chan_retain(st->c);
  st->t.when = detail::deadline_after(d);
  st->t.f = detail::fire_detached;
  st->t.arg = st;
  st->t.detached = true;
  rt::sched::add_timer(&st->t);
  return ch;
}

Timer::Timer(std::chrono::nanoseconds d) : c(make_chan<Time>(1)), st_(new detail::TimerState()) {
  st_->c = c.core();
  st_->t.when = detail::deadline_after(d);
  st_->t.f = detail::fire;
  st_->t.arg = st_.get();
  rt::sched::add_timer(&st_->t);
}

Timer::~Timer() { rt::sched::stop_timer(&st_->t, /*wait_running=*/true); }

// Go 1.23: a value the timer sent that nobody has received yet is
// discarded, and the timer counts as stopped before it fired (Go's timer
// channels are synchronous, so such a value was never delivered): stop()
// and reset() then return true. A program that has not received from c
// always gets true from stop() on a timer it has not stopped.
bool Timer::stop() {
  bool was = rt::sched::stop_timer(&st_->t, /*wait_running=*/true);
  if (detail::drain(c)) was = true;
  return was;
}

bool Timer::reset(std::chrono::nanoseconds d) {
  bool was = rt::sched::stop_timer(&st_->t, /*wait_running=*/true);
  if (detail::drain(c)) was = true;
  st_->t.when = detail::deadline_after(d);
  rt::sched::add_timer(&st_->t);
  return was;
}

Ticker::Ticker(std::chrono::nanoseconds d) : c(make_chan<Time>(1)), st_(new detail::TimerState()) {
  if (d.count() <= 0) throw Panic("non-positive interval for NewTicker");
  st_->c = c.core();
  st_->t.when = detail::deadline_after(d);
  st_->t.period = d.count();
  st_->t.f = detail::fire;
  st_->t.arg = st_.get();
  rt::sched::add_timer(&st_->t);
}

Ticker::~Ticker() { rt::sched::stop_timer(&st_->t, /*wait_running=*/true); }

void Ticker::stop() {
  rt::sched::stop_timer(&st_->t, /*wait_running=*/true);
  detail::drain(c);
}

void Ticker::reset(std::chrono::nanoseconds d) {
  if (d.count() <= 0) throw Panic("non-positive interval for Ticker.Reset");
  rt::sched::stop_timer(&st_->t, /*wait_running=*/true);
  detail::drain(c);
  st_->t.period = d.count();
  st_->t.when = detail::deadline_after(d);
  rt::sched::add_timer(&st_->t);
}

}  // namespace rt
