// The safe-PC tables of asynchronous preemption (sched/symtab.cc): which
// code the SIGURG handler may interrupt. User code of the test executable
// is preemptible; librt's code (namespace rt, which by design includes rt
// code defined in the tests), libc, libstdc++, code without a sized symbol,
// the heap, the stack and address 0 are not. Symbol names round-trip
// through symtab_lookup, and the name rules classify mangled names.
#include <gtest/gtest.h>
#include <pthread.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <string_view>

#include "runtime/fatal.h"
#include "sched/preempt.h"
#include "sched/symtab.h"
#include "tests/sched_preempt_routine.h"

namespace {

class SchedSymtab : public testing::Test {
 protected:
  static void SetUpTestSuite() { rt::sched::init_preemption(); }
};

TEST_F(SchedSymtab, TablesBuilt) {
  ASSERT_TRUE(rt::sched::symtab_ready());
  rt::sched::SymtabStats st = rt::sched::symtab_stats();
  EXPECT_TRUE(st.exe_has_symtab);
  EXPECT_GT(st.objects, 2u);
  EXPECT_GT(st.platform_objects, 1u);  // at least libc and the vDSO
  EXPECT_GT(st.functions, 100u);
  EXPECT_GT(st.user_ranges, 0u);
  EXPECT_GT(st.unsafe_ranges, 0u);
}

TEST_F(SchedSymtab, UserCodeIsSafe) {
  auto f = reinterpret_cast<uintptr_t>(&plain_user_function);
  EXPECT_TRUE(rt::sched::is_async_safe_pc(f));
  EXPECT_TRUE(rt::sched::is_async_safe_pc(f + 1));
  EXPECT_TRUE(rt::sched::is_async_safe_pc(reinterpret_cast<uintptr_t>(&user_spin_until)));
  EXPECT_TRUE(rt::sched::is_async_safe_pc(reinterpret_cast<uintptr_t>(preempt_test_spin_loop)));
  EXPECT_EQ(rt::sched::symtab_classify(f), rt::sched::PcClass::kUser);
}

TEST_F(SchedSymtab, RuntimeCodeIsNotSafe) {
  auto in_rt = reinterpret_cast<uintptr_t>(&rt::test_helper_in_rt);
  EXPECT_FALSE(rt::sched::is_async_safe_pc(in_rt));
  EXPECT_EQ(rt::sched::symtab_classify(in_rt), rt::sched::PcClass::kRuntime);
  EXPECT_FALSE(rt::sched::is_async_safe_pc(reinterpret_cast<uintptr_t>(&rt::test_spin_in_rt)));
  void (*fatal_fn)(std::string_view) = &rt::detail::fatal;
  EXPECT_FALSE(rt::sched::is_async_safe_pc(reinterpret_cast<uintptr_t>(fatal_fn)));
  EXPECT_FALSE(rt::sched::is_async_safe_pc(reinterpret_cast<uintptr_t>(&rt::sched::preempt_m)));
  EXPECT_FALSE(
      rt::sched::is_async_safe_pc(reinterpret_cast<uintptr_t>(&rt_async_preempt_trampoline)));
  EXPECT_FALSE(
      rt::sched::is_async_safe_pc(reinterpret_cast<uintptr_t>(&rt_async_preempt_trampoline) + 40));
  EXPECT_FALSE(
      rt::sched::is_async_safe_pc(reinterpret_cast<uintptr_t>(&rt_async_preempt_trampoline_test)));
}

TEST_F(SchedSymtab, PlatformAndDataAreNotSafe) {
  EXPECT_FALSE(rt::sched::is_async_safe_pc(reinterpret_cast<uintptr_t>(&write)));
  EXPECT_FALSE(rt::sched::is_async_safe_pc(reinterpret_cast<uintptr_t>(&memcpy)));
  EXPECT_FALSE(rt::sched::is_async_safe_pc(reinterpret_cast<uintptr_t>(&pthread_mutex_lock)));
  void (*terminate_fn)() noexcept = &std::terminate;
  EXPECT_FALSE(rt::sched::is_async_safe_pc(reinterpret_cast<uintptr_t>(terminate_fn)));
  // Code without a sized symbol (_init, and the PLT stubs after it).
  EXPECT_FALSE(rt::sched::is_async_safe_pc(reinterpret_cast<uintptr_t>(&_init)));
  EXPECT_FALSE(rt::sched::is_async_safe_pc(0));
  EXPECT_FALSE(rt::sched::is_async_safe_pc(~uintptr_t{0}));
  auto heap = std::make_unique<int[]>(64);
  EXPECT_FALSE(rt::sched::is_async_safe_pc(reinterpret_cast<uintptr_t>(heap.get())));
  int local = 0;
  EXPECT_FALSE(rt::sched::is_async_safe_pc(reinterpret_cast<uintptr_t>(&local)));
  EXPECT_FALSE(rt::sched::is_async_safe_pc(reinterpret_cast<uintptr_t>(&preempt_test_state)));
}

TEST_F(SchedSymtab, Lookup) {
  uintptr_t off = 99;
  auto f = reinterpret_cast<uintptr_t>(&plain_user_function);
  const char* name = rt::sched::symtab_lookup(f + 1, &off);
  ASSERT_NE(name, nullptr);
  EXPECT_EQ(std::string(name), "_Z19plain_user_functionv");
  EXPECT_EQ(off, 1u);
  name = rt::sched::symtab_lookup(reinterpret_cast<uintptr_t>(&rt::test_helper_in_rt), &off);
  ASSERT_NE(name, nullptr);
  EXPECT_EQ(std::string(name), "_ZN2rt17test_helper_in_rtEv");
  EXPECT_EQ(off, 0u);
  // A platform function, named from its object's .dynsym.
  name = rt::sched::symtab_lookup(reinterpret_cast<uintptr_t>(&pthread_mutex_lock), nullptr);
  ASSERT_NE(name, nullptr);
  EXPECT_NE(std::string(name).find("mutex_lock"), std::string::npos) << name;
  EXPECT_EQ(rt::sched::symtab_lookup(0, nullptr), nullptr);
  int local = 0;
  EXPECT_EQ(rt::sched::symtab_lookup(reinterpret_cast<uintptr_t>(&local), nullptr), nullptr);
}

TEST_F(SchedSymtab, NameRules) {
  using rt::sched::symtab_is_unsafe_name;
  for (const char* n : {
           "_ZN2rt6detail5fatalESt17basic_string_viewIcSt11char_traitsIcEE",
           "_ZNK2rt4ChanIiE3lenEv",                            // const member function
           "_ZN2rt4ChanIiE4sendEi",                            // template instantiation
           "_ZZN2rt5sched4goIZ4mainEUlvE_EEvOT_ENKUlvE_clEv",  // lambda in an rt function
           "_ZZNK2rt3FooclEvE1x",                              // local entity of a const member
           "_ZNO2rt3Foo3getEv",
           "_ZNKR2rt3Foo3getEv",                 // ref-qualified
           "_ZThn16_N2rt3Foo3barEv",             // non-virtual thunk
           "_ZTv0_n24_N2rt3Foo3barEv",           // virtual thunk
           "_ZTWN2rt6detail15t_runtime_locksE",  // TLS wrapper
           "_ZN2rt5sched8scheduleEv.cold",
           "_ZN2rt5sched8scheduleEv.part.0",
           "rt_async_preempt_trampoline",
           "rt_async_preempt_park",
           "rt_anything",
           "__asan_report_load8",
           "__tsan_read8",
           "__interceptor_malloc",
           "_ZN11__sanitizer14internal_memcpyEPvPKvm",
           "_ZN6__tsan9ThreadSt",
           "__cxa_throw",
           "_Unwind_RaiseException",
           "__gxx_personality_v0",
       })
    EXPECT_TRUE(symtab_is_unsafe_name(n)) << n;
  for (const char* n : {
           "main",
           "_Z19plain_user_functionv",
           "_ZZ4mainENKUlvE_clEv",
           // Thunks of rt that only run the user's callable (inlined there).
           "_ZN2rt5sched4TaskUlPvE5_4_FUNES2_",
           "_ZNK2rt5sched4TaskUlPvE5_clES2_",
           "_ZZN2rt2goIZ4mainEUlvE_EEvOT_ENUlPvE_4_FUNES3_",
           "_ZZN2rt3runIZ4mainEUlvE_EEiiPPcOT_ENKUlvE_clEv",
           "_ZN3app2rt3runEv",  // a namespace rt inside another: not librt
           "_ZN3rtx3runEv",
           "_ZN4rtxx3runEv",
           "_ZN21rt_is_not_a_namespaceEv",
           "_Z3fooRN2rt4ChanIiEE",  // takes an rt type: still user code
           "_ZNSt6vectorIPN2rt5sched1GESaIS3_EE9push_backERKS3_",
           "_ZN9__gnu_cxx17__normal_iteratorIPiSt6vectorIiSaIiEEEppEv",
           "write",
           "memcpy",
           "rtfoo",
           "_ZN",
           "_Z",
           "",
       })
    EXPECT_FALSE(symtab_is_unsafe_name(n)) << n;
  EXPECT_FALSE(symtab_is_unsafe_name(nullptr));
}

}  // namespace
