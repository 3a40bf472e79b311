#!/usr/bin/env bash
# setup.sh: installs the Debian 12 packages Keel needs to build, test and benchmark. Idempotent:
# each package is checked with dpkg-query first, and apt-get runs (after one `apt-get update`)
# only when something is missing, so a second run installs nothing and touches no network.
set -euo pipefail

# What each package is for:
#   build-essential g++   the C and C++ compilers, make
#   cmake pkg-config      the build, and the pkg-config build of the samples
#   libffi-dev            scheme_add_gc_callback descriptions (ffi/)
#   libboost-context-dev  green threads (runtime/)
#   libboost-test-dev     the test suites (tests/)
#   libgmp-dev            bignums (runtime/)
#   valgrind              the valgrind tests (tests/valgrind/) and its headers, with which the
#                         conservative scan marks the words it reads as defined under valgrind
#   libgc-dev libmimalloc-dev hyperfine python3   the benchmarks (bench/, scripts/bench.sh)
packages=(
  build-essential g++ cmake pkg-config
  libffi-dev libboost-context-dev libboost-test-dev libgmp-dev valgrind
  libgc-dev libmimalloc-dev hyperfine python3
)

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  echo "setup: no dpkg-query/apt-get here (not Debian-like); install these yourself:" >&2
  echo "setup:   ${packages[*]}" >&2
  exit 0
fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  if [[ "$status" != "install ok installed" ]]; then
    missing+=("$p")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup: all ${#packages[@]} packages already installed"
  exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "setup: missing packages (${missing[*]}) and not root, and sudo is not installed;" >&2
    echo "setup: run this script as root once" >&2
    exit 1
  fi
  sudo=(sudo)
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "setup: done"
