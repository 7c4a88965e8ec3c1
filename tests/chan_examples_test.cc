// Whole programs built from channels, select, timers and Context, the
// classic Go exercises:
// - cat, dog, fish: three goroutines print in turn, 100 rounds, handing a
//   token around (one channel per goroutine; and one shared channel with a
//   turn counter);
// - a worker pool: a jobs channel, a results channel, a WaitGroup, graceful
//   shutdown (close the jobs, drain, close the results), cancellation of
//   in-flight work through a Context, submit with a timeout, a panicking
//   job turned into an error; every goroutine exits (rt::num_goroutine
//   returns to its baseline);
// - the prime sieve: a chain of filter goroutines, one per prime, checked
//   against a plain sieve for the first 1000 primes, torn down by a
//   Context;
// - a pipeline: generate, square (fan-out), merge (fan-in), sum; and the
//   same pipeline abandoned half-way through cancellation.
// Every example runs under the default GOMAXPROCS, 1 and 2, and asserts its
// exact output.
//
// The test code lives outside namespace rt (see goroutine_fixture.h).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "rt/chan.h"
#include "rt/context.h"
#include "rt/panic.h"
#include "rt/sched.h"
#include "rt/sync.h"
#include "rt/time.h"
#include "tests/chan_test_util.h"

namespace {

using namespace gotest;
using namespace std::chrono_literals;

class ChanExamples : public ProcsTest {};
GOTEST_PROCS_SUITE(ChanExamples);

struct Empty {};

// The number of goroutines alive once those of earlier tests have finished
// exiting (a WaitGroup's wait returns just before its goroutines end).
int64_t settled_goroutines() {
  int64_t n = rt::num_goroutine();
  for (int i = 0; i < 200; i++) {
    rt::sleep(5ms);
    int64_t m = rt::num_goroutine();
    if (m == n) return n;
    n = m;
  }
  return n;
}

// Waits until the goroutines a test started have all exited.
void expect_goroutines_back_to(int64_t baseline) {
  EXPECT_TRUE(wait_until([&] { return rt::num_goroutine() <= baseline; }))
      << rt::num_goroutine() << " goroutines alive, expected " << baseline;
}

std::vector<std::string> expected_cat_dog_fish(int rounds) {
  std::vector<std::string> v;
  for (int i = 0; i < rounds; i++) {
    v.push_back("cat");
    v.push_back("dog");
    v.push_back("fish");
  }
  return v;
}

// ---------------------------------------------------------------------------
// cat, dog, fish

// Each goroutine waits for its own signal, prints, and signals the next;
// main starts the first round. The output vector needs no lock: each
// append happens-before the send that lets the next goroutine append.
TEST_P(ChanExamples, CatDogFishWithThreeChannels) {
  run_go(procs(), [] {
    constexpr int kRounds = 100;
    int64_t baseline = settled_goroutines();
    auto cat = rt::make_chan<Empty>();
    auto dog = rt::make_chan<Empty>();
    auto fish = rt::make_chan<Empty>();
    std::vector<std::string> out;
    rt::WaitGroup wg;
    wg.go([&] {
      for (int i = 0; i < kRounds; i++) {
        cat.recv();
        out.push_back("cat");
        dog.send(Empty{});
      }
    });
    wg.go([&] {
      for (int i = 0; i < kRounds; i++) {
        dog.recv();
        out.push_back("dog");
        fish.send(Empty{});
      }
    });
    wg.go([&] {
      for (int i = 0; i < kRounds; i++) {
        fish.recv();
        out.push_back("fish");
        if (i < kRounds - 1) cat.send(Empty{});
      }
    });
    cat.send(Empty{});
    wg.wait();
    EXPECT_EQ(out, expected_cat_dog_fish(kRounds));
    expect_goroutines_back_to(baseline);
  });
}

// One shared channel carries a turn counter: a goroutine that receives
// somebody else's turn puts it back. The channel holds one value, so the
// last hand-back never blocks once the others have finished.
TEST_P(ChanExamples, CatDogFishWithOneChannelAndACounter) {
  run_go(procs(), [] {
    constexpr int kRounds = 100;
    int64_t baseline = settled_goroutines();
    auto turn = rt::make_chan<int>(1);
    std::vector<std::string> out;
    rt::WaitGroup wg;
    const char* names[] = {"cat", "dog", "fish"};
    for (int me = 0; me < 3; me++) {
      wg.go([&, me] {
        for (int printed = 0; printed < kRounds;) {
          int count = turn.recv();
          if (count % 3 == me) {
            out.push_back(names[me]);
            printed++;
            count++;
          }
          turn.send(count);
        }
      });
    }
    turn.send(0);
    wg.wait();
    EXPECT_EQ(turn.recv(), 3 * kRounds);
    EXPECT_EQ(out, expected_cat_dog_fish(kRounds));
    expect_goroutines_back_to(baseline);
  });
}

// ---------------------------------------------------------------------------
// Worker pool

// A fixed number of workers take tasks from a queue and send results.
// Tasks get the pool's Context so that long work can give up when the pool
// is cancelled. A task that throws becomes an error result (Go's recover).
class WorkerPool {
 public:
  using Task = std::function<int64_t(const rt::Context&)>;
  struct Result {
    int64_t value = 0;
    std::string error;  // empty: success
  };

  WorkerPool(int size, size_t queue)
      : tasks_(rt::make_chan<Task>(queue)), results_(rt::make_chan<Result>(queue)) {
    std::tie(ctx_, cancel_) = rt::with_cancel(rt::Context::background());
    for (int i = 0; i < size; i++) wg_.go([this] { work(); });
  }

  rt::Chan<Result> results() { return results_; }

  // False once the pool is cancelled.
  bool submit(Task t) {
    if (closed()) return false;
    bool ok = false;
    rt::select(rt::send_case(tasks_, std::move(t), [&] { ok = true; }), rt::recv_case(ctx_.done()));
    return ok;
  }
  // "" when queued; else why not.
  std::string submit_with_timeout(Task t, std::chrono::nanoseconds timeout) {
    if (closed()) return "pool closed";
    std::string why;
    rt::select(rt::send_case(tasks_, std::move(t)), rt::recv_case(rt::after(timeout), [&] { why = "submit timeout"; }),
               rt::recv_case(ctx_.done(), [&] { why = "pool closed"; }));
    return why;
  }

  // Graceful: no new tasks; the queued ones run; then the results close.
  void shutdown() {
    tasks_.close();
    wg_.wait();
    results_.close();
  }
  // Abrupt: in-flight tasks see their Context cancelled; queued tasks are
  // dropped; workers exit.
  void cancel_now() {
    cancel_();
    wg_.wait();
    results_.close();
  }

  int active() const { return active_.load(); }

 private:
  bool closed() const { return ctx_.err() != rt::ContextError::kNone; }

  void work() {
    for (;;) {
      std::optional<Task> task;
      bool stop = false;
      rt::select(rt::recv_case(tasks_, [&](std::optional<Task> t) {
                   if (t) {
                     task = std::move(t);
                   } else {
                     stop = true;  // closed: graceful shutdown
                   }
                 }),
                 rt::recv_case(ctx_.done(), [&] { stop = true; }));
      // A task taken just as the pool was cancelled is dropped (select
      // picks at random when both the queue and done() are ready).
      if (stop || closed()) return;
      active_++;
      Result r = run(*task);
      active_--;
      bool delivered = false;
      rt::select(rt::send_case(results_, std::move(r), [&] { delivered = true; }), rt::recv_case(ctx_.done()));
      if (!delivered) return;
    }
  }

  Result run(Task& t) {
    try {
      return Result{t(ctx_), ""};
    } catch (const std::exception& e) {
      return Result{0, std::string("panic in task: ") + e.what()};
    }
  }

  rt::Chan<Task> tasks_;
  rt::Chan<Result> results_;
  rt::Context ctx_;
  rt::CancelFunc cancel_;
  rt::WaitGroup wg_;
  std::atomic<int> active_{0};
};

TEST_P(ChanExamples, WorkerPoolGracefulShutdown) {
  run_go(procs(), [] {
    int64_t baseline = settled_goroutines();
    constexpr int kTasks = 1000;
    int64_t sum = 0, count = 0;
    std::vector<std::string> errors;
    {
      WorkerPool pool(4, 16);
      rt::WaitGroup collector;
      collector.go([&, results = pool.results()]() mutable {
        for (WorkerPool::Result r : results) {
          if (!r.error.empty()) {
            errors.push_back(r.error);
          } else {
            sum += r.value;
            count++;
          }
        }
      });
      for (int i = 0; i < kTasks; i++) {
        ASSERT_TRUE(pool.submit([i](const rt::Context&) -> int64_t {
          if (i % 100 == 0) rt::gosched();
          return int64_t{i} * i;
        }));
      }
      ASSERT_TRUE(pool.submit([](const rt::Context&) -> int64_t { throw std::runtime_error("bad input"); }));
      pool.shutdown();
      collector.wait();
    }
    int64_t n = kTasks;
    EXPECT_EQ(count, n);
    EXPECT_EQ(sum, (n - 1) * n * (2 * n - 1) / 6);
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0], "panic in task: bad input");
    expect_goroutines_back_to(baseline);
  });
}

// Long tasks honour the pool's Context: cancelling the pool ends them long
// before their own 30 s, every worker exits, and submit reports the pool
// closed.
TEST_P(ChanExamples, WorkerPoolCancelsInFlightWork) {
  run_go(procs(), [] {
    int64_t baseline = settled_goroutines();
    constexpr int kWorkers = 4;
    std::atomic<int> started{0}, gave_up{0};
    rt::Time t0 = rt::Clock::now();
    {
      WorkerPool pool(kWorkers, 8);
      auto long_task = [&](const rt::Context& ctx) -> int64_t {
        started++;
        int64_t out = 1;
        rt::select(rt::recv_case(ctx.done(), [&] {
                     gave_up++;
                     out = -1;
                   }),
                   rt::recv_case(rt::after(30s)));
        return out;
      };
      for (int i = 0; i < kWorkers + 4; i++) ASSERT_TRUE(pool.submit(long_task));
      ASSERT_TRUE(wait_until([&] { return started.load() == kWorkers; }));
      EXPECT_EQ(pool.active(), kWorkers);
      pool.cancel_now();
      EXPECT_FALSE(pool.submit(long_task));
      EXPECT_EQ(pool.submit_with_timeout(long_task, 10s), "pool closed");
      // Results that made it out before the cancel are the cancelled ones.
      int delivered = 0;
      for (WorkerPool::Result r : pool.results()) {
        EXPECT_EQ(r.value, -1);
        delivered++;
      }
      EXPECT_LE(delivered, kWorkers);
    }
    EXPECT_EQ(started.load(), kWorkers) << "queued tasks run after the cancel";
    EXPECT_EQ(gave_up.load(), kWorkers);
    EXPECT_LT(rt::Clock::now() - t0, 20s) << "in-flight work was not cancelled";
    expect_goroutines_back_to(baseline);
  });
}

// With the only worker busy and the queue full, submit gives up after its
// timeout.
TEST_P(ChanExamples, WorkerPoolSubmitTimesOut) {
  run_go(procs(), [] {
    int64_t baseline = settled_goroutines();
    {
      WorkerPool pool(1, 1);
      auto gate = rt::make_chan<Empty>();
      auto blocked = [gate](const rt::Context&) mutable -> int64_t {
        gate.recv();
        return 7;
      };
      ASSERT_TRUE(pool.submit(blocked));  // the worker takes it and waits
      ASSERT_TRUE(wait_until([&] { return pool.active() == 1; }));
      ASSERT_TRUE(pool.submit(blocked));  // fills the queue
      rt::Time t0 = rt::Clock::now();
      EXPECT_EQ(pool.submit_with_timeout(blocked, 20ms), "submit timeout");
      EXPECT_GE(rt::Clock::now() - t0, 20ms);
      rt::WaitGroup collector;
      int results = 0;
      collector.go([&, r = pool.results()]() mutable {
        for (WorkerPool::Result res : r) {
          EXPECT_EQ(res.value, 7);
          results++;
        }
      });
      gate.close();  // release both tasks
      pool.shutdown();
      collector.wait();
      EXPECT_EQ(results, 2);
    }
    expect_goroutines_back_to(baseline);
  });
}

// ---------------------------------------------------------------------------
// Prime sieve

std::vector<int> simple_sieve(int count) {
  std::vector<int> primes;
  std::vector<bool> composite(10000, false);
  for (int i = 2; static_cast<int>(primes.size()) < count; i++) {
    if (composite[i]) continue;
    primes.push_back(i);
    for (int j = i * i; j < 10000; j += i) composite[j] = true;
  }
  return primes;
}

// Sends 2, 3, 4, ... to out until ctx is cancelled.
void generate(rt::Context ctx, rt::Chan<int> out) {
  for (int i = 2;; i++) {
    if (rt::select(rt::send_case(out, i), rt::recv_case(ctx.done())) == 1) return;
  }
}

// Copies in to out, leaving out the multiples of prime, until ctx is
// cancelled.
void filter(rt::Context ctx, rt::Chan<int> in, rt::Chan<int> out, int prime) {
  for (;;) {
    int v = 0;
    if (rt::select(rt::recv_case(in, [&](int x) { v = x; }), rt::recv_case(ctx.done())) == 1) return;
    if (v % prime == 0) continue;
    if (rt::select(rt::send_case(out, v), rt::recv_case(ctx.done())) == 1) return;
  }
}

TEST_P(ChanExamples, PrimeSieve) {
  run_go(procs(), [] {
    constexpr int kPrimes = 1000;
    int64_t baseline = settled_goroutines();
    auto [ctx, cancel] = rt::with_cancel(rt::Context::background());
    auto ch = rt::make_chan<int>();
    rt::go([ctx = ctx, ch] { generate(ctx, ch); });
    std::vector<int> primes;
    for (int i = 0; i < kPrimes; i++) {
      int prime = ch.recv();
      primes.push_back(prime);
      auto next = rt::make_chan<int>();
      rt::go([ctx = ctx, ch, next, prime] { filter(ctx, ch, next, prime); });
      ch = next;
    }
    EXPECT_GE(rt::num_goroutine(), baseline + kPrimes + 1);
    cancel();
    EXPECT_EQ(primes, simple_sieve(kPrimes));
    EXPECT_EQ(primes.back(), 7919);
    expect_goroutines_back_to(baseline);
  });
}

// ---------------------------------------------------------------------------
// Pipeline

// gen -> square (kWorkers goroutines) -> merge -> sum. Each stage closes its
// output when its input is exhausted; merge closes after all squarers end.
TEST_P(ChanExamples, Pipeline) {
  run_go(procs(), [] {
    constexpr int kN = 20000, kWorkers = 4;
    int64_t baseline = settled_goroutines();
    auto numbers = rt::make_chan<int64_t>(8);
    rt::go([numbers]() mutable {
      for (int64_t i = 1; i <= kN; i++) numbers.send(i);
      numbers.close();
    });
    auto merged = rt::make_chan<int64_t>(8);
    auto squarers = std::make_shared<rt::WaitGroup>();
    for (int w = 0; w < kWorkers; w++) {
      squarers->go([numbers, merged]() mutable {
        for (int64_t v : numbers) merged.send(v * v);
      });
    }
    rt::go([squarers, merged]() mutable {
      squarers->wait();
      merged.close();
    });
    int64_t sum = 0, count = 0;
    for (int64_t sq : merged) {
      sum += sq;
      count++;
    }
    int64_t n = kN;
    EXPECT_EQ(count, n);
    EXPECT_EQ(sum, n * (n + 1) * (2 * n + 1) / 6);
    expect_goroutines_back_to(baseline);
  });
}

// The consumer stops early and cancels: every stage, blocked on a send
// nobody will receive, leaves through ctx.done().
TEST_P(ChanExamples, PipelineAbandonedThroughCancel) {
  run_go(procs(), [] {
    int64_t baseline = settled_goroutines();
    auto [ctx, cancel] = rt::with_cancel(rt::Context::background());
    auto numbers = rt::make_chan<int64_t>();
    rt::go([ctx = ctx, numbers]() mutable {
      for (int64_t i = 1;; i++) {
        if (rt::select(rt::send_case(numbers, i), rt::recv_case(ctx.done())) == 1) return;
      }
    });
    auto squares = rt::make_chan<int64_t>();
    for (int w = 0; w < 3; w++) {
      rt::go([ctx = ctx, numbers, squares]() mutable {
        for (;;) {
          std::optional<int64_t> v;
          if (rt::select(rt::recv_case(numbers, [&](int64_t x) { v = x; }), rt::recv_case(ctx.done())) == 1) return;
          if (rt::select(rt::send_case(squares, *v * *v), rt::recv_case(ctx.done())) == 1) return;
        }
      });
    }
    int64_t taken = 0;
    for (int i = 0; i < 1000; i++) {
      int64_t sq = squares.recv();
      int64_t root = 1;
      while (root * root < sq) root++;
      ASSERT_EQ(root * root, sq);
      taken++;
    }
    EXPECT_GE(rt::num_goroutine(), baseline + 4);
    cancel();
    EXPECT_EQ(taken, 1000);
    expect_goroutines_back_to(baseline);
  });
}

}  // namespace
