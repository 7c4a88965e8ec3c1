// Go-style command-line flags for the rt-bench-* programs: `-name value`,
// `-name=value` or `--name value`, integers only. An unknown flag or a bad
// value prints one line and exits with status 2, as Go's flag package does.
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace rt_bench {

class Flags {
 public:
  Flags(const char* program) : program_(program) {}

  void add(const char* name, int64_t* value, const char* help) {
    flags_.push_back({name, value, help});
  }

  void parse(int argc, char** argv) {
    for (int i = 1; i < argc; i++) {
      std::string arg = argv[i];
      if (arg == "-h" || arg == "-help" || arg == "--help") usage(0);
      if (arg.size() < 2 || arg[0] != '-') fail("unexpected argument '" + arg + "'");
      size_t start = arg[1] == '-' ? 2 : 1;
      std::string name = arg.substr(start), value;
      size_t eq = name.find('=');
      if (eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
      } else {
        if (i + 1 >= argc) fail("flag needs an argument: -" + name);
        value = argv[++i];
      }
      Flag* f = find(name);
      if (!f) fail("flag provided but not defined: -" + name);
      errno = 0;
      char* end = nullptr;
      long long v = strtoll(value.c_str(), &end, 10);
      if (errno != 0 || end == value.c_str() || *end != '\0' || v < 0)
        fail("invalid value \"" + value + "\" for flag -" + name + ": want a non-negative integer");
      *f->value = v;
    }
  }

 private:
  struct Flag {
    const char* name;
    int64_t* value;
    const char* help;
  };

  Flag* find(const std::string& name) {
    for (Flag& f : flags_)
      if (name == f.name) return &f;
    return nullptr;
  }

  [[noreturn]] void fail(const std::string& msg) {
    fprintf(stderr, "%s: %s\n", program_, msg.c_str());
    exit(2);
  }

  [[noreturn]] void usage(int status) {
    fprintf(stderr, "usage: %s [flags]\n", program_);
    for (Flag& f : flags_)
      fprintf(stderr, "  -%s int\n        %s (default %lld)\n", f.name, f.help,
              static_cast<long long>(*f.value));
    exit(status);
  }

  const char* program_;
  std::vector<Flag> flags_;
};

}  // namespace rt_bench
