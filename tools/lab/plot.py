#!/usr/bin/python3
"""Draws rt-lab's figures with matplotlib from the data files it wrote.

    plot.py run DIR      heap.csv + cycles.csv  -> heap.png
    plot.py pauses DIR   pauses.csv             -> pauses.png
    plot.py mmu DIR      mmu.csv                -> mmu.png
    plot.py sweep DIR    sweep.csv              -> sweep.png

Runs with Debian's /usr/bin/python3 and python3-matplotlib (tools/setup.sh
installs it). Exit status 2 on bad arguments, 1 when a file is missing.
"""

import csv
import math
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

MIB = 1024.0 * 1024.0
KIND_COLORS = {"sweep termination": "tab:blue", "mark termination": "tab:orange",
               "cycle (summed)": "tab:gray"}


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def summary_title(d):
    p = d / "summary.json"
    if not p.exists():
        return ""
    import json
    s = json.loads(p.read_text())
    lim = "none" if s["memlimit_bytes"] < 0 or s["memlimit_bytes"] > 2**62 else \
        f"{s['memlimit_bytes'] / MIB:.0f} MiB"
    return f"{s['workload']}, GOGC={s['gogc']}, limit {lim}, GOMAXPROCS={s['procs']}"


def plot_run(d):
    heap = rows(d / "heap.csv")
    cycles = rows(d / "cycles.csv")
    t = [float(r["t_s"]) for r in heap]
    live = [int(r["heap_bytes"]) / MIB for r in heap]
    goal = [int(r["goal_bytes"]) / MIB if int(r["goal_bytes"]) > 0 else math.nan for r in heap]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for i, c in enumerate(cycles):
        s, e = float(c["start_s"]), float(c["end_s"])
        if e > s:
            ax.axvspan(s, e, color="tab:red", alpha=0.15, lw=0, label="GC cycle (mark)" if i == 0 else None)
        else:
            ax.axvline(s, color="tab:red", alpha=0.3, lw=0.8, label="GC cycle end" if i == 0 else None)
    ax.plot(t, live, color="tab:blue", lw=1.2, label="heap in use (objects)")
    ax.plot(t, goal, color="tab:green", lw=1.2, ls="--", label="heap goal")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("MiB")
    ax.set_ylim(bottom=0)
    ax.set_title(f"Heap in use vs goal ({summary_title(d)}, {len(cycles)} cycles)", fontsize=10)
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(d / "heap.png", dpi=100)


def plot_pauses(d):
    pauses = rows(d / "pauses.csv")
    by_kind = {}
    for r in pauses:
        by_kind.setdefault(r["kind"], []).append(max(int(r["dur_ns"]), 1) / 1e3)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    if by_kind:
        lo = min(min(v) for v in by_kind.values())
        hi = max(max(v) for v in by_kind.values())
        # 4 log buckets per power of two, as the terminal histogram.
        e0, e1 = math.floor(math.log2(lo)), math.ceil(math.log2(hi)) + 1
        edges = [2 ** (e / 4) for e in range(4 * e0, 4 * e1 + 1)]
        ax.hist(list(by_kind.values()), bins=edges, label=list(by_kind.keys()), stacked=True,
                color=[KIND_COLORS.get(k, "tab:gray") for k in by_kind])
        ax.set_xscale("log")
        ax.legend(fontsize=8)
    ax.set_xlabel("pause (µs, log scale)")
    ax.set_ylabel("pauses")
    ax.set_title(f"Stop-the-world pauses by kind ({summary_title(d)})", fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(d / "pauses.png", dpi=100)


def plot_mmu(d):
    pts = rows(d / "mmu.csv")
    w = [int(r["window_ns"]) / 1e6 for r in pts]
    m = [float(r["mmu"]) for r in pts]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.plot(w, m, marker="o", ms=3, color="tab:purple")
    ax.set_xscale("log")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("window (ms, log scale)")
    ax.set_ylabel("minimum mutator utilization")
    ax.set_title(f"MMU ({summary_title(d)})", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(d / "mmu.png", dpi=100)


def plot_sweep(d):
    cells = rows(d / "sweep.csv")
    lines = {}
    for c in cells:
        lines.setdefault(int(c["memlimit_bytes"]), []).append(c)
    fig, ax = plt.subplots(figsize=(8, 5))
    for lim, cs in sorted(lines.items()):
        name = "no limit" if lim < 0 or lim > 2**62 else f"limit {lim / MIB:.0f} MiB"
        x = [float(c["gc_cpu_percent"]) for c in cs]
        y = [int(c["peak_heap_bytes"]) / MIB for c in cs]
        ax.plot(x, y, marker="o", label=name)
        for c, xi, yi in zip(cs, x, y):
            ax.annotate(f"GOGC={c['gogc']}", (xi, yi), textcoords="offset points", xytext=(5, 4), fontsize=8)
    ax.set_xlabel("GC CPU (% of GOMAXPROCS x wall time)")
    ax.set_ylabel("peak heap in use (MiB)")
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    wl = cells[0]["workload"] if cells else ""
    ax.set_title(f"Memory vs GC CPU as GOGC varies ({wl})", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(d / "sweep.png", dpi=100)


def main():
    kinds = {"run": plot_run, "pauses": plot_pauses, "mmu": plot_mmu, "sweep": plot_sweep}
    if len(sys.argv) != 3 or sys.argv[1] not in kinds:
        print("usage: plot.py {run|pauses|mmu|sweep} DIR", file=sys.stderr)
        return 2
    d = Path(sys.argv[2])
    try:
        kinds[sys.argv[1]](d)
        if sys.argv[1] in ("pauses", "mmu"):
            plot_run(d)
    except FileNotFoundError as e:
        print(f"plot.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
