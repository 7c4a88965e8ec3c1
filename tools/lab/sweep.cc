// rt-lab sweep: the GOGC x memory-limit grid. Every cell is a separate
// process (`/proc/self/exe run ... --json --no-plot`), so cells share no
// heap, RSS peak or pacer history; the sweep reads each child's JSON
// summary line and prints a table row as each cell finishes, then writes
// the CSV and the memory-vs-GC-CPU trade-off plot.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "tools/lab/cli.h"

namespace lab {
namespace {

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  size_t b = 0;
  for (;;) {
    size_t e = s.find(',', b);
    out.push_back(s.substr(b, e == std::string::npos ? std::string::npos : e - b));
    if (e == std::string::npos) break;
    b = e + 1;
  }
  return out;
}

// Runs argv as a child and returns its stdout; false unless it exits 0.
bool run_child(const std::vector<std::string>& args, std::string* out) {
  int fds[2];
  if (pipe(fds) != 0) return false;
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv("/proc/self/exe", argv.data());
    _exit(127);
  }
  close(fds[1]);
  if (pid < 0) {
    close(fds[0]);
    return false;
  }
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) out->append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  if (waitpid(pid, &status, 0) < 0) return false;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace

int sweep_main(int argc, char** argv) {
  WorkloadParams wp;
  WorkloadFlagText text;
  std::string gogcs = "25,50,100,200,400,off", limits = "none", csv_path, dir = "lab-out";
  int64_t procs = 0;
  bool json = false, no_plot = false, no_trace = false;
  rt_bench::Flags flags("rt-lab sweep");
  flags.set_usage("rt-lab sweep [flags]",
                  "Runs the workload once per (GOGC, memory limit) cell, each in its own process, and prints\n"
                  "the run summary of every cell; writes sweep.csv and sweep.png (peak heap vs GC CPU, one\n"
                  "line per limit, points labelled by GOGC) into --dir.");
  add_workload_flags(flags, wp, text);
  flags.add_string("gogc", &gogcs, "comma-separated GOGC values (percent or off)");
  flags.add_string("memlimit", &limits, "comma-separated memory limits (sizes such as 64MiB, or none)");
  flags.add("procs", &procs, "GOMAXPROCS (0: RT_MAXPROCS or the CPUs)");
  flags.add_bool("no-trace", &no_trace, "run the cells without the tracer (pauses per cycle from MemStats)");
  flags.add_string("csv", &csv_path, "also write the CSV to this file");
  flags.add_bool("json", &json, "print JSON instead of the table");
  flags.add_bool("no-plot", &no_plot, "write no data files or plots");
  flags.add_string("dir", &dir, "directory for data files and plots");
  flags.parse(argc, argv, 2);
  finish_workload_flags(flags, wp, text);
  std::vector<std::string> gv = split_list(gogcs), lv = split_list(limits);
  for (const std::string& g : gv) {
    int v;
    if (!parse_gogc(g, &v)) flags.fail("invalid value \"" + g + "\" in -gogc: want percents >= 0 or off, comma-separated");
  }
  for (const std::string& l : lv) {
    int64_t v;
    if (!parse_memlimit(l, &v)) flags.fail("invalid value \"" + l + "\" in -memlimit: want sizes such as 64MiB or none, comma-separated");
  }
  if (gv.size() * lv.size() > 200) flags.fail("too many cells (" + std::to_string(gv.size() * lv.size()) + "): at most 200");

  std::vector<std::string> base = {"rt-lab", "run", "--workload", wp.name, "--live", text.live, "--msg", text.msg,
                                   "--grow", text.grow, "--count", std::to_string(wp.count), "--rate",
                                   std::to_string(wp.rate), "--depth", std::to_string(wp.depth), "--workers",
                                   std::to_string(wp.workers), "--procs", std::to_string(procs), "--json", "--no-plot"};
  if (no_trace) base.push_back("--no-trace");
  std::string csv = summary_csv_header() + "\n", out_json = "{\"cells\": [";
  if (!json) printf("%s\n", summary_table_header().c_str());
  int failed = 0, cells = 0;
  for (const std::string& l : lv) {
    for (const std::string& g : gv) {
      std::vector<std::string> args = base;
      args.insert(args.end(), {"--gogc", g, "--memlimit", l});
      std::string out;
      Summary s;
      if (!run_child(args, &out) || !summary_from_json(out, &s)) {
        fprintf(stderr, "rt-lab sweep: the cell gogc=%s memlimit=%s failed\n", g.c_str(), l.c_str());
        failed++;
        continue;
      }
      while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
      out_json += (cells++ ? ", " : "") + out;
      csv += summary_csv_row(s) + "\n";
      if (!json) {
        printf("%s\n", summary_table_row(s).c_str());
        fflush(stdout);
      }
    }
  }
  out_json += "]}";
  if (json) printf("%s\n", out_json.c_str());
  if (!no_plot) {
    if (make_dir(dir) && write_file(dir + "/sweep.csv", csv)) run_plot("sweep", dir);
  }
  if (!csv_path.empty() && !write_file(csv_path, csv)) return 1;
  return failed ? 1 : 0;
}

}  // namespace lab
