// Go-style command-line flags for the rt-bench-* programs and rt-lab:
// `-name value`, `-name=value` or `--name value`; integer, string and
// boolean flags (a boolean takes no value: `-name`, or `-name=true|false`).
// An unknown flag or a bad value prints one line and exits with status 2,
// as Go's flag package does; -h / --help prints the flags and exits 0.
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

  // A line printed under "usage:" by --help, e.g. "rt-lab run [flags]".
  void set_usage(std::string line, std::string about = "") {
    usage_ = std::move(line);
    about_ = std::move(about);
  }

  void add(const char* name, int64_t* value, const char* help) {
    flags_.push_back({name, kInt, value, nullptr, nullptr, help});
  }
  void add_string(const char* name, std::string* value, const char* help) {
    flags_.push_back({name, kString, nullptr, value, nullptr, help});
  }
  void add_bool(const char* name, bool* value, const char* help) {
    flags_.push_back({name, kBool, nullptr, nullptr, value, help});
  }

  // Parses argv[first..argc).
  void parse(int argc, char** argv, int first = 1) {
    for (int i = first; i < argc; i++) {
      std::string arg = argv[i];
      if (arg == "-h" || arg == "-help" || arg == "--help") usage(0);
      if (arg.size() < 2 || arg[0] != '-') fail("unexpected argument '" + arg + "'");
      size_t start = arg[1] == '-' ? 2 : 1;
      std::string name = arg.substr(start), value;
      size_t eq = name.find('=');
      bool has_value = eq != std::string::npos;
      if (has_value) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
      }
      Flag* f = find(name);
      if (!f) fail("flag provided but not defined: -" + name);
      if (f->type == kBool) {
        if (!has_value || value == "true" || value == "1") {
          *f->b = true;
        } else if (value == "false" || value == "0") {
          *f->b = false;
        } else {
          fail("invalid boolean value \"" + value + "\" for flag -" + name);
        }
        continue;
      }
      if (!has_value) {
        if (i + 1 >= argc) fail("flag needs an argument: -" + name);
        value = argv[++i];
      }
      if (f->type == kString) {
        *f->s = value;
        continue;
      }
      errno = 0;
      char* end = nullptr;
      long long v = strtoll(value.c_str(), &end, 10);
      if (errno != 0 || end == value.c_str() || *end != '\0' || v < 0)
        fail("invalid value \"" + value + "\" for flag -" + name + ": want a non-negative integer");
      *f->i = v;
    }
  }

  // One line on stderr, exit status 2: for values the caller checks itself.
  [[noreturn]] void fail(const std::string& msg) const {
    fprintf(stderr, "%s: %s\n", program_, msg.c_str());
    exit(2);
  }

 private:
  enum Type { kInt, kString, kBool };
  struct Flag {
    const char* name;
    Type type;
    int64_t* i;
    std::string* s;
    bool* b;
    const char* help;
  };

  Flag* find(const std::string& name) {
    for (Flag& f : flags_)
      if (name == f.name) return &f;
    return nullptr;
  }

  [[noreturn]] void usage(int status) {
    fprintf(stderr, "usage: %s\n", usage_.empty() ? (std::string(program_) + " [flags]").c_str() : usage_.c_str());
    if (!about_.empty()) fprintf(stderr, "%s\n", about_.c_str());
    for (Flag& f : flags_) {
      switch (f.type) {
        case kInt:
          fprintf(stderr, "  -%s int\n        %s (default %lld)\n", f.name, f.help, static_cast<long long>(*f.i));
          break;
        case kString:
          if (f.s->empty())
            fprintf(stderr, "  -%s string\n        %s\n", f.name, f.help);
          else
            fprintf(stderr, "  -%s string\n        %s (default \"%s\")\n", f.name, f.help, f.s->c_str());
          break;
        case kBool:
          fprintf(stderr, "  -%s\n        %s\n", f.name, f.help);
          break;
      }
    }
    exit(status);
  }

  const char* program_;
  std::string usage_, about_;
  std::vector<Flag> flags_;
};

}  // namespace rt_bench
