// The runtime's SIGURG handler (sched/preempt.cc) on a thread set up as an
// M with a fake G and P, as the scheduler would leave them for a running
// goroutine that sysmon wants preempted. preempt_m from another thread
// makes the handler inject the trampoline into preempt_test_spin (see
// sched_preempt_routine.h), which must come back with every register
// intact; then every refusal rule (no request, G not running, no P, P not
// running, no-preempt scope, g0, runtime lock held, PC in librt, no stack
// room, SP off the goroutine stack, no alternate signal stack) leaves the
// goroutine alone. SIGURGs that are not the runtime's are ignored on
// threads that are not Ms and forwarded to a handler the application
// installed first.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "runtime/lock.h"
#include "sched/gmp.h"
#include "sched/preempt.h"
#include "tests/sched_preempt_routine.h"

namespace {

using rt::sched::G;
using rt::sched::M;
using rt::sched::P;

class SchedPreemptHandler : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    rt::sched::init_preemption();
  }
};

// A fake M/G/P on the calling thread, as the scheduler would set them up
// for a running goroutine that sysmon wants preempted.
class FakeM {
 public:
  FakeM() : p_(new P()) {
    uintptr_t lo, hi;
    thread_stack(&lo, &hi);
    g_.stack.lo = lo;
    g_.stack.hi = hi;
    g_.m = &m_;
    g_.status.store(rt::sched::kGRunning);
    g_.preempt.store(true);
    p_->status.store(rt::sched::kPRunning);
    p_->m = &m_;
    m_.curg = &g_;
    m_.p = p_.get();
    m_.tid = preempt_test_gettid();
    saved_ = rt::sched::t_m;
    rt::sched::t_m = &m_;
    g_fake_g = &g_;
  }
  ~FakeM() {
    rt::sched::t_m = saved_;
    g_fake_g = nullptr;
  }
  M& m() { return m_; }
  G& g() { return g_; }
  P& p() { return *p_; }

 private:
  M m_;
  G g_;
  std::unique_ptr<P> p_;
  M* saved_ = nullptr;
};

bool async_on() {
  return rt::sched::async_preemption_enabled();
}

TEST_F(SchedPreemptHandler, HandlerPreemptsUserCode) {
  if (!async_on()) GTEST_SKIP() << "asyncpreemptoff";
  int level = max_vector_level();
  fill_patterns(level);
  AltStack alt;
  FakeM fm;
  rt::sched::set_async_preempt_test_hook(&fm.m(), &preempt_test_park);
  spin_while_poked([&] { rt::sched::preempt_m(&fm.m()); });
  rt::sched::set_async_preempt_test_hook(nullptr, nullptr);
  EXPECT_EQ(fm.m().preempt_gen.load(), 1u);
  EXPECT_FALSE(fm.g().preempt.load());
  // A signal may still be in flight; it finds nothing to do and clears the flag.
  for (int i = 0; i < 1000 && fm.m().signal_pending.load(); i++)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(fm.m().signal_pending.load(), 0u);
  check_round_trip(level);
}

uintptr_t g_caller_frame;

// Runs `spin(stop)` on this thread (an M with a goroutine that should be
// preempted, but for `breakit`), sends 20 preemption signals one after
// another, and returns how many injections happened.
template <typename Break>
uint64_t injections_when(Break breakit, void (*spin)(const int*) = &user_spin_until,
                         bool altstack = true) {
  fill_patterns(max_vector_level());  // the park stand-in reads the level
  std::unique_ptr<AltStack> alt;
  if (altstack) alt = std::make_unique<AltStack>();
  FakeM fm;
  g_caller_frame = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  breakit(fm);
  rt::sched::set_async_preempt_test_hook(&fm.m(), &preempt_test_park);
  preempt_test_state.park_calls = 0;
  int stop = 0;
  std::atomic<int> delivered{0};
  __atomic_store_n(&g_spin_started, 0, __ATOMIC_RELAXED);
  std::thread t([&] {
    // Poke only once the spin runs: the caller is user code too.
    while (!__atomic_load_n(&g_spin_started, __ATOMIC_ACQUIRE)) std::this_thread::yield();
    for (int i = 0; i < 20; i++) {
      rt::sched::preempt_m(&fm.m());
      for (int j = 0; j < 5000 && fm.m().signal_pending.load(); j++)
        std::this_thread::sleep_for(std::chrono::microseconds(100));
      if (!fm.m().signal_pending.load()) delivered++;
    }
    __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
  });
  spin(&stop);
  t.join();
  rt::sched::set_async_preempt_test_hook(nullptr, nullptr);
  EXPECT_EQ(delivered.load(), 20) << "the handler did not clear signal_pending";
  EXPECT_EQ(preempt_test_state.park_calls, fm.m().preempt_gen.load());
  return fm.m().preempt_gen.load();
}

TEST_F(SchedPreemptHandler, HandlerControlCase) {
  if (!async_on()) GTEST_SKIP() << "asyncpreemptoff";
  // The park stand-in clears g->preempt: exactly one injection.
  EXPECT_EQ(injections_when([](FakeM&) {}), 1u);
}

TEST_F(SchedPreemptHandler, HandlerRefusals) {
  if (!async_on()) GTEST_SKIP() << "asyncpreemptoff";
  // Evaluated only when an expectation fails: where the injection went.
  auto where = [] { return "; injected into " + interrupted_function(); };
  EXPECT_EQ(injections_when([](FakeM& f) { f.g().preempt.store(false); }), 0u)
      << "not asked" << where();
  EXPECT_EQ(injections_when([](FakeM& f) { f.g().status.store(rt::sched::kGRunnable); }), 0u)
      << "not running" << where();
  EXPECT_EQ(injections_when([](FakeM& f) { f.m().p = nullptr; }), 0u) << "no P" << where();
  EXPECT_EQ(injections_when([](FakeM& f) { f.p().status.store(rt::sched::kPGCStop); }), 0u)
      << "P not running" << where();
  EXPECT_EQ(injections_when([](FakeM& f) { f.g().nopreempt = 1; }), 0u)
      << "no-preempt scope" << where();
  EXPECT_EQ(injections_when([](FakeM& f) { f.m().curg = nullptr; }), 0u) << "on g0" << where();
  EXPECT_EQ(injections_when([](FakeM& f) { f.g().m = nullptr; }), 0u)
      << "G of another M" << where();
  {
    rt::detail::t_runtime_locks++;
    EXPECT_EQ(injections_when([](FakeM&) {}), 0u) << "runtime lock held" << where();
    rt::detail::t_runtime_locks--;
  }
  EXPECT_EQ(injections_when([](FakeM&) {}, &rt::test_spin_in_rt), 0u) << "PC in librt" << where();
  EXPECT_EQ(injections_when([](FakeM& f) {
              // SP in the spin is a little below g_caller_frame: leave
              // about 6 KiB below it, less than the trampoline needs.
              f.g().stack.lo = g_caller_frame - 6144;
            }),
            0u)
      << "no stack room" << where();
  EXPECT_EQ(injections_when([](FakeM& f) { f.g().stack.hi = f.g().stack.lo + 4096; }), 0u)
      << "SP outside the goroutine stack" << where();
  {
    stack_t ss{}, old{};
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, &old);
    EXPECT_EQ(injections_when([](FakeM&) {}, &user_spin_until, false), 0u)
        << "no alternate signal stack" << where();
    if (old.ss_flags != SS_DISABLE) sigaltstack(&old, nullptr);
  }
}

TEST_F(SchedPreemptHandler, PreemptMIgnoresThreadlessM) {
  M m;  // tid 0: never started
  rt::sched::preempt_m(&m);
  EXPECT_EQ(m.signal_pending.load(), 0u);
  rt::sched::preempt_m(nullptr);
}

// SIGURGs that are not the runtime's: ignored on threads that are not Ms,
// forwarded to a handler the application installed before
// init_preemption; the runtime's own are not forwarded. A fresh process,
// so that the application's handler comes first.
std::atomic<int> g_app_urg{0};
void app_urg_handler(int) {
  g_app_urg++;
}

bool wait_app_urg(int n) {
  // usleep also lets TSan deliver the signals it deferred.
  for (int i = 0; i < 2000 && g_app_urg.load() != n; i++) usleep(500);
  return g_app_urg.load() == n;
}

TEST(SchedPreemptForward, ForeignSigurgIsForwarded) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        // A re-executed image running only this test: nothing has
        // installed a SIGURG handler yet, unless the runtime was set up by
        // a static initialiser (then there is nothing to check).
        struct sigaction cur {};
        sigaction(SIGURG, nullptr, &cur);
        if (cur.sa_handler != SIG_DFL) _exit(0);
        signal(SIGURG, app_urg_handler);  // the application's, first
        rt::sched::init_preemption();
        if (!rt::sched::async_preemption_enabled()) _exit(0);
        raise(SIGURG);  // on a thread that is not an M
        if (!wait_app_urg(1)) _exit(3);
        {
          AltStack alt;
          FakeM fm;  // this thread is an M now
          fm.g().preempt.store(false);
          raise(SIGURG);  // no runtime signal pending: not the runtime's
          if (!wait_app_urg(2)) _exit(4);
          rt::sched::preempt_m(&fm.m());  // the runtime's: handled here
          for (int i = 0; i < 2000 && fm.m().signal_pending.load(); i++) usleep(500);
          if (fm.m().signal_pending.load() != 0) _exit(5);
          usleep(20000);
          if (g_app_urg.load() != 2) _exit(6);
        }
        _exit(0);
      },
      testing::ExitedWithCode(0), "");
}

// Not an M and no application handler: the signal is ignored.
TEST_F(SchedPreemptHandler, SigurgOnOtherThreadIsIgnored) {
  std::thread t([] {
    raise(SIGURG);
    usleep(1000);
  });
  t.join();
  SUCCEED();
}

}  // namespace
