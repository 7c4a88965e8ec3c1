// Shared helpers of the C++ benchmark peers: Go-style flag parsing
// (-name value, -name=value, --name, bool flags), a monotonic clock,
// nearest-rank percentiles, and a barrier that keeps the optimizer from
// removing an allocation. Header-only; each peer is one translation unit.
#pragma once

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <string>
#include <vector>

namespace peer {

// Flags in Go's spelling. Errors print one line and exit with status 2,
// as Go's flag package does.
class Flags {
 public:
  explicit Flags(const char* prog) : prog_(prog) {}

  int64_t& int_flag(const char* name, int64_t def, const char* help) {
    defs_.push_back({name, help, false, def, false});
    return defs_.back().ival;
  }
  bool& bool_flag(const char* name, const char* help) {
    defs_.push_back({name, help, true, 0, false});
    return defs_.back().bval;
  }

  void parse(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
      std::string arg = argv[i];
      if (arg == "--") {
        if (i + 1 < argc) fail("unexpected argument: " + std::string(argv[i + 1]));
        return;
      }
      if (arg.size() < 2 || arg[0] != '-') fail("unexpected argument: " + arg);
      size_t start = (arg[1] == '-') ? 2 : 1;
      std::string name = arg.substr(start), value;
      bool has_value = false;
      if (auto eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name.resize(eq);
        has_value = true;
      }
      if (name == "h" || name == "help") {
        usage(stdout);
        std::exit(0);
      }
      Def* d = find(name);
      if (d == nullptr) fail("flag provided but not defined: -" + name);
      if (d->is_bool) {
        if (!has_value || value == "true" || value == "1") {
          d->bval = true;
        } else if (value == "false" || value == "0") {
          d->bval = false;
        } else {
          fail("invalid boolean value \"" + value + "\" for -" + name);
        }
        continue;
      }
      if (!has_value) {
        if (i + 1 >= argc) fail("flag needs an argument: -" + name);
        value = argv[++i];
      }
      errno = 0;
      char* end = nullptr;
      long long v = std::strtoll(value.c_str(), &end, 0);
      if (value.empty() || *end != '\0' || errno != 0)
        fail("invalid value \"" + value + "\" for flag -" + name + ": parse error");
      d->ival = v;
    }
  }

 private:
  struct Def {
    const char* name;
    const char* help;
    bool is_bool;
    int64_t ival;
    bool bval;
  };

  Def* find(const std::string& name) {
    for (auto& d : defs_)
      if (name == d.name) return &d;
    return nullptr;
  }
  void usage(FILE* f) const {
    std::fprintf(f, "Usage of %s:\n", prog_);
    for (const auto& d : defs_) {
      if (d.is_bool)
        std::fprintf(f, "  -%s\t%s\n", d.name, d.help);
      else
        std::fprintf(f, "  -%s int\t%s (default %lld)\n", d.name, d.help,
                     static_cast<long long>(d.ival));
    }
  }
  [[noreturn]] void fail(const std::string& msg) const {
    std::fprintf(stderr, "%s: %s\n", prog_, msg.c_str());
    std::exit(2);
  }

  const char* prog_;
  std::deque<Def> defs_;  // deque: references handed out stay valid
};

// Exits with status 2 and one line when a flag value is out of range.
inline void require(bool ok, const char* prog, const char* msg) {
  if (!ok) {
    std::fprintf(stderr, "%s: %s\n", prog, msg);
    std::exit(2);
  }
}

using Clock = std::chrono::steady_clock;

inline int64_t ns_since(Clock::time_point t0, Clock::time_point t1 = Clock::now()) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count();
}

// Nearest-rank quantile num/den of ascending values: sorted[ceil(q*n)-1].
template <typename T>
T rank(const std::vector<T>& sorted, int64_t num, int64_t den) {
  int64_t n = static_cast<int64_t>(sorted.size());
  if (n == 0) return T{};
  int64_t idx = (n * num + den - 1) / den - 1;
  idx = std::clamp<int64_t>(idx, 0, n - 1);
  return sorted[static_cast<size_t>(idx)];
}

// Makes the compiler assume p escapes and its memory is read, so an
// allocation followed by a free cannot be elided.
inline void escape(void* p) {
  asm volatile("" : : "r"(p) : "memory");
}

}  // namespace peer
