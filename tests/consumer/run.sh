#!/usr/bin/env bash
# Installs librt from build dir $1 (source dir $2) into a scratch prefix,
# then builds and runs tests/consumer against it with find_package, and
# again with add_subdirectory.
set -euo pipefail
build=$1 src=$2
work="$build/consumer-test"
rm -rf "$work"
cmake --install "$build" --prefix "$work/prefix" >/dev/null
cmake -S "$src/tests/consumer" -B "$work/pkg" -G Ninja -DRT_CONSUMER_MODE=package \
  -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/pkg" >/dev/null
"$work/pkg/consumer"
cmake -S "$src/tests/consumer" -B "$work/sub" -G Ninja -DRT_CONSUMER_MODE=subdir \
  -DRT_SOURCE_DIR="$src" >/dev/null
cmake --build "$work/sub" -j2 >/dev/null
"$work/sub/consumer"
