#!/usr/bin/env bash
# Installs what librt needs to build, test and benchmark, from Debian's
# packages. Idempotent: quiet when everything is already present.
#   tools/setup.sh          build + test dependencies
#   tools/setup.sh --bench  also the benchmark peers' dependencies
set -euo pipefail

pkgs=(build-essential cmake ninja-build pkg-config python3
      libboost-context-dev libmimalloc-dev libspdlog-dev
      libgtest-dev libgmock-dev googletest libbenchmark-dev
      clang libclang-rt-14-dev  # clang + libFuzzer's runtime: the fuzz stage
      python3-matplotlib)       # rt-lab's plots (tools/lab/plot.py, run by /usr/bin/python3)
bench_pkgs=(golang-go libgc-dev libboost-fiber-dev time)

for arg in "$@"; do
  case "$arg" in
    --bench) pkgs+=("${bench_pkgs[@]}") ;;
    *) echo "setup.sh: unknown option '$arg' (accepted: --bench)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${pkgs[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
  echo "setup.sh: missing packages: ${missing[*]}; run as root or install them" >&2
  exit 2
fi
echo "setup.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
