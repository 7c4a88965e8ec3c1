// A long-lived main goroutine that runs bodies one after another, for the
// gtest suites (goroutine_fixture.h) and the channel fuzzer (no gtest).
//
// The first call starts rt::run on a helper thread, whose main goroutine
// then runs one body after another. Starting a fresh rt::run per body
// races with the deadlock detector: newproc counts a goroutine created on
// a plain thread as a user goroutine before it queues it, and an M going
// idle at that moment (the previous run's) sees one user goroutine and no
// work and reports "all goroutines are asleep - deadlock!". Between bodies
// the main goroutine waits in a syscall scope, so the detector stays
// quiet; during a body it is fully on.
//
// Outside namespace rt: bodies must stay preemptible.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "rt/sched.h"

namespace gotest {

class BodyRunner {
 public:
  static BodyRunner& get() {
    static BodyRunner* r = new BodyRunner();  // never destroyed: its thread runs until exit
    return *r;
  }

  void run(const std::function<void()>& body) {
    std::unique_lock<std::mutex> l(mu_);
    job_ = &body;
    done_ = false;
    cv_.notify_all();
    cv_.wait(l, [this] { return done_; });
  }

 private:
  BodyRunner() {
    std::thread([this] {
      rt::run(0, nullptr, [this] {
        for (;;) {
          const std::function<void()>* job = rt::blocking([this] {
            std::unique_lock<std::mutex> l(mu_);
            cv_.wait(l, [this] { return job_ != nullptr; });
            return job_;
          });
          (*job)();
          rt::blocking([this] {
            std::lock_guard<std::mutex> l(mu_);
            job_ = nullptr;
            done_ = true;
            cv_.notify_all();
          });
        }
      });
    }).detach();
  }

  std::mutex mu_;
  std::condition_variable cv_;
  const std::function<void()>* job_ = nullptr;
  bool done_ = false;
};

}  // namespace gotest
