#!/usr/bin/env bash
# The test command: installs what is missing (tools/setup.sh), then builds
# and runs the test suites in three configurations:
#   build/test  Release with runtime assertions on, every suite (also checks
#               that the installed package and add_subdirectory work for a
#               consumer)
#   build/asan  every suite under AddressSanitizer + UBSan
#   build/tsan  the scheduler, channel and sync suites under
#               ThreadSanitizer (test names matching $tsan_suites below:
#               Sched*, Chan*, Select*, Timer*, Context*, Sync*, Semaphore*,
#               Group*, ErrGroup*, with or without an instantiation prefix such as
#               Procs/), so new suites with those names join by themselves;
#               their default-GOMAXPROCS instantiations are skipped ($tsan_skip)
#   build/fuzz  clang, ASan + UBSan + libFuzzer: the library and the channel
#               fuzzer only, run for $fuzz_seconds from the seed corpus
#               (tests/fuzz/corpus/chan; new inputs go to build/fuzz/corpus)
# Usage: tools/test.sh [--fast]   (--fast: skip the sanitizer builds)
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

# run_suite DIR [CMAKE ARGS...] [-- CTEST ARGS...]
run_suite() {
  local dir=$1; shift
  local cmake_args=() ctest_args=()
  while [[ $# -gt 0 && $1 != -- ]]; do cmake_args+=("$1"); shift; done
  [[ $# -gt 0 ]] && shift
  ctest_args=("$@")
  cmake -S . -B "$dir" -G Ninja -DRT_ASSERTIONS=ON "${cmake_args[@]}" >/dev/null
  cmake --build "$dir" -j"$jobs"
  ctest --test-dir "$dir" --output-on-failure -j"$jobs" --timeout 600 "${ctest_args[@]}"
}

# The suites run under ThreadSanitizer (ctest names: Suite.Test, or
# Prefix/Suite.Test/Param for parameterized suites).
tsan_suites='^([A-Za-z0-9_]+/)?(Sched|Chan|Select|Timer|Context|Sync|Semaphore|Group|ErrGroup)[A-Za-z0-9_]*\.'
# Parameterized suites run at GOMAXPROCS = default, 1 and 2; under TSan the
# default instantiation is left out (it repeats 2 on a 2-core CI machine,
# and TSan runs are the slowest stage).
tsan_skip='/Default  #'

echo "== Release build with assertions (build/test)"
run_suite build/test -DCMAKE_BUILD_TYPE=Release -DRT_CONSUMER_TEST=ON

if [[ $fast -eq 0 ]]; then
  echo "== ASan + UBSan build (build/asan)"
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    run_suite build/asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRT_SANITIZE=address -DRT_BUILD_BENCH=OFF

  echo "== ThreadSanitizer build (build/tsan): scheduler, channel and sync suites"
  # halt_on_error: a report ends the process, so a race in a death test's
  # child (which leaves with _exit, skipping TSan's exit code) still fails
  # its test. die_after_fork=0: death tests fork a multithreaded process.
  # atexit_sleep_ms=0: the runtime's threads never exit, so TSan's wait for
  # exiting threads would only add a second to every test process.
  TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:die_after_fork=0:atexit_sleep_ms=0:second_deadlock_stack=1} \
    run_suite build/tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRT_SANITIZE=thread -DRT_BUILD_BENCH=OFF \
      -- -R "$tsan_suites" -E "$tsan_skip"

  echo "== libFuzzer build (build/fuzz): the channel fuzzer"
  # -O1 (ASan's usual level) keeps the instrumented build short. A failing
  # input is written to build/fuzz/crash-* and the stage fails; replay it
  # with build/fuzz/tests/fuzz/rt-chan-fuzz FILE.
  fuzz_seconds=${RT_FUZZ_SECONDS:-30}  # CI must finish within 30 minutes in all
  cmake -S . -B build/fuzz -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS_RELEASE=-O1 -DCMAKE_CXX_FLAGS_RELEASE=-O1 \
    -DRT_ASSERTIONS=ON -DRT_FUZZ=ON -DRT_BUILD_TESTS=OFF -DRT_BUILD_BENCH=OFF >/dev/null
  cmake --build build/fuzz --target rt-chan-fuzz -j"$jobs"
  mkdir -p build/fuzz/corpus
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    build/fuzz/tests/fuzz/rt-chan-fuzz -max_total_time="$fuzz_seconds" -timeout=60 -print_final_stats=1 \
      -artifact_prefix=build/fuzz/ build/fuzz/corpus tests/fuzz/corpus/chan
fi
