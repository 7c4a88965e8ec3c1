// Configuration from the environment. See env.h for the variables.
//
// Syntax follows Go's runtime: integers are decimal with an optional '-'
// and no '+', spaces or base prefixes, and overflow is an error (Go's
// atoi32/atoi64); byte counts follow Go's parseByteCount (a plain number,
// or a number followed by B, KiB, MiB, GiB or TiB, case-sensitive). Unlike
// Go, which silently ignores a malformed value, a malformed value stops
// start-up: the user asked for something and should learn it was not done.
// An empty variable counts as unset, as in Go.
//
// config() parses once (a function-local static: thread-safe, and every
// caller sees the same values). Error output is written with write(2) and
// the process ends with _exit(2): start-up may be running beside other
// threads, and static destructors must not run under them.
//
// usable_cpus() is the affinity mask's size capped by the cgroup CPU quota.
// The process's cgroup comes from /proc/self/cgroup and the hierarchies'
// mount points from /proc/self/mountinfo; the quota is read at the cgroup
// and at every ancestor up to the mount point, since any of them can
// throttle the process, and the smallest one wins.
#include "runtime/env.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace rt::detail {

namespace {

constexpr int64_t kMinStackSize = int64_t{16} << 10;
constexpr int64_t kMaxStackSize = int64_t{1} << 30;

// Go's atoi64: optional '-', at least one digit, nothing else, no overflow.
std::optional<int64_t> atoi64(std::string_view s) {
  bool neg = false;
  if (!s.empty() && s[0] == '-') {
    neg = true;
    s.remove_prefix(1);
  }
  if (s.empty()) return std::nullopt;
  uint64_t un = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    if (un > UINT64_MAX / 10) return std::nullopt;
    un *= 10;
    uint64_t un1 = un + static_cast<uint64_t>(c - '0');
    if (un1 < un) return std::nullopt;
    un = un1;
  }
  if (!neg && un > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
  if (neg && un > static_cast<uint64_t>(INT64_MAX) + 1) return std::nullopt;
  return neg ? static_cast<int64_t>(~un + 1) : static_cast<int64_t>(un);
}

std::optional<int> atoi32(std::string_view s) {
  auto v = atoi64(s);
  if (!v || *v < INT32_MIN || *v > INT32_MAX) return std::nullopt;
  return static_cast<int>(*v);
}

struct DebugName {
  const char* name;
  int DebugVars::*field;
};
constexpr DebugName kDebugNames[] = {
    {"gctrace", &DebugVars::gctrace},         {"schedtrace", &DebugVars::schedtrace},
    {"scheddetail", &DebugVars::scheddetail}, {"asyncpreemptoff", &DebugVars::asyncpreemptoff},
    {"gccheckmark", &DebugVars::gccheckmark}, {"gcstoptheworld", &DebugVars::gcstoptheworld},
    {"scavtrace", &DebugVars::scavtrace},
};

// Appends `s` quoted as Go's %q would for ASCII: one line whatever it holds.
void append_quoted(std::string& out, std::string_view s) {
  constexpr size_t kMaxShown = 256;
  out += '"';
  size_t n = s.size() < kMaxShown ? s.size() : kMaxShown;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += "0123456789abcdef"[c >> 4];
      out += "0123456789abcdef"[c & 15];
    }
  }
  out += '"';
  if (n < s.size()) out += "...";
}

[[noreturn]] void bad_value(const char* var, const char* value, std::string_view detail,
                            std::string_view want) {
  std::string line = "librt: invalid ";
  line += var;
  line += '=';
  append_quoted(line, value);
  line += ": ";
  line += detail;
  line += "want ";
  line += want;
  line += '\n';
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t w = ::write(STDERR_FILENO, p, left);
    if (w <= 0) break;
    p += w;
    left -= static_cast<size_t>(w);
  }
  _exit(2);
}

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : nullptr;
}

Config load_config() {
  Config c;
  constexpr std::string_view kBytes = "B, KiB, MiB, GiB or TiB";
  if (const char* v = env("RT_GOGC")) {
    auto g = parse_gogc(v);
    if (!g) bad_value("RT_GOGC", v, "", "a non-negative integer percent or \"off\"");
    c.gogc = *g;
  }
  if (const char* v = env("RT_MEMLIMIT")) {
    if (std::strcmp(v, "off") != 0) {  // Go's GOMEMLIMIT=off: no limit
      auto b = parse_bytes(v);
      if (!b)
        bad_value("RT_MEMLIMIT", v, "",
                  std::string("a non-negative byte count with optional suffix ") +
                      std::string(kBytes) + ", or \"off\"");
      c.memlimit = *b;
    }
  }
  if (const char* v = env("RT_MAXPROCS")) {
    auto n = parse_positive_int(v);
    if (!n || *n > kMaxProcs) bad_value("RT_MAXPROCS", v, "", "an integer from 1 to 1024");
    c.maxprocs = *n;
  }
  if (const char* v = env("RT_STACKSIZE")) {
    auto b = parse_bytes(v);
    if (!b || *b < kMinStackSize || *b > kMaxStackSize)
      bad_value("RT_STACKSIZE", v, "",
                std::string("a byte count from 16KiB to 1GiB with optional suffix ") +
                    std::string(kBytes));
    c.stacksize = *b;
  }
  if (const char* v = env("RT_DEBUG")) {
    const char* b = nullptr;
    const char* e = nullptr;
    auto d = parse_debug(v, &b, &e);
    if (!d) {
      std::string detail = "bad item ";
      append_quoted(detail, std::string_view(b, static_cast<size_t>(e - b)));
      detail += "; ";
      std::string want = "a comma-separated list of name=N (N >= 0), names:";
      for (const DebugName& n : kDebugNames) {
        if (&n != kDebugNames) want += ',';
        want += ' ';
        want += n.name;
      }
      bad_value("RT_DEBUG", v, detail, want);
    }
    c.debug = *d;
  }
  return c;
}

// Reads a whole (small) file; false if it cannot be opened.
bool read_file(const std::string& path, std::string* out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  out->clear();
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    out->append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return true;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  for (;;) {
    size_t i = s.find(sep);
    out.push_back(s.substr(0, i));
    if (i == std::string_view::npos) return out;
    s.remove_prefix(i + 1);
  }
}

bool has_item(std::string_view list, std::string_view item) {
  for (std::string_view x : split(list, ','))
    if (x == item) return true;
  return false;
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape_octal(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3') {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

struct Mount {
  std::string root;  // the hierarchy's directory shown at the mount point
  std::string mountpoint;
  bool found = false;
};

std::optional<int64_t> ceil_div(int64_t quota, int64_t period) {
  if (quota <= 0 || period <= 0) return std::nullopt;
  return (quota + period - 1) / period;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.remove_suffix(1);
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  return s;
}

// The CPU limit set in one cgroup directory, v2 (cpu.max) or v1.
std::optional<int64_t> dir_limit(const std::string& dir, bool v2) {
  std::string text;
  if (v2) {
    if (!read_file(dir + "/cpu.max", &text)) return std::nullopt;
    auto f = split(trim(text), ' ');
    if (f.size() != 2 || f[0] == "max") return std::nullopt;
    auto q = atoi64(f[0]), p = atoi64(f[1]);
    if (!q || !p) return std::nullopt;
    return ceil_div(*q, *p);
  }
  if (!read_file(dir + "/cpu.cfs_quota_us", &text)) return std::nullopt;
  auto q = atoi64(trim(text));
  if (!read_file(dir + "/cpu.cfs_period_us", &text)) return std::nullopt;
  auto p = atoi64(trim(text));
  if (!q || !p) return std::nullopt;  // quota -1: unlimited, ceil_div says so
  return ceil_div(*q, *p);
}

// The smallest limit from the process's cgroup up to the mount point.
std::optional<int64_t> hierarchy_limit(const std::string& root, const Mount& m,
                                       std::string_view cg_path, bool v2) {
  // The part of the cgroup path below the mount's root. A path outside the
  // mount's view (another cgroup namespace) leaves only the mount point.
  std::string_view rel = cg_path;
  if (m.root != "/") {
    std::string_view r = m.root;
    if (rel.substr(0, r.size()) == r && (rel.size() == r.size() || rel[r.size()] == '/'))
      rel.remove_prefix(r.size());
    else
      rel = "";
  }
  while (!rel.empty() && rel.back() == '/') rel.remove_suffix(1);
  std::optional<int64_t> best;
  for (;;) {
    auto l = dir_limit(root + m.mountpoint + std::string(rel), v2);
    if (l && (!best || *l < *best)) best = l;
    if (rel.empty()) break;
    size_t slash = rel.rfind('/');
    rel = slash == std::string_view::npos ? std::string_view() : rel.substr(0, slash);
  }
  return best;
}

}  // namespace

std::optional<int> parse_gogc(const char* s) {
  if (s == nullptr) return std::nullopt;
  if (std::strcmp(s, "off") == 0) return -1;
  auto v = atoi32(s);
  if (!v || *v < 0) return std::nullopt;
  return v;
}

std::optional<int64_t> parse_bytes(const char* cs) {
  if (cs == nullptr) return std::nullopt;
  std::string_view s = cs;
  if (s.empty()) return std::nullopt;
  char last = s.back();
  if (last >= '0' && last <= '9') {
    auto n = atoi64(s);
    if (!n || *n < 0) return std::nullopt;
    return n;
  }
  // Failing a trailing digit, it must end in 'B' after at least one digit.
  if (last != 'B' || s.size() < 2) return std::nullopt;
  char c = s[s.size() - 2];
  if (c >= '0' && c <= '9') {
    auto n = atoi64(s.substr(0, s.size() - 1));
    if (!n || *n < 0) return std::nullopt;
    return n;
  }
  if (c != 'i' || s.size() < 4) return std::nullopt;
  size_t power = std::string_view("KMGT").find(s[s.size() - 3]);  // KiB is 1024^1
  if (power == std::string_view::npos) return std::nullopt;
  uint64_t m = uint64_t{1} << (10 * (power + 1));
  auto n = atoi64(s.substr(0, s.size() - 3));
  if (!n || *n < 0) return std::nullopt;
  uint64_t un = static_cast<uint64_t>(*n);
  if (un > static_cast<uint64_t>(INT64_MAX) / m) return std::nullopt;  // overflow
  return static_cast<int64_t>(un * m);
}

std::optional<int> parse_positive_int(const char* s) {
  if (s == nullptr) return std::nullopt;
  auto v = atoi32(s);
  if (!v || *v < 1) return std::nullopt;
  return v;
}

std::optional<DebugVars> parse_debug(const char* s, const char** bad_begin, const char** bad_end) {
  DebugVars d;
  if (s == nullptr) return d;
  const char* p = s;
  while (*p != '\0') {
    const char* end = std::strchr(p, ',');
    if (end == nullptr) end = p + std::strlen(p);
    std::string_view item(p, static_cast<size_t>(end - p));
    if (!item.empty()) {  // "a=1,,b=2" and a trailing comma are tolerated, as in Go
      size_t eq = item.find('=');
      bool ok = false;
      if (eq != std::string_view::npos) {
        std::string_view name = item.substr(0, eq);
        auto v = atoi32(item.substr(eq + 1));
        for (const DebugName& n : kDebugNames) {
          if (name == n.name && v && *v >= 0) {
            d.*(n.field) = *v;  // later items override earlier ones
            ok = true;
          }
        }
      }
      if (!ok) {
        if (bad_begin != nullptr) *bad_begin = p;
        if (bad_end != nullptr) *bad_end = end;
        return std::nullopt;
      }
    }
    p = *end == ',' ? end + 1 : end;
  }
  return d;
}

const Config& config() {
  static const Config c = load_config();
  return c;
}

std::optional<int> cgroup_cpu_limit(const char* root_c) {
  std::string root = root_c != nullptr ? root_c : "";
  std::string text;
  if (!read_file(root + "/proc/self/cgroup", &text)) return std::nullopt;
  // "hierarchy-id:controllers:path"; v2 is "0::path".
  std::string v2_path, v1_path;
  bool have_v2 = false, have_v1 = false;
  for (std::string_view line : split(text, '\n')) {
    size_t a = line.find(':');
    if (a == std::string_view::npos) continue;
    size_t b = line.find(':', a + 1);
    if (b == std::string_view::npos) continue;
    std::string_view id = line.substr(0, a), ctl = line.substr(a + 1, b - a - 1);
    std::string_view path = line.substr(b + 1);
    if (id == "0" && ctl.empty()) {
      have_v2 = true;
      v2_path = path;
    } else if (has_item(ctl, "cpu")) {
      have_v1 = true;
      v1_path = path;
    }
  }
  if (!have_v2 && !have_v1) return std::nullopt;

  Mount m2, m1;
  if (read_file(root + "/proc/self/mountinfo", &text)) {
    for (std::string_view line : split(text, '\n')) {
      // id parent major:minor root mountpoint options [optional...] - fstype source superoptions
      size_t dash = line.find(" - ");
      if (dash == std::string_view::npos) continue;
      auto left = split(line.substr(0, dash), ' ');
      auto right = split(line.substr(dash + 3), ' ');
      if (left.size() < 5 || right.size() < 3) continue;
      Mount* m = nullptr;
      if (right[0] == "cgroup2")
        m = &m2;
      else if (right[0] == "cgroup" && has_item(right[2], "cpu"))
        m = &m1;
      if (m == nullptr || m->found) continue;
      m->found = true;
      m->root = unescape_octal(left[3]);
      m->mountpoint = unescape_octal(left[4]);
    }
  }
  // Without mountinfo, assume the usual places.
  if (!m2.found) m2 = Mount{"/", "/sys/fs/cgroup", true};
  if (!m1.found) m1 = Mount{"/", "/sys/fs/cgroup/cpu", true};

  std::optional<int64_t> best;
  if (have_v2) best = hierarchy_limit(root, m2, v2_path, true);
  if (have_v1) {
    auto l = hierarchy_limit(root, m1, v1_path, false);
    if (l && (!best || *l < *best)) best = l;
  }
  if (!best) return std::nullopt;
  if (*best > INT32_MAX) return INT32_MAX;
  return static_cast<int>(*best < 1 ? 1 : *best);
}

int usable_cpus() {
  int n = 0;
  for (int ncpu = 1024; ncpu <= (1 << 20) && n == 0; ncpu *= 2) {
    cpu_set_t* set = CPU_ALLOC(ncpu);
    if (set == nullptr) break;
    size_t size = CPU_ALLOC_SIZE(ncpu);
    CPU_ZERO_S(size, set);
    if (sched_getaffinity(0, size, set) == 0) {
      n = CPU_COUNT_S(size, set);
      if (n == 0) n = 1;
    } else if (errno != EINVAL) {  // EINVAL: the mask is bigger than `size`
      n = -1;
    }
    CPU_FREE(set);
  }
  if (n <= 0) {
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    n = online > 0 ? static_cast<int>(online) : 1;
  }
  if (auto limit = cgroup_cpu_limit(""); limit && *limit < n) n = *limit;
  return n < 1 ? 1 : n;
}

}  // namespace rt::detail
