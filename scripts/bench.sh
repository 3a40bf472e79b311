#!/usr/bin/env bash
# bench.sh: builds the benchmarks in Release (build-bench/, reused between calls) and runs
# bench/run_bench.py with this script's arguments, e.g.
#   scripts/bench.sh                 # every benchmark x allocator, 5 runs, binary-trees 21
#   scripts/bench.sh --quick         # depth 16, 3 runs
#   scripts/bench.sh --only binary-trees --runs 3
#   scripts/bench.sh --places        # places: round trips, stream, 4 MB, creation, weak scaling
# Environment: KEEL_BENCH_BUILD_DIR (default <repo>/build-bench), KEEL_BENCH_JOBS (default 2).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${KEEL_BENCH_BUILD_DIR:-$root/build-bench}"
jobs="${KEEL_BENCH_JOBS:-2}"

# Packages: scripts/setup.sh installs whatever is missing (idempotent, no network when nothing
# is); without it, the two benchmark libraries are checked and installed here.
have_deps() {
  pkg-config --exists bdw-gc 2>/dev/null &&
    { [ -e /usr/include/mimalloc.h ] || [ -e /usr/local/include/mimalloc.h ]; }
}
if [ -f "$root/scripts/setup.sh" ]; then
  bash "$root/scripts/setup.sh" >&2
elif ! have_deps && command -v apt-get >/dev/null; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update
  $sudo apt-get install -y --no-install-recommends libgc-dev libmimalloc-dev pkg-config
fi
have_deps || { echo "bench.sh: need libgc-dev (pkg-config bdw-gc) and libmimalloc-dev" >&2; exit 1; }

# A new build directory gets a Release tree of Keel and the benchmarks only; an existing one
# (test.sh's bench-smoke reuses the release tree in build/, whose libraries are built already)
# keeps its settings and gains the benchmarks.
configure=(-DKEEL_BUILD_BENCH=ON)
if [ ! -f "$build/CMakeCache.txt" ]; then
  configure+=(-DCMAKE_BUILD_TYPE=Release -DKEEL_BUILD_TESTS=OFF)
  if command -v ninja >/dev/null; then configure+=(-G Ninja); fi
elif ! grep -q '^CMAKE_BUILD_TYPE:STRING=Release$' "$build/CMakeCache.txt"; then
  echo "bench.sh: $build is not a Release build; benchmarks are measured in Release only" >&2
  exit 1
fi
cmake -S "$root" -B "$build" "${configure[@]}" >/dev/null
cmake --build "$build" --target keel_bench -j "$jobs"

export KEEL_BENCH_COMMAND="scripts/bench.sh${*:+ $*}"
# --places [run_places.py options]: the places benchmark (bench/places.c) instead.
if [ "${1:-}" = "--places" ]; then
  shift
  exec python3 "$root/bench/run_places.py" --bin-dir "$build/bench" "$@"
fi
exec python3 "$root/bench/run_bench.py" --bin-dir "$build/bench" "$@"
