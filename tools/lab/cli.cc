// Shared rt-lab flag handling and output helpers. See cli.h.
#include "tools/lab/cli.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#ifndef RT_LAB_PLOT_SCRIPT
#define RT_LAB_PLOT_SCRIPT "tools/lab/plot.py"
#endif

namespace lab {

void add_session_flags(rt_bench::Flags& flags, SessionFlags& f, bool tracing_optional) {
  add_workload_flags(flags, f.config.workload, f.text);
  flags.add_string("gogc", &f.gogc, "GOGC percent or off (default: RT_GOGC or 100)");
  flags.add_string("memlimit", &f.memlimit, "soft memory limit, e.g. 64MiB, or none (default: RT_MEMLIMIT or none)");
  flags.add("procs", &f.procs, "GOMAXPROCS (0: RT_MAXPROCS or the CPUs)");
  flags.add_bool("gctrace", &f.gctrace, "print a gctrace line per cycle on stderr (RT_DEBUG=gctrace=1)");
  if (tracing_optional) flags.add_bool("no-trace", &f.no_trace, "do not record the execution trace (pauses per cycle from MemStats)");
  flags.add("trace-buffer", &f.trace_buffer, "trace events per P buffer");
  flags.add_bool("json", &f.json, "print JSON instead of the table");
  flags.add_bool("no-plot", &f.no_plot, "write no data files or plots");
  flags.add_string("dir", &f.dir, "directory for data files and plots");
}

bool parse_gogc(const std::string& text, int* out) {
  if (text == "off") {
    *out = -1;
    return true;
  }
  char* end = nullptr;
  errno = 0;
  long v = strtol(text.c_str(), &end, 10);
  if (text.empty() || errno != 0 || *end != '\0' || v < 0 || v > 1000000) return false;
  *out = static_cast<int>(v);
  return true;
}

bool parse_memlimit(const std::string& text, int64_t* out) {
  if (text == "none" || text == "off") {
    *out = -1;
    return true;
  }
  return parse_size(text, out);
}

void finish_session_flags(const rt_bench::Flags& flags, SessionFlags& f) {
  finish_workload_flags(flags, f.config.workload, f.text);
  SessionConfig& c = f.config;
  if (!f.gogc.empty()) {
    if (!parse_gogc(f.gogc, &c.gogc)) flags.fail("invalid value \"" + f.gogc + "\" for flag -gogc: want a percent >= 0 or off");
    c.set_gogc = true;
  }
  if (!f.memlimit.empty()) {
    if (!parse_memlimit(f.memlimit, &c.memlimit))
      flags.fail("invalid value \"" + f.memlimit + "\" for flag -memlimit: want a byte size such as 64MiB, or none");
    // none: lift any limit RT_MEMLIMIT set.
    if (c.memlimit < 0) c.memlimit = INT64_MAX;
  }
  if (f.procs > 4096) flags.fail("invalid value " + std::to_string(f.procs) + " for flag -procs: want 0 to 4096");
  if (f.trace_buffer < 16 || f.trace_buffer > (1 << 24))
    flags.fail("invalid value " + std::to_string(f.trace_buffer) + " for flag -trace-buffer: want 16 to 16777216");
  c.procs = static_cast<int>(f.procs);
  c.trace = !f.no_trace;
  c.trace_events_per_p = f.trace_buffer;
  // The runtime reads RT_DEBUG when it starts, after this.
  if (f.gctrace) {
    std::string d = getenv("RT_DEBUG") ? getenv("RT_DEBUG") : "";
    setenv("RT_DEBUG", (d.empty() ? "gctrace=1" : d + ",gctrace=1").c_str(), 1);
  }
}

bool make_dir(const std::string& dir) {
  std::string part;
  for (size_t i = 0; i <= dir.size(); i++) {
    if (i == dir.size() || dir[i] == '/') {
      if (!part.empty() && mkdir(part.c_str(), 0777) != 0 && errno != EEXIST) return false;
    }
    if (i < dir.size()) part += dir[i];
  }
  return true;
}

bool write_file(const std::string& path, const std::string& text) {
  FILE* f = fopen(path.c_str(), "w");
  if (!f) {
    fprintf(stderr, "rt-lab: cannot write %s\n", path.c_str());
    return false;
  }
  fwrite(text.data(), 1, text.size(), f);
  return fclose(f) == 0;
}

void run_plot(const std::string& kind, const std::string& dir) {
  const char* script = getenv("RT_LAB_PLOT") ? getenv("RT_LAB_PLOT") : RT_LAB_PLOT_SCRIPT;
  // Debian's interpreter: matplotlib comes from python3-matplotlib.
  const char* python = "/usr/bin/python3";
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    execl(python, python, script, kind.c_str(), dir.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    fprintf(stderr, "rt-lab: the %s plot failed (%s %s); the data is in %s\n", kind.c_str(), python, script,
            dir.c_str());
}

}  // namespace lab
