#!/usr/bin/env bash
# The lab's short session (README "main job"): installs what is missing
# (tools/setup.sh), builds rt-lab alone in build/lab, then
#   1. sweeps GOGC over the message-window workload (one process per cell)
#      and prints the table: the GOGC memory / GC CPU trade-off;
#   2. runs the same workload at GOGC=100 for its pause histogram by kind;
#   3. and for its MMU curve;
# writing the figures (sweep.png, heap.png, pauses.png, mmu.png) and their
# data into build/lab/out. Extra arguments go to the sweep, e.g.
#   tools/lab/run.sh --gogc 50,100,200 --memlimit none,48MiB
set -euo pipefail
cd "$(dirname "$0")/../.."

tools/setup.sh
cmake -S . -B build/lab -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DRT_BUILD_TESTS=OFF -DRT_BUILD_BENCH=OFF -DRT_BUILD_LAB=ON >/dev/null
cmake --build build/lab --target rt-lab -j"${RT_JOBS:-2}" | grep -v '^\[' || true

lab=build/lab/tools/lab/rt-lab
out=build/lab/out
workload=(--workload window --live 16MiB --msg 1024 --count 300000)

echo "== GOGC sweep: message window, 16 MiB live, 1 KiB messages"
"$lab" sweep "${workload[@]}" --gogc 25,50,100,200,400 --dir "$out" "$@"
echo
echo "== STW pauses at GOGC=100"
"$lab" pauses "${workload[@]}" --gogc 100 --dir "$out"
echo
echo "== MMU at GOGC=100"
"$lab" mmu "${workload[@]}" --gogc 100 --dir "$out"
echo
echo "figures: $out/sweep.png $out/heap.png $out/pauses.png $out/mmu.png (docs/LAB.md explains them)"
