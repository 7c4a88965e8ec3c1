// Pieces the rt-lab subcommands share: the session flags (workload, GC
// settings, output), the output directory and the plot script runner.
#pragma once

#include <string>
#include <vector>

#include "tools/bench/flags.h"
#include "tools/lab/session.h"

namespace lab {

struct SessionFlags {
  SessionConfig config;
  WorkloadFlagText text;
  std::string gogc;      // "" (leave as is), an integer, or "off"
  std::string memlimit;  // "" (leave as is), a size, or "none"/"off"
  int64_t procs = 0;
  int64_t trace_buffer = 1 << 16;
  bool gctrace = false;
  bool no_trace = false;
  bool json = false;
  bool no_plot = false;
  std::string dir = "lab-out";
};

// Registers the flags every session subcommand takes.
void add_session_flags(rt_bench::Flags& flags, SessionFlags& f, bool tracing_optional);
// Checks them after parse() and fills f.config; a bad value exits 2.
void finish_session_flags(const rt_bench::Flags& flags, SessionFlags& f);

// GOGC and memory-limit values as the flags spell them.
bool parse_gogc(const std::string& text, int* out);          // "off" -> -1
bool parse_memlimit(const std::string& text, int64_t* out);  // "none", "off" -> -1

// Creates the directory (and parents); false on failure.
bool make_dir(const std::string& dir);
bool write_file(const std::string& path, const std::string& text);
// Runs the plot script (tools/lab/plot.py, with Debian's python3 and
// matplotlib) for `kind` on the data in `dir`. A failure is reported on
// stderr but does not fail the subcommand.
void run_plot(const std::string& kind, const std::string& dir);

int sweep_main(int argc, char** argv);

}  // namespace lab
