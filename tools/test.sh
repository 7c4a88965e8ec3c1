#!/usr/bin/env bash
# The test command: installs what is missing (tools/setup.sh), then builds
# and runs every test suite in two configurations:
#   build/test  Release with runtime assertions on (also checks that the
#               installed package and add_subdirectory work for a consumer)
#   build/asan  the same suites under AddressSanitizer + UBSan
# Usage: tools/test.sh [--fast]   (--fast: skip the sanitizer build)
set -euo pipefail
cd "$(dirname "$0")/.."

fast=0
for arg in "$@"; do
  case "$arg" in
    --fast) fast=1 ;;
    *) echo "test.sh: unknown option '$arg' (accepted: --fast)" >&2; exit 2 ;;
  esac
done

tools/setup.sh
jobs=${RT_JOBS:-2}

run_suite() {
  local dir=$1; shift
  cmake -S . -B "$dir" -G Ninja -DRT_ASSERTIONS=ON "$@" >/dev/null
  cmake --build "$dir" -j"$jobs"
  ctest --test-dir "$dir" --output-on-failure -j"$jobs" --timeout 600
}

echo "== Release build with assertions (build/test)"
run_suite build/test -DCMAKE_BUILD_TYPE=Release -DRT_CONSUMER_TEST=ON

if [[ $fast -eq 0 ]]; then
  echo "== ASan + UBSan build (build/asan)"
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    run_suite build/asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRT_SANITIZE=address -DRT_BUILD_BENCH=OFF
fi
