#!/usr/bin/env python3
"""rt-lab end to end: every subcommand on a tiny configuration (--no-plot,
a few seconds each), its JSON checked for consistency with the runtime's
own counters (cycles against MemStats num_gc, traced pauses against
MemStats pause_total_ns, peak >= final heap, ordered percentiles), the
sweep's CSV, the trace file as Chrome Trace Event JSON, and bad flags:
exit status 2 with one line on stderr.

    lab_cli_test.py PATH/TO/rt-lab
"""

import json
import os
import subprocess
import sys
import tempfile

LAB = sys.argv[1]
TINY = ["--workload", "window", "--live", "2MiB", "--msg", "512", "--count", "60000", "--procs", "2"]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


def run(args, want=0, timeout=120):
    p = subprocess.run([LAB] + args, capture_output=True, text=True, timeout=timeout)
    if p.returncode != want:
        failures.append(f"{args}: exit {p.returncode}, want {want}; stderr: {p.stderr[-2000:]}")
        print("FAIL:", failures[-1], file=sys.stderr)
    return p


def run_json(args):
    p = run(args + ["--json"])
    try:
        return json.loads(p.stdout)
    except ValueError:
        check(False, f"{args}: stdout is not JSON: {p.stdout[:500]!r}")
        return None


def check_summary(s, traced, name):
    check(s["cycles"] >= 1, f"{name}: no GC cycle ran ({s['cycles']})")
    check(s["peak_heap_bytes"] >= s["final_heap_bytes"], f"{name}: peak heap < final heap")
    check(s["peak_goal_bytes"] > 0, f"{name}: no heap goal sampled")
    check(0 < s["gc_cpu_percent"] <= 100, f"{name}: gc_cpu_percent {s['gc_cpu_percent']}")
    check(s["rss_peak_bytes"] >= 0.9 * s["peak_heap_bytes"], f"{name}: RSS peak below the heap peak")
    check(s["pause_p50_ns"] <= s["pause_p99_ns"] <= s["pause_p999_ns"] <= s["pause_max_ns"],
          f"{name}: percentiles out of order")
    check(s["pause_max_ns"] > 0, f"{name}: no pause recorded")
    check(s["worst_stall_ns"] > 0, f"{name}: no stall measured")
    if traced:
        check(s["pause_source"] == "trace", f"{name}: pause source {s['pause_source']}")
        # Two pauses per cycle (more when mark termination restarts); a cycle
        # the trace stop cut short may add its sweep termination.
        check(2 * s["cycles"] <= s["pause_count"] <= 2 * s["cycles"] + 8,
              f"{name}: {s['pause_count']} traced pauses for {s['cycles']} cycles")
        check(abs(s["traced_cycles"] - s["cycles"]) <= 1,
              f"{name}: traced cycles {s['traced_cycles']} vs MemStats {s['cycles']}")
        # The trace's STW spans are the intervals MemStats sums.
        diff = abs(s["pause_total_ns"] - s["memstats_pause_total_ns"])
        check(diff <= 0.05 * s["memstats_pause_total_ns"] + 2e6,
              f"{name}: traced pauses sum {s['pause_total_ns']} vs MemStats {s['memstats_pause_total_ns']}")
    else:
        check(s["pause_source"] == "cycle-sums", f"{name}: pause source {s['pause_source']}")
        check(s["pause_count"] == s["cycles"], f"{name}: {s['pause_count']} pause records for {s['cycles']} cycles")
        check(s["pause_total_ns"] == s["memstats_pause_total_ns"], f"{name}: pause sums differ from MemStats")


def main():
    tmp = tempfile.mkdtemp(prefix="rt-lab-test-")

    # Help: every subcommand, exit 0.
    run(["--help"])
    for cmd in ["run", "sweep", "pauses", "mmu", "trace"]:
        p = run([cmd, "--help"])
        check("usage: rt-lab " + cmd in p.stderr, f"{cmd} --help prints no usage")

    # Bad flags and values: exit 2, one line.
    for args in (["nosuch"], ["run", "--bogus"], ["run", "--gogc", "abc"], ["run", "--memlimit", "12XB"],
                 ["run", "--workload", "nope"], ["run", "--count", "-1"], ["run", "--count"],
                 ["pauses", "--procs", "x"], ["mmu", "--no-trace"], ["trace", "--out="],
                 ["sweep", "--gogc", "50,,100"], ["sweep", "--memlimit", "none,lots"], ["run", "--json=maybe"],
                 ["run", "extra"]):
        p = run(args, want=2)
        lines = p.stderr.strip().splitlines()
        check(len(lines) == 1, f"{args}: {len(lines)} lines on stderr, want 1: {p.stderr!r}")
        check(p.stdout == "", f"{args}: wrote to stdout")

    # run, traced and untraced.
    s = run_json(["run"] + TINY + ["--no-plot"])
    if s:
        check_summary(s, True, "run")
        check(s["workload"] == "window" and s["procs"] == 2 and s["ops"] == 60000, "run: echoed settings")
    s = run_json(["run"] + TINY + ["--no-plot", "--no-trace", "--gogc", "50"])
    if s:
        check_summary(s, False, "run --no-trace")
        check(s["gogc"] == "50", "run: --gogc not applied")

    # GOGC off without a limit: no cycle, no goal.
    s = run_json(["run"] + TINY + ["--no-plot", "--gogc", "off", "--memlimit", "none"])
    if s:
        check(s["cycles"] == 0 and s["pause_count"] == 0 and s["peak_goal_bytes"] == 0, f"GOGC=off: {s}")

    # Every workload once, tiny.
    for w, extra in (("trees", ["--depth", "10", "--count", "300"]), ("server", ["--live", "1MiB", "--count", "20000"]),
                     ("limit", ["--live", "1MiB", "--grow", "4MiB", "--memlimit", "3MiB", "--count", "30000"]),
                     ("phase", ["--live", "1MiB", "--grow", "3MiB", "--count", "30000"])):
        s = run_json(["run", "--workload", w, "--procs", "2", "--no-plot"] + extra)
        if s:
            check(s["workload"] == w and s["cycles"] >= 1, f"{w}: {s}")
            check(s["peak_heap_bytes"] >= s["final_heap_bytes"], f"{w}: peak heap < final heap")

    # sweep: a 2 x 2 grid, JSON and CSV.
    csv_path = os.path.join(tmp, "grid.csv")
    out = run_json(["sweep"] + TINY + ["--gogc", "50,off", "--memlimit", "none,8MiB", "--csv", csv_path, "--no-plot"])
    if out:
        cells = out["cells"]
        check(len(cells) == 4, f"sweep: {len(cells)} cells")
        by = {(c["gogc"], c["memlimit_bytes"]): c for c in cells}
        off = by.get(("off", -1))
        check(off is not None and off["cycles"] == 0, "sweep: GOGC=off, no limit ran cycles")
        limited = by.get(("off", 8 << 20))
        check(limited is not None and limited["cycles"] >= 1, "sweep: GOGC=off under a limit ran no cycle")
        for c in cells:
            if c["cycles"]:
                check_summary(c, True, f"sweep cell {c['gogc']}/{c['memlimit_bytes']}")
        with open(csv_path) as f:
            rows = f.read().strip().splitlines()
        check(len(rows) == 5 and rows[0].startswith("workload,gogc,memlimit_bytes"), f"sweep CSV: {rows[:2]}")

    # pauses: per-kind histograms add up.
    out = run_json(["pauses"] + TINY + ["--no-plot"])
    if out:
        kinds = {k["kind"]: k for k in out["kinds"]}
        check(set(kinds) == {"sweep termination", "mark termination"}, f"pauses: kinds {list(kinds)}")
        check(sum(k["count"] for k in kinds.values()) == out["summary"]["pause_count"], "pauses: counts")
        for k in kinds.values():
            check(sum(b["count"] for b in k["buckets"]) == k["count"], f"pauses: {k['kind']} buckets")
            check(all(b["lo_ns"] < b["hi_ns"] for b in k["buckets"]), "pauses: bucket bounds")
            check(k["p50_ns"] <= k["p99_ns"] <= k["max_ns"], f"pauses: {k['kind']} percentiles")

    # mmu: a curve in [0, 1]; the longest window sees at least the worst short one.
    out = run_json(["mmu"] + TINY + ["--no-plot"])
    if out:
        m = out["mmu"]
        check(len(m) >= 5 and m[0]["window_ns"] == 100000, f"mmu: windows {[p['window_ns'] for p in m]}")
        check(all(0 <= p["mmu"] <= 1 for p in m), "mmu: a value outside [0, 1]")
        check(m[-1]["mmu"] >= m[0]["mmu"], "mmu: the longest window below the shortest")
        check(m[-1]["mmu"] > 0, "mmu: zero over the whole run")

    # trace: Chrome Trace Event JSON with the run's pauses in it.
    path = os.path.join(tmp, "t.json")
    out = run_json(["trace"] + TINY + ["--out", path])
    if out:
        with open(path) as f:
            doc = json.load(f)
        ev = doc.get("traceEvents")
        check(isinstance(ev, list) and ev, "trace: no traceEvents")
        for e in ev or []:
            ok = isinstance(e.get("name"), str) and e.get("ph") in ("X", "C", "M", "i", "I") and "pid" in e
            if e.get("ph") == "X":
                ok = ok and isinstance(e.get("ts"), (int, float)) and isinstance(e.get("dur"), (int, float)) \
                    and e["dur"] >= 0 and "tid" in e
            if not ok:
                check(False, f"trace: malformed event {e}")
                break
        stw = [e for e in ev or [] if e.get("ph") == "X" and e["name"].startswith("STW")]
        # The summary counts the pauses of completed cycles; a cycle that began
        # just before the recording stopped adds its sweep termination here.
        n = out["summary"]["pause_count"]
        check(n <= len(stw) <= n + 2 and n >= 2, f"trace: {len(stw)} STW events, {n} pauses")
        check(any(e.get("ph") == "X" and e["name"].startswith("G") for e in ev or []), "trace: no goroutine runs")

    if failures:
        print(f"{len(failures)} failure(s)", file=sys.stderr)
        return 1
    print("lab CLI: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
