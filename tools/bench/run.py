#!/usr/bin/env python3
"""Builds and runs librt's benchmark workloads side by side with their peers.

One command: installs the benchmark dependencies (tools/setup.sh --bench),
configures and builds the project with the C++ peers in build/bench, builds
the Go peers, then runs every workload's librt program (rt-bench-<name>) and
its peers interleaved, repetition by repetition, so machine noise spreads
over all of them. Each program prints one RESULT line (see
tools/bench/README.md); the runner parses it strictly, records each
program's peak RSS (GNU time's %M; wait4's ru_maxrss without it) and CPU
times, checks that check values agree between librt and every peer, prints medians and librt/peer ratios, and writes results.csv and
results.json. Exit status: 0 when everything ran and agreed, 1 when a run
failed, a build failed or a check value differed, 2 on bad flags or when the
set-up failed.

    tools/bench/run.py --short          quick suite (about two minutes)
    tools/bench/run.py                  full suite (BENCHMARKS.md defaults)
    tools/bench/run.py --only alloc,pingpong --reps 7 --set alloc.n=20000000
"""

import argparse
import csv
import datetime
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Keys that hold a check value, compared between all sides wherever printed.
CHECK_KEYS = ("check", "v", "sum", "counter", "got")


class Peer:
    """One peer program of a workload: a Go program or a C++ executable."""

    def __init__(self, side, kind, binary=None, extra=()):
        self.side = side        # column name in the table
        self.kind = kind        # "go" or "cpp"
        self.binary = binary    # C++ executable name
        self.extra = list(extra)


class Workload:
    def __init__(self, name, flags, figures, checks, peers, program=None, env=None):
        self.name = name
        self.flags = flags      # [(flag, full default, short value)]
        self.figures = figures  # keys shown in the table, in order
        self.checks = checks    # check keys every side must print and agree on
        self.peers = peers
        # The programs that run it (rt-bench-<program>, peers/go/<program>),
        # when a workload is another one's programs under other settings.
        self.program = program or name
        # Environment of every side: {VAR: (full value, short value)}.
        self.env = env or {}


GO = Peer("go", "go")
# Figures of the runtime's pacer (GC CPU, peak heap over the goal): a peer
# without a pacer (Boehm, malloc) leaves them out, and its cell shows "-".
PACING_FIGURES = {"gc_cpu_pct", "peak_heap_goal"}
WORKLOADS = [
    Workload("alloc", [("n", 50000000, 20000000)],
             ["ns_per_alloc", "gcs", "gc_cpu_pct", "peak_heap_goal"], ["check"],
             [GO, Peer("glibc", "cpp", "peer-alloc-glibc"),
              Peer("mimalloc", "cpp", "peer-alloc-mimalloc")]),
    Workload("binarytrees", [("depth", 21, 17)],
             ["seconds", "gcs", "max_pause_us", "peak_heap_mb", "gc_cpu_pct", "peak_heap_goal"],
             ["check"],
             [GO, Peer("boehm", "cpp", "peer-binarytrees-boehm")]),
    Workload("gclatency", [("window", 200000, 100000), ("count", 2000000, 1000000)],
             ["seconds", "worst_push_us", "p9999_push_us", "gcs", "stw_p50_us",
              "stw_p99_us", "stw_max_us", "heap_sys_mb", "gc_cpu_pct", "peak_heap_goal"], ["check"],
             [GO, Peer("boehm", "cpp", "peer-gclatency-boehm"),
              Peer("boehm-inc", "cpp", "peer-gclatency-boehm", ["-incremental"])]),
    # The message window under a soft memory limit 1.5x its live heap (well
    # below GOGC 100's goal of 2x): the limit, not GOGC, paces the collector.
    Workload("gclatency_limit", [("window", 200000, 100000), ("count", 2000000, 1000000)],
             ["seconds", "worst_push_us", "p9999_push_us", "gcs", "stw_p99_us", "stw_max_us",
              "heap_sys_mb", "gc_cpu_pct", "peak_heap_goal"], ["check"], [GO],
             program="gclatency",
             env={"RT_MEMLIMIT": ("320MiB", "160MiB"), "GOMEMLIMIT": ("320MiB", "160MiB")}),
    Workload("spawn", [("n", 1000000, 500000)],
             ["seconds", "ns_per_goroutine"], ["sum"], [GO]),
    Workload("pingpong", [("n", 2000000, 1000000)],
             ["ns_per_roundtrip"], ["v"],
             [GO, Peer("fiber", "cpp", "peer-pingpong-fiber")]),
    Workload("chanthroughput", [("n", 4000000, 2000000)],
             ["ns_per_item", "select_ns_per_item"], ["check", "got"], [GO]),
    Workload("mutex", [("g", 64, 64), ("k", 100000, 50000)],
             ["ns_per_op"], ["counter"], [GO]),
    Workload("idle", [("n", 100000, 50000)],
             ["bytes_per_goroutine", "spawn_ns"], [], [GO]),
    Workload("preempt", [("samples", 100, 30)],
             ["late_p50_ms", "late_p99_ms", "late_max_ms"], [], [GO]),
]
BY_NAME = {w.name: w for w in WORKLOADS}


class ArgError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message):
        sys.stderr.write(f"run.py: {message} (see --help)\n")
        sys.exit(2)


def parse_args(argv):
    p = Parser(prog="run.py",
               description="Build and run librt's benchmark workloads next to their peers.")
    p.add_argument("--short", action="store_true",
                   help="quick suite: small sizes, 3 repetitions (about two minutes)")
    p.add_argument("--reps", type=int, help="repetitions (default 5, or 3 with --short)")
    p.add_argument("--only", help="comma-separated workloads (default all): "
                   + ",".join(BY_NAME))
    p.add_argument("--set", action="append", default=[], metavar="[WORKLOAD.]FLAG=VALUE",
                   help="override a workload flag, e.g. alloc.n=1000000 or n=1000000 (every "
                        "workload with -n); repeatable")
    p.add_argument("--out", help="results folder (default <build-dir>/results)")
    p.add_argument("--build-dir", default="build/bench",
                   help="build folder, relative to the repository root (default build/bench)")
    p.add_argument("--no-setup", action="store_true", help="skip tools/setup.sh --bench")
    p.add_argument("--no-build", action="store_true",
                   help="skip all builds; run the programs already built")
    p.add_argument("--jobs", type=int, default=2, help="build parallelism (default 2)")
    p.add_argument("--timeout", type=float,
                   help="seconds one program may run (default 600, or 120 with --short)")
    a = p.parse_args(argv)

    if a.reps is None:
        a.reps = 3 if a.short else 5
    if a.reps < 1:
        p.error("--reps must be >= 1")
    if a.jobs < 1:
        p.error("--jobs must be >= 1")
    if a.timeout is None:
        a.timeout = 120.0 if a.short else 600.0
    if a.timeout <= 0:
        p.error("--timeout must be > 0")

    if a.only:
        names = [x.strip() for x in a.only.split(",") if x.strip()]
        unknown = [x for x in names if x not in BY_NAME]
        if unknown or not names:
            p.error(f"--only: unknown workload '{','.join(unknown) or a.only}' "
                    f"(known: {','.join(BY_NAME)})")
        a.workloads = [BY_NAME[x] for x in BY_NAME if x in names]
    else:
        a.workloads = list(WORKLOADS)

    # Flag values per workload: defaults of the chosen suite, then --set.
    a.flags = {w.name: {f: (s if a.short else d) for f, d, s in w.flags} for w in WORKLOADS}
    for item in a.set:
        key, sep, value = item.partition("=")
        if not sep or not key:
            p.error(f"--set '{item}': expected [WORKLOAD.]FLAG=VALUE")
        try:
            ivalue = int(value, 0)
        except ValueError:
            p.error(f"--set '{item}': value must be an integer")
        wname, dot, flag = key.rpartition(".")
        targets = [BY_NAME.get(wname)] if dot else \
            [w for w in WORKLOADS if flag in a.flags[w.name]]
        if dot and targets[0] is None:
            p.error(f"--set '{item}': unknown workload '{wname}'")
        if not targets or any(flag not in a.flags[w.name] for w in targets):
            p.error(f"--set '{item}': no workload{' ' + wname if dot else ''} has flag -{flag}")
        for w in targets:
            a.flags[w.name][flag] = ivalue
    a.build = ROOT / a.build_dir
    a.out = Path(a.out).resolve() if a.out else a.build / "results"
    return a


# ---------------------------------------------------------------- helpers

def say(msg=""):
    print(msg, flush=True)


def rel(path):
    """A path relative to the repository root where it lies inside it."""
    path = Path(path)
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def tail(text, lines=15):
    return "\n".join(text.rstrip().splitlines()[-lines:])


def run_logged(cmd, log, cwd=ROOT, env=None):
    """Runs a build step, appending its output to log; returns (ok, output)."""
    with open(log, "a") as f:
        f.write(f"$ {' '.join(str(c) for c in cmd)}\n")
    try:
        p = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    except OSError as e:
        return False, str(e)
    with open(log, "a") as f:
        f.write(p.stdout)
    return p.returncode == 0, p.stdout


def command_line(cmd):
    try:
        return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def machine_info():
    model = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cxx = command_line(["c++", "--version"])
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "kernel": platform.release(),
        "machine": platform.machine(),
        "go_version": command_line(["go", "version"]),
        "cxx_version": cxx.splitlines()[0] if cxx else None,
        "python_version": platform.python_version(),
        "loadavg": os.getloadavg(),
        "git_commit": command_line(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
        or None,
        "env": {k: v for k, v in os.environ.items()
                if k.startswith(("GOGC", "GOMAXPROCS", "GODEBUG", "GOMEMLIMIT", "RT_"))},
    }


# ---------------------------------------------------------------- set-up and builds

def setup():
    say("== set-up: tools/setup.sh --bench")
    try:
        rc = subprocess.run([str(ROOT / "tools/setup.sh"), "--bench"], cwd=ROOT).returncode
    except OSError as e:
        rc, msg = 2, str(e)
    else:
        msg = f"exit status {rc}"
    if rc != 0:
        sys.stderr.write(f"run.py: set-up failed ({msg}): the benchmark packages are missing; "
                         "run tools/setup.sh --bench as root, or pass --no-setup\n")
        sys.exit(2)


def build_project(a, status):
    """Configures and builds the project with RT_BUILD_PEERS=ON."""
    log = a.build / "build.log"
    a.build.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    gen = ["-G", "Ninja"] if shutil.which("ninja") else []
    say(f"== build: cmake in {rel(a.build)} (log: {rel(log)})")
    ok, out = run_logged(["cmake", "-S", ROOT, "-B", a.build, *gen, "-DCMAKE_BUILD_TYPE=Release",
                          "-DRT_BUILD_PEERS=ON", "-DRT_BUILD_BENCH=ON", "-DRT_BUILD_TESTS=OFF"],
                         log)
    if not ok:
        status["project"] = "configure failed"
        say("!! project configure FAILED; librt's side is not built. Last lines:")
        say(tail(out))
        build_peers_standalone(a, status)
        return
    # Keep going past failures so the peers build even if librt does not.
    keep = ["--", "-k", "0"] if gen else []
    ok, out = run_logged(["cmake", "--build", a.build, "-j", str(a.jobs), *keep], log)
    status["project"] = "ok" if ok else "build failed"
    if not ok:
        say("!! project build FAILED (programs that did build are still run). Last lines:")
        say(tail(out))


def build_peers_standalone(a, status):
    """Builds only the C++ peers, when the project itself does not configure."""
    src = a.build / "peers-standalone" / "src"
    bld = a.build / "peers-standalone" / "build"
    src.mkdir(parents=True, exist_ok=True)
    (src / "CMakeLists.txt").write_text(
        "# Generated by tools/bench/run.py: the C++ peers on their own.\n"
        "cmake_minimum_required(VERSION 3.25)\n"
        "project(librt_peers LANGUAGES C CXX)\n"
        "set(CMAKE_CXX_STANDARD 20)\n"
        f"add_subdirectory(\"{ROOT / 'tools/bench/peers'}\" peers)\n")
    log = a.build / "build.log"
    gen = ["-G", "Ninja"] if shutil.which("ninja") else []
    say("== build: C++ peers on their own")
    ok, out = run_logged(["cmake", "-S", src, "-B", bld, *gen, "-DCMAKE_BUILD_TYPE=Release"], log)
    if ok:
        ok, out = run_logged(["cmake", "--build", bld, "-j", str(a.jobs)], log)
    status["peers_standalone"] = "ok" if ok else "failed"
    if not ok:
        say("!! C++ peers build FAILED. Last lines:")
        say(tail(out))


def go_env(a):
    env = dict(os.environ)
    gobase = a.build / "go"
    # Everything Go writes stays in the build folder.
    env.update(GOCACHE=str(gobase / "cache"), GOPATH=str(gobase / "path"), GOENV="off",
               GOFLAGS="", GO111MODULE="off", CGO_ENABLED="0")
    return env


def build_go(a, workloads, status):
    go = shutil.which("go")
    if go is None:
        status["go"] = "go not found"
        say("!! go not found: the Go peers are not built (install golang-go)")
        return
    outdir = a.build / "go"
    outdir.mkdir(parents=True, exist_ok=True)
    log = a.build / "go-build.log"
    log.write_text("")
    say(f"== build: Go peers in {rel(outdir)}")
    failed = []
    built = set()
    for w in workloads:
        if w.program in built:
            continue
        built.add(w.program)
        src = ROOT / "tools/bench/peers/go" / w.program
        ok, out = run_logged([go, "build", "-o", outdir / w.program, "main.go"], log, cwd=src,
                             env=go_env(a))
        if not ok:
            failed.append(w.program)
            say(f"!! Go peer {w.program} failed to build:\n{tail(out)}")
    status["go"] = "ok" if not failed else "failed: " + ",".join(failed)


# ---------------------------------------------------------------- programs

def librt_binary(a, w):
    return a.build / "tools/bench" / f"rt-bench-{w.program}"


def peer_binary(a, w, peer):
    if peer.kind == "go":
        return a.build / "go" / w.program
    for d in (a.build / "tools/bench/peers", a.build / "peers-standalone/build/peers"):
        if (d / peer.binary).is_file():
            return d / peer.binary
    return a.build / "tools/bench/peers" / peer.binary


def sides(a, w):
    """[(side, path, extra args)] of a workload: librt first, then its peers."""
    out = [("librt", librt_binary(a, w), [])]
    out += [(p.side, peer_binary(a, w, p), p.extra) for p in w.peers]
    return out


def is_executable(path):
    return path.is_file() and os.access(path, os.X_OK)


def parse_value(v):
    try:
        return int(v)
    except ValueError:
        pass
    try:
        return float(v)
    except ValueError:
        return v


def parse_result(stdout, w):
    """Returns the key=value dict of the one RESULT line; raises ValueError."""
    lines = [ln for ln in stdout.splitlines() if ln.startswith("RESULT")]
    if not lines:
        raise ValueError("no RESULT line")
    if len(lines) > 1:
        raise ValueError(f"{len(lines)} RESULT lines, expected one")
    tok = lines[0].split()
    if tok[0] != "RESULT" or len(tok) < 2 or tok[1] != w.program:
        raise ValueError(f"RESULT line does not start with 'RESULT {w.program}': {lines[0]!r}")
    kv = {}
    for t in tok[2:]:
        k, sep, v = t.partition("=")
        if not sep or not k or not v:
            raise ValueError(f"malformed pair {t!r} in RESULT line")
        if k in kv:
            raise ValueError(f"key {k!r} twice in RESULT line")
        kv[k] = parse_value(v)
    missing = [k for k in w.figures + w.checks if k not in kv and k not in PACING_FIGURES]
    if missing:
        raise ValueError(f"RESULT line lacks {','.join(missing)}")
    bad = [k for k in w.figures + w.checks if k in kv and not isinstance(kv[k], (int, float))]
    if bad:
        raise ValueError(f"RESULT values not numeric: {','.join(bad)}")
    return kv


# Peak RSS comes from GNU time, which forks the program from its own small
# process. A child forked from this Python process would inherit the
# runner's RSS as its high-water mark (Linux keeps it across exec), so
# wait4's ru_maxrss is only the fallback when /usr/bin/time is missing.
GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None
MAXRSS_SOURCE = "GNU time %M (KiB)" if GNU_TIME else \
    "wait4 ru_maxrss (KiB; floor: the runner's own RSS at fork)"


def run_program(argv, timeout, env=None):
    """Runs one program; returns (rc, stdout, stderr, wall_s, rusage, maxrss_kb, timed_out)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile(mode="r") as rss:
        cmd = [GNU_TIME, "-q", "-f", "%M", "-o", rss.name] + argv if GNU_TIME else argv
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                             start_new_session=True, env=env)
        timed_out = threading.Event()

        def kill():
            timed_out.set()
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            # wait4 rather than Popen.wait: it returns the child's rusage
            # (CPU times include the program that GNU time waited for).
            _, status, ru = os.wait4(p.pid, 0)
        except BaseException:
            kill()
            os.waitpid(p.pid, 0)
            p.returncode = -9
            raise
        finally:
            timer.cancel()
        wall = time.monotonic() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        maxrss = ru.ru_maxrss
        if GNU_TIME:
            lines = [ln.strip() for ln in rss.read().splitlines() if ln.strip()]
            maxrss = int(lines[-1]) if lines and lines[-1].isdigit() else None
        out.seek(0)
        err.seek(0)
        return (p.returncode, out.read().decode(errors="replace"),
                err.read().decode(errors="replace"), wall, ru, maxrss, timed_out.is_set())


def flag_args(a, w):
    args = []
    for f, _, _ in w.flags:
        args += [f"-{f}", str(a.flags[w.name][f])]
    return args


def run_one(a, w, side, path, extra, rep):
    argv = [str(path)] + flag_args(a, w) + extra
    rec = {"workload": w.name, "side": side, "rep": rep,
           "program": rel(path),
           "args": argv[1:]}
    env = None
    if w.env:
        extra_env = {k: (s if a.short else f) for k, (f, s) in w.env.items()}
        rec["env"] = extra_env
        env = dict(os.environ, **extra_env)
    rc, out, err, wall, ru, maxrss, timed_out = run_program(argv, a.timeout, env)
    rec.update(rc=rc, wall_s=round(wall, 4), maxrss_kb=maxrss,
               utime_s=round(ru.ru_utime, 4), stime_s=round(ru.ru_stime, 4))
    try:
        if timed_out:
            raise ValueError(f"timed out after {a.timeout:g} s")
        if rc != 0:
            raise ValueError(f"exit status {rc}")
        rec["result"] = parse_result(out, w)
        rec["status"] = "ok"
    except ValueError as e:
        rec["status"] = "failed"
        rec["error"] = str(e)
        rec["stdout_tail"] = tail(out, 5)
        rec["stderr_tail"] = tail(err, 15)
    return rec


def figure_value(rec, fig):
    if rec["status"] != "ok":
        return None
    if fig == "maxrss_kb":
        return rec["maxrss_kb"]
    return rec["result"].get(fig)


# ---------------------------------------------------------------- report

def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, int) or (isinstance(v, float) and v.is_integer() and abs(v) >= 1000):
        return str(int(v))
    av = abs(v)
    if av >= 100:
        return f"{v:.1f}"
    if av >= 1:
        return f"{v:.2f}"
    return f"{v:.3g}"


def tidy(v):
    """Rounds float noise (0.41000000000000003) to 6 significant digits."""
    return float(f"{v:.6g}") if isinstance(v, float) else v


def summarize(a, runs):
    """Medians per (workload, figure, side) and librt/peer ratios."""
    summary = []
    for w in a.workloads:
        for fig in w.figures + ["maxrss_kb"]:
            med = {}
            for side, _, _ in sides(a, w):
                vals = [figure_value(r, fig) for r in runs
                        if r["workload"] == w.name and r["side"] == side]
                vals = [v for v in vals if isinstance(v, (int, float))]
                if not vals:
                    continue
                med[side] = statistics.median(vals)
                summary.append({"workload": w.name, "figure": fig, "side": side,
                                "median": tidy(med[side]), "min": min(vals), "max": max(vals),
                                "runs": len(vals)})
            for row in summary:
                if row["workload"] == w.name and row["figure"] == fig and row["side"] != "librt":
                    lib, peer = med.get("librt"), row["median"]
                    row["ratio_librt_over_peer"] = tidy(lib / peer) \
                        if (lib is not None and peer) else None
    return summary


def print_table(a, summary, side_state):
    say()
    say("== results: medians; (x) is librt/peer, below 1 means librt is smaller "
        "(faster, for times)")
    for w in a.workloads:
        cols = sides(a, w)
        params = " ".join(f"-{f} {a.flags[w.name][f]}" for f, _, _ in w.flags)
        params += "".join(f" {k}={s if a.short else f}" for k, (f, s) in w.env.items())
        head = [f"{w.name} ({params})"] + [c[0] for c in cols]
        rows = []
        for fig in w.figures + ["maxrss_kb"]:
            row = [f"  {fig}"]
            for side, _, _ in cols:
                st = side_state.get((w.name, side), "")
                cell = next((s for s in summary if s["workload"] == w.name
                             and s["figure"] == fig and s["side"] == side), None)
                if cell is None:
                    row.append(st or "-")
                    continue
                text = fmt(cell["median"])
                ratio = cell.get("ratio_librt_over_peer")
                if ratio is not None:
                    text += f" ({ratio:.2f}x)"
                row.append(text)
            rows.append(row)
        widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]
        say()
        say("  ".join(h.ljust(widths[i]) if i == 0 else h.rjust(widths[i])
                      for i, h in enumerate(head)))
        for r in rows:
            say("  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i])
                          for i, c in enumerate(r)))


def compare_checks(a, runs):
    """Every run's check values must equal librt's (or the first peer's)."""
    mismatches = []
    for w in a.workloads:
        for key in CHECK_KEYS:
            vals = [(r["side"], r["rep"], r["result"][key]) for r in runs
                    if r["workload"] == w.name and r["status"] == "ok" and key in r["result"]]
            if not vals:
                continue
            ref = next((v for v in vals if v[0] == "librt"), vals[0])
            for side, rep, v in vals:
                if v != ref[2]:
                    mismatches.append({"workload": w.name, "key": key, "side": side, "rep": rep,
                                       "value": v, "reference_side": ref[0],
                                       "reference": ref[2]})
    return mismatches


def write_outputs(a, info, build_status, runs, summary, mismatches, side_state):
    a.out.mkdir(parents=True, exist_ok=True)
    doc = {
        "machine": info,
        "config": {"suite": "short" if a.short else "full", "reps": a.reps,
                   "timeout_s": a.timeout, "maxrss_source": MAXRSS_SOURCE,
                   "flags": {w.name: a.flags[w.name] for w in a.workloads}},
        "build": build_status,
        "sides": [{"workload": w, "side": s, "state": st or "ok"}
                  for (w, s), st in sorted(side_state.items())],
        "runs": runs,
        "summary": summary,
        "check_mismatches": mismatches,
    }
    (a.out / "results.json").write_text(json.dumps(doc, indent=1, default=str) + "\n")
    with open(a.out / "results.csv", "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(["workload", "figure", "side", "median", "min", "max", "runs",
                     "ratio_librt_over_peer"])
        for s in summary:
            r = s.get("ratio_librt_over_peer")
            wr.writerow([s["workload"], s["figure"], s["side"], s["median"], s["min"], s["max"],
                         s["runs"], "" if r is None else f"{r:.4f}"])


# ---------------------------------------------------------------- main

def main(argv):
    a = parse_args(argv)
    os.chdir(ROOT)
    info = machine_info()
    build_status = {}
    if not a.no_setup:
        setup()
    if not a.no_build:
        build_project(a, build_status)
        build_go(a, a.workloads, build_status)

    # Which programs exist; missing ones are reported, not run.
    side_state, plan = {}, {}
    for w in a.workloads:
        plan[w.name] = []
        for side, path, extra in sides(a, w):
            if is_executable(path):
                plan[w.name].append((side, path, extra))
            else:
                side_state[(w.name, side)] = "not built"
    say(f"== running: {'short' if a.short else 'full'} suite, {a.reps} repetitions, "
        f"{len(a.workloads)} workloads; nproc {info['nproc']}, {info['cpu_model']}")
    for w in a.workloads:
        missing = [s for s, _, _ in sides(a, w) if (w.name, s) in side_state]
        if missing:
            say(f"   {w.name}: not built: {', '.join(missing)}")

    runs, interrupted = [], False
    try:
        for rep in range(a.reps):
            for w in a.workloads:
                progs = plan[w.name]
                if not progs:
                    continue
                k = rep % len(progs)  # rotate the order so no side always goes first
                for side, path, extra in progs[k:] + progs[:k]:
                    rec = run_one(a, w, side, path, extra, rep + 1)
                    rec["order"] = len(runs)
                    runs.append(rec)
                    if rec["status"] == "ok":
                        main_fig = w.figures[0]
                        say(f"  [{rep + 1}/{a.reps}] {w.name:<14} {side:<9} "
                            f"{rec['wall_s']:6.2f}s  {main_fig}={fmt(rec['result'][main_fig])}")
                    else:
                        say(f"  [{rep + 1}/{a.reps}] {w.name:<14} {side:<9} FAILED: "
                            f"{rec['error']}")
                        if rec["stderr_tail"]:
                            say("    " + rec["stderr_tail"].replace("\n", "\n    "))
    except KeyboardInterrupt:
        interrupted = True
        say("\n!! interrupted; reporting what ran")

    for r in runs:
        if r["status"] != "ok":
            key = (r["workload"], r["side"])
            n = sum(1 for x in runs if (x["workload"], x["side"]) == key and x["status"] != "ok")
            m = sum(1 for x in runs if (x["workload"], x["side"]) == key)
            side_state[key] = f"failed {n}/{m}"

    summary = summarize(a, runs)
    print_table(a, summary, side_state)
    mismatches = compare_checks(a, runs)
    write_outputs(a, info, build_status, runs, summary, mismatches, side_state)

    say()
    rc = 0
    failed = [r for r in runs if r["status"] != "ok"]
    if mismatches:
        rc = 1
        say("!!!! CHECK VALUE MISMATCH: a program computed a different result (a bug, not noise)")
        seen = set()
        for m in mismatches:
            k = (m["workload"], m["key"], m["side"], m["value"])
            if k not in seen:
                seen.add(k)
                say(f"!!!!   {m['workload']}: {m['key']}={m['value']} from {m['side']}, "
                    f"but {m['reference']} from {m['reference_side']}")
    else:
        say("check values: all agree")
    if not runs:
        rc = 1
        say("!! nothing ran: no program of the chosen workloads is built")
    if failed:
        rc = 1
        say(f"!! {len(failed)} run(s) failed (details in results.json)")
    if any(v not in ("ok",) for k, v in build_status.items() if k != "peers_standalone"):
        rc = 1
        say(f"!! build: {build_status}")
    say(f"results: {a.out / 'results.csv'}, {a.out / 'results.json'}")
    return 130 if interrupted else rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
