// Configuration from the environment: each parser on valid, malformed,
// negative, overflowing and empty input; config() end to end in child
// processes (its values are fixed at the first call), including the exit
// path for a bad value, and a table of bad values for every variable (one
// child each: one line naming the variable, value and form, exit 2);
// usable_cpus() and the cgroup quota reader on fake
// /proc and /sys/fs/cgroup trees.
#include "runtime/env.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace rt::detail {
namespace {

class EnvTest : public testing::Test {
 protected:
  static void SetUpTestSuite() { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

void clear_rt_env() {
  for (const char* v : {"RT_GOGC", "RT_MEMLIMIT", "RT_MAXPROCS", "RT_STACKSIZE", "RT_DEBUG"})
    unsetenv(v);
}

TEST_F(EnvTest, ParseGogc) {
  EXPECT_EQ(parse_gogc("100"), 100);
  EXPECT_EQ(parse_gogc("0"), 0);
  EXPECT_EQ(parse_gogc("50"), 50);
  EXPECT_EQ(parse_gogc("off"), -1);
  EXPECT_EQ(parse_gogc("2147483647"), 2147483647);
  EXPECT_EQ(parse_gogc("-0"), 0);  // Go's atoi accepts it
  for (const char* bad : {"", "abc", "OFF", "Off", "on", "-1", "-100", "+5", " 5", "5 ", "1e3",
                          "0x10", "10%", "2147483648", "99999999999999999999", "-"})
    EXPECT_EQ(parse_gogc(bad), std::nullopt) << bad;
  EXPECT_EQ(parse_gogc(nullptr), std::nullopt);
}

TEST_F(EnvTest, ParseBytes) {
  EXPECT_EQ(parse_bytes("0"), 0);
  EXPECT_EQ(parse_bytes("123"), 123);
  EXPECT_EQ(parse_bytes("123B"), 123);
  EXPECT_EQ(parse_bytes("0B"), 0);
  EXPECT_EQ(parse_bytes("1KiB"), 1024);
  EXPECT_EQ(parse_bytes("64MiB"), 67108864);
  EXPECT_EQ(parse_bytes("3GiB"), int64_t{3} << 30);
  EXPECT_EQ(parse_bytes("2TiB"), int64_t{2} << 40);
  EXPECT_EQ(parse_bytes("9223372036854775807"), INT64_MAX);
  EXPECT_EQ(parse_bytes("9223372036854775807B"), INT64_MAX);
  EXPECT_EQ(parse_bytes("8388607TiB"), int64_t{8388607} << 40);
  constexpr const char* kBad[] = {"",
                                  "B",
                                  "KiB",
                                  "iB",
                                  "abc",
                                  "1K",
                                  "1KB",
                                  "1kib",
                                  "1kiB",
                                  "1Kib",
                                  "1MB",
                                  "1mb",
                                  "1PiB",
                                  "1EiB",
                                  "1 MiB",
                                  "1.5GiB",
                                  "-1",
                                  "-1B",
                                  "-1KiB",
                                  "+1",
                                  "1BB",
                                  "1iB",
                                  "0x10",
                                  "9223372036854775808",
                                  "9223372036854775808B",
                                  "8388608TiB",
                                  "9007199254740992KiB",
                                  "99999999999999999999MiB",
                                  "off"};
  for (const char* bad : kBad) EXPECT_EQ(parse_bytes(bad), std::nullopt) << bad;
  EXPECT_EQ(parse_bytes(nullptr), std::nullopt);
}

TEST_F(EnvTest, ParsePositiveInt) {
  EXPECT_EQ(parse_positive_int("1"), 1);
  EXPECT_EQ(parse_positive_int("8"), 8);
  EXPECT_EQ(parse_positive_int("2147483647"), 2147483647);
  for (const char* bad :
       {"", "0", "-0", "-1", "x", "4x", "+4", " 4", "2147483648", "18446744073709551616"})
    EXPECT_EQ(parse_positive_int(bad), std::nullopt) << bad;
  EXPECT_EQ(parse_positive_int(nullptr), std::nullopt);
}

std::string bad_item(const char* s) {
  const char* b = nullptr;
  const char* e = nullptr;
  auto d = parse_debug(s, &b, &e);
  EXPECT_FALSE(d.has_value()) << s;
  if (d.has_value() || b == nullptr || e == nullptr) return "<none>";
  return std::string(b, e);
}

TEST_F(EnvTest, ParseDebug) {
  const char* b = nullptr;
  const char* e = nullptr;
  auto d = parse_debug("", &b, &e);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->gctrace, 0);
  EXPECT_EQ(d->schedtrace, 0);
  ASSERT_TRUE(parse_debug(nullptr, &b, &e).has_value());

  d = parse_debug(
      "gctrace=1,schedtrace=1000,scheddetail=1,asyncpreemptoff=1,gccheckmark=1,"
      "gcstoptheworld=2,scavtrace=1",
      &b, &e);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->gctrace, 1);
  EXPECT_EQ(d->schedtrace, 1000);
  EXPECT_EQ(d->scheddetail, 1);
  EXPECT_EQ(d->asyncpreemptoff, 1);
  EXPECT_EQ(d->gccheckmark, 1);
  EXPECT_EQ(d->gcstoptheworld, 2);
  EXPECT_EQ(d->scavtrace, 1);

  d = parse_debug("gctrace=1,gctrace=2", &b, &e);  // later wins, as in Go
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->gctrace, 2);
  d = parse_debug("gctrace=1,,scavtrace=1,", &b, &e);  // empty items are skipped
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->gctrace, 1);
  EXPECT_EQ(d->scavtrace, 1);
  d = parse_debug(",", &b, &e);
  ASSERT_TRUE(d.has_value());

  EXPECT_EQ(bad_item("gctrace=1,bogus=1"), "bogus=1");
  EXPECT_EQ(bad_item("gctrace"), "gctrace");
  EXPECT_EQ(bad_item("gctrace="), "gctrace=");
  EXPECT_EQ(bad_item("gctrace=x,scavtrace=1"), "gctrace=x");
  EXPECT_EQ(bad_item("gctrace=-1"), "gctrace=-1");
  EXPECT_EQ(bad_item("schedtrace=99999999999"), "schedtrace=99999999999");
  EXPECT_EQ(bad_item("GCTRACE=1"), "GCTRACE=1");
  EXPECT_EQ(bad_item("gctrace =1"), "gctrace =1");
  EXPECT_EQ(bad_item("=1"), "=1");
  EXPECT_EQ(bad_item("scavtrace=1,gctrace=1=2"), "gctrace=1=2");
}

// config() in a fresh child: the named variables set, the others unset.
#define EXPECT_CONFIG(setup, check)           \
  EXPECT_EXIT(                                \
      {                                       \
        clear_rt_env();                       \
        setup;                                \
        const Config& c = config();           \
        bool ok = (check) && &config() == &c; \
        std::fprintf(stderr, "ok=%d\n", ok);  \
        std::_Exit(ok ? 0 : 1);               \
      },                                      \
      testing::ExitedWithCode(0), "ok=1")

TEST_F(EnvTest, ConfigDefaults) {
  EXPECT_CONFIG((void)0, c.gogc == 100 && !c.memlimit && !c.maxprocs && !c.stacksize &&
                             c.debug.gctrace == 0 && c.debug.schedtrace == 0);
  // Empty values count as unset.
  EXPECT_CONFIG(
      (setenv("RT_GOGC", "", 1), setenv("RT_MEMLIMIT", "", 1), setenv("RT_MAXPROCS", "", 1),
       setenv("RT_STACKSIZE", "", 1), setenv("RT_DEBUG", "", 1)),
      c.gogc == 100 && !c.memlimit && !c.maxprocs && !c.stacksize);
}

TEST_F(EnvTest, ConfigValues) {
  EXPECT_CONFIG((setenv("RT_GOGC", "off", 1), setenv("RT_MEMLIMIT", "512MiB", 1),
                 setenv("RT_MAXPROCS", "3", 1), setenv("RT_STACKSIZE", "64KiB", 1),
                 setenv("RT_DEBUG", "gctrace=1,schedtrace=500", 1)),
                c.gogc == -1 && c.memlimit == (int64_t{512} << 20) && c.maxprocs == 3 &&
                    c.stacksize == (int64_t{64} << 10) && c.debug.gctrace == 1 &&
                    c.debug.schedtrace == 500);
  EXPECT_CONFIG((setenv("RT_GOGC", "250", 1), setenv("RT_MEMLIMIT", "off", 1),
                 setenv("RT_STACKSIZE", "16384", 1)),
                c.gogc == 250 && !c.memlimit && c.stacksize == 16384);
  EXPECT_CONFIG(setenv("RT_STACKSIZE", "1GiB", 1), c.stacksize == (int64_t{1} << 30));
}

#define EXPECT_BAD(var, value, regex) \
  EXPECT_EXIT(                        \
      {                               \
        clear_rt_env();               \
        setenv(var, value, 1);        \
        (void)config();               \
        std::_Exit(0);                \
      },                              \
      testing::ExitedWithCode(2), regex)

TEST_F(EnvTest, ConfigRejectsMalformedValues) {
  EXPECT_BAD("RT_GOGC", "abc",
             "^librt: invalid RT_GOGC=\"abc\": want a non-negative integer percent or "
             "\"off\"\n$");
  EXPECT_BAD("RT_GOGC", "-5", "^librt: invalid RT_GOGC=\"-5\": want ");
  EXPECT_BAD("RT_MEMLIMIT", "12XB",
             "^librt: invalid RT_MEMLIMIT=\"12XB\": want a non-negative byte count with "
             "optional suffix B, KiB, MiB, GiB or TiB, or \"off\"\n$");
  EXPECT_BAD("RT_MEMLIMIT", "99999999TiB", "^librt: invalid RT_MEMLIMIT=\"99999999TiB\"");
  EXPECT_BAD("RT_MAXPROCS", "0", "^librt: invalid RT_MAXPROCS=\"0\": want an integer from 1 to 1024\n$");
  EXPECT_BAD("RT_MAXPROCS", "two", "^librt: invalid RT_MAXPROCS=\"two\"");
  EXPECT_BAD("RT_STACKSIZE", "8KiB",
             "^librt: invalid RT_STACKSIZE=\"8KiB\": want a byte count from 16KiB to 1GiB "
             "with optional suffix B, KiB, MiB, GiB or TiB\n$");
  EXPECT_BAD("RT_STACKSIZE", "2GiB", "^librt: invalid RT_STACKSIZE=\"2GiB\"");
  EXPECT_BAD("RT_DEBUG", "gctrace=1,nosuch=2",
             "^librt: invalid RT_DEBUG=\"gctrace=1,nosuch=2\": bad item \"nosuch=2\"; want a "
             "comma-separated list of name=N \\(N >= 0\\), names: gctrace, schedtrace, "
             "scheddetail, asyncpreemptoff, gccheckmark, gcstoptheworld, scavtrace\n$");
  // Odd bytes are escaped, so the message stays one line.
  EXPECT_BAD("RT_GOGC", "a\"b\nc", "^librt: invalid RT_GOGC=\"a\\\\\"b\\\\x0ac\": want ");
}

// The bad-input table: every variable with malformed, negative,
// overflowing and out-of-range values, one child per case. Each must print
// exactly one line naming the variable, the value (quoted) and the accepted
// form, and exit with status 2. (Empty values count as unset: see
// ConfigDefaults.)
struct BadCase {
  const char* var;
  const char* value;
};

constexpr BadCase kBadCases[] = {
    // RT_GOGC: percent >= 0 or "off".
    {"RT_GOGC", "abc"},
    {"RT_GOGC", " "},
    {"RT_GOGC", "1e3"},
    {"RT_GOGC", "100 "},
    {"RT_GOGC", "+5"},
    {"RT_GOGC", "-"},
    {"RT_GOGC", "OFF"},
    {"RT_GOGC", "-1"},
    {"RT_GOGC", "-2147483648"},
    {"RT_GOGC", "2147483648"},
    {"RT_GOGC", "99999999999999999999"},
    // RT_MEMLIMIT: byte count with optional suffix, or "off".
    {"RT_MEMLIMIT", "12XB"},
    {"RT_MEMLIMIT", "1.5GiB"},
    {"RT_MEMLIMIT", "1 MiB"},
    {"RT_MEMLIMIT", "1mib"},
    {"RT_MEMLIMIT", "64MB"},
    {"RT_MEMLIMIT", "B"},
    {"RT_MEMLIMIT", "Off"},
    {"RT_MEMLIMIT", "-1"},
    {"RT_MEMLIMIT", "-5MiB"},
    {"RT_MEMLIMIT", "9223372036854775808"},
    {"RT_MEMLIMIT", "8388608TiB"},
    {"RT_MEMLIMIT", "99999999999999999999KiB"},
    // RT_MAXPROCS: 1 to 1024.
    {"RT_MAXPROCS", "two"},
    {"RT_MAXPROCS", "1.5"},
    {"RT_MAXPROCS", "4 "},
    {"RT_MAXPROCS", "0"},
    {"RT_MAXPROCS", "-1"},
    {"RT_MAXPROCS", "-2147483649"},
    {"RT_MAXPROCS", "1025"},
    {"RT_MAXPROCS", "2147483648"},
    {"RT_MAXPROCS", "18446744073709551617"},
    // RT_STACKSIZE: 16 KiB to 1 GiB.
    {"RT_STACKSIZE", "big"},
    {"RT_STACKSIZE", "64kb"},
    {"RT_STACKSIZE", "-64KiB"},
    {"RT_STACKSIZE", "0"},
    {"RT_STACKSIZE", "8KiB"},
    {"RT_STACKSIZE", "16383"},
    {"RT_STACKSIZE", "1073741825"},
    {"RT_STACKSIZE", "2GiB"},
    {"RT_STACKSIZE", "9223372036854775808"},
    {"RT_STACKSIZE", "99999999999999999999KiB"},
    // RT_DEBUG: name=N items; each key with a malformed, a negative and an
    // overflowing value, then unknown and shapeless items.
    {"RT_DEBUG", "gctrace=x"},
    {"RT_DEBUG", "gctrace=-1"},
    {"RT_DEBUG", "gctrace=2147483648"},
    {"RT_DEBUG", "schedtrace=1s"},
    {"RT_DEBUG", "schedtrace=-1000"},
    {"RT_DEBUG", "schedtrace=99999999999"},
    {"RT_DEBUG", "scheddetail=yes"},
    {"RT_DEBUG", "scheddetail=-1"},
    {"RT_DEBUG", "scheddetail=2147483648"},
    {"RT_DEBUG", "asyncpreemptoff=true"},
    {"RT_DEBUG", "asyncpreemptoff=-1"},
    {"RT_DEBUG", "asyncpreemptoff=2147483648"},
    {"RT_DEBUG", "gccheckmark=on"},
    {"RT_DEBUG", "gccheckmark=-1"},
    {"RT_DEBUG", "gccheckmark=2147483648"},
    {"RT_DEBUG", "gcstoptheworld=1.0"},
    {"RT_DEBUG", "gcstoptheworld=-2"},
    {"RT_DEBUG", "gcstoptheworld=2147483648"},
    {"RT_DEBUG", "scavtrace= 1"},
    {"RT_DEBUG", "scavtrace=-1"},
    {"RT_DEBUG", "scavtrace=2147483648"},
    {"RT_DEBUG", "gctrace"},
    {"RT_DEBUG", "gctrace="},
    {"RT_DEBUG", "=1"},
    {"RT_DEBUG", "nosuch=1"},
    {"RT_DEBUG", "gctrace=1,GCTRACE=1"},
    {"RT_DEBUG", "gctrace=1;scavtrace=1"},
};

// The accepted form each variable's message must name.
const char* want_of(std::string_view var) {
  if (var == "RT_GOGC") return "a non-negative integer percent or \"off\"";
  if (var == "RT_MEMLIMIT")
    return "a non-negative byte count with optional suffix B, KiB, MiB, GiB or TiB, or \"off\"";
  if (var == "RT_MAXPROCS") return "an integer from 1 to 1024";
  if (var == "RT_STACKSIZE")
    return "a byte count from 16KiB to 1GiB with optional suffix B, KiB, MiB, GiB or TiB";
  return "a comma-separated list of name=N (N >= 0), names: gctrace, schedtrace, scheddetail, "
         "asyncpreemptoff, gccheckmark, gcstoptheworld, scavtrace";
}

std::string regex_quote(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

class EnvBadValue : public testing::TestWithParam<BadCase> {
 protected:
  static void SetUpTestSuite() { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

TEST_P(EnvBadValue, OneLineNamingVariableValueAndFormThenExit2) {
  const BadCase& c = GetParam();
  // RT_DEBUG's line also quotes the offending item before "want".
  std::string line = "^librt: invalid " + std::string(c.var) + "=\"" + regex_quote(c.value) +
                     "\": " + (std::string_view(c.var) == "RT_DEBUG" ? "bad item \"[^\n]*\"; " : "") +
                     "want " + regex_quote(want_of(c.var)) + "\n$";
  EXPECT_BAD(c.var, c.value, line);
}

INSTANTIATE_TEST_SUITE_P(Table, EnvBadValue, testing::ValuesIn(kBadCases),
                         [](const testing::TestParamInfo<BadCase>& info) {
                           return std::string(info.param.var + 3) + "_" +
                                  std::to_string(info.index);
                         });

TEST_F(EnvTest, UsableCpus) {
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(sched_getaffinity(0, sizeof(set), &set), 0);
  int affinity = CPU_COUNT(&set);
  int n = usable_cpus();
  EXPECT_GE(n, 1);
  EXPECT_LE(n, affinity);
  if (auto limit = cgroup_cpu_limit("")) {
    EXPECT_LE(n, *limit);
  }
}

TEST_F(EnvTest, UsableCpusFollowsAffinity) {
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(sched_getaffinity(0, sizeof(set), &set), 0);
  int first = -1;
  for (int i = 0; i < CPU_SETSIZE && first < 0; i++)
    if (CPU_ISSET(i, &set)) first = i;
  ASSERT_GE(first, 0);
  EXPECT_EXIT(
      {
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(first, &one);
        if (sched_setaffinity(0, sizeof(one), &one) != 0) std::_Exit(3);
        std::_Exit(usable_cpus() == 1 ? 0 : 1);
      },
      testing::ExitedWithCode(0), "");
}

// A fake root holding proc/self/{cgroup,mountinfo} and cgroup files.
class FakeRoot {
 public:
  FakeRoot() {
    char tmpl[] = "/tmp/rt-env-test-XXXXXX";
    char* d = mkdtemp(tmpl);
    EXPECT_NE(d, nullptr);
    root_ = d != nullptr ? d : "/nonexistent";
  }
  ~FakeRoot() { std::filesystem::remove_all(root_); }
  void write(const std::string& rel, const std::string& text) {
    std::filesystem::path p = root_ + rel;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p) << text;
  }
  const char* path() const { return root_.c_str(); }

 private:
  std::string root_;
};

constexpr const char* kV2Mount =
    "30 22 0:27 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 "
    "rw,nsdelegate\n";
constexpr const char* kV1Mount =
    "21 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n"
    "31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
    "32 30 0:29 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n";

TEST_F(EnvTest, CgroupV2Quota) {
  FakeRoot r;
  r.write("/proc/self/cgroup", "0::/app/worker\n");
  r.write("/proc/self/mountinfo", kV2Mount);
  r.write("/sys/fs/cgroup/cpu.max", "max 100000\n");
  r.write("/sys/fs/cgroup/app/worker/cpu.max", "max 100000\n");
  EXPECT_EQ(cgroup_cpu_limit(r.path()), std::nullopt);
  r.write("/sys/fs/cgroup/app/worker/cpu.max", "150000 100000\n");
  EXPECT_EQ(cgroup_cpu_limit(r.path()), 2);  // 1.5 CPUs round up
  r.write("/sys/fs/cgroup/app/worker/cpu.max", "200000 100000\n");
  EXPECT_EQ(cgroup_cpu_limit(r.path()), 2);
  r.write("/sys/fs/cgroup/app/worker/cpu.max", "10000 100000\n");
  EXPECT_EQ(cgroup_cpu_limit(r.path()), 1);  // a tenth of a CPU still gets one
  // An ancestor's tighter limit applies too.
  r.write("/sys/fs/cgroup/app/worker/cpu.max", "800000 100000\n");
  r.write("/sys/fs/cgroup/app/cpu.max", "300000 100000\n");
  EXPECT_EQ(cgroup_cpu_limit(r.path()), 3);
  r.write("/sys/fs/cgroup/app/cpu.max", "garbage\n");
  EXPECT_EQ(cgroup_cpu_limit(r.path()), 8);
}

TEST_F(EnvTest, CgroupV2RootMountedNamespace) {
  // Inside a cgroup namespace the process sees itself at "/".
  FakeRoot r;
  r.write("/proc/self/cgroup", "0::/\n");
  r.write("/proc/self/mountinfo", kV2Mount);
  EXPECT_EQ(cgroup_cpu_limit(r.path()), std::nullopt);
  r.write("/sys/fs/cgroup/cpu.max", "400000 100000\n");
  EXPECT_EQ(cgroup_cpu_limit(r.path()), 4);
}

TEST_F(EnvTest, CgroupV2MountRootNotSlash) {
  FakeRoot r;
  r.write("/proc/self/cgroup", "0::/kubepods/pod1/ctr\n");
  r.write("/proc/self/mountinfo",
          "30 22 0:27 /kubepods/pod1 /sys/fs/cgroup ro - cgroup2 cgroup2 rw\n");
  r.write("/sys/fs/cgroup/ctr/cpu.max", "250000 100000\n");
  EXPECT_EQ(cgroup_cpu_limit(r.path()), 3);
}

TEST_F(EnvTest, CgroupV1Quota) {
  FakeRoot r;
  r.write("/proc/self/cgroup", "5:cpuset:/\n4:cpu,cpuacct:/svc\n1:name=systemd:/svc\n0::/\n");
  r.write("/proc/self/mountinfo", kV1Mount);
  r.write("/sys/fs/cgroup/cpu,cpuacct/svc/cpu.cfs_quota_us", "-1\n");
  r.write("/sys/fs/cgroup/cpu,cpuacct/svc/cpu.cfs_period_us", "100000\n");
  EXPECT_EQ(cgroup_cpu_limit(r.path()), std::nullopt);
  r.write("/sys/fs/cgroup/cpu,cpuacct/svc/cpu.cfs_quota_us", "250000\n");
  EXPECT_EQ(cgroup_cpu_limit(r.path()), 3);
  r.write("/sys/fs/cgroup/cpu,cpuacct/svc/cpu.cfs_quota_us", "50000\n");
  r.write("/sys/fs/cgroup/cpu,cpuacct/svc/cpu.cfs_period_us", "100000\n");
  EXPECT_EQ(cgroup_cpu_limit(r.path()), 1);
}

TEST_F(EnvTest, CgroupV1WithoutMountinfoUsesDefaultPath) {
  FakeRoot r;
  r.write("/proc/self/cgroup", "3:cpu:/\n");
  r.write("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "300000\n");
  r.write("/sys/fs/cgroup/cpu/cpu.cfs_period_us", "100000\n");
  EXPECT_EQ(cgroup_cpu_limit(r.path()), 3);
}

TEST_F(EnvTest, CgroupMountpointWithSpace) {
  FakeRoot r;
  r.write("/proc/self/cgroup", "0::/a\n");
  r.write("/proc/self/mountinfo", "30 22 0:27 / /cg\\040root rw - cgroup2 none rw\n");
  r.write("/cg root/a/cpu.max", "100000 100000\n");
  EXPECT_EQ(cgroup_cpu_limit(r.path()), 1);
}

TEST_F(EnvTest, CgroupMissingFiles) {
  FakeRoot r;
  EXPECT_EQ(cgroup_cpu_limit(r.path()), std::nullopt);  // no /proc/self/cgroup
  r.write("/proc/self/cgroup", "0::/x\n");
  r.write("/proc/self/mountinfo", kV2Mount);
  EXPECT_EQ(cgroup_cpu_limit(r.path()), std::nullopt);  // no cpu.max anywhere
}

}  // namespace
}  // namespace rt::detail
