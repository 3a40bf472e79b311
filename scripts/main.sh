#!/usr/bin/env bash
# main.sh: the main job. Installs what is missing, builds Keel (Release), installs it into
# ./_install, then builds the samples against that installed package twice (pkg-config with a
# plain cc, and CMake's find_package(Keel)) and runs every sample binary. Exits non-zero on the
# first failure.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

jobs=2
build="$root/build-main"      # Keel itself, Release, without tests
prefix="$root/_install"       # the installed package the samples use, and nothing else
samples_pc="$build/samples-pkgconfig"
samples_cmake="$build/samples-cmake"
cflags=(-O2 -Wall -Wextra -Werror)

log() { printf '\n==> main.sh: %s\n' "$*"; }
on_exit() {
  local rc=$?
  if [[ $rc -ne 0 ]]; then printf '\nmain.sh: FAILED (exit %d); see the output above\n' "$rc"; fi
}
trap on_exit EXIT

log "install missing dependencies (scripts/setup.sh)"
bash scripts/setup.sh

log "configure and build Keel (Release) in build-main/"
cmake -S . -B "$build/keel" -DCMAKE_BUILD_TYPE=Release -DKEEL_BUILD_TESTS=OFF \
  -DCMAKE_INSTALL_PREFIX="$prefix"
cmake --build "$build/keel" -j "$jobs"

log "install into _install/"
rm -rf "$prefix"
cmake --install "$build/keel"

# --- samples, plain cc + pkg-config ---------------------------------------------------------------
log "build the samples with cc and pkg-config keel-cgc (PKG_CONFIG_PATH=_install/lib/pkgconfig)"
pcdir=$(find "$prefix" -name keel-cgc.pc -printf '%h\n' | head -n 1)
if [[ -z "$pcdir" ]]; then
  echo "main.sh: the install did not produce keel-cgc.pc" >&2
  exit 1
fi
export PKG_CONFIG_PATH="$pcdir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
echo "pkg-config --cflags --libs keel-cgc: $(pkg-config --cflags --libs keel-cgc)"
mkdir -p "$samples_pc"
cc_sample() { # output, sources...
  local out=$1
  shift
  # pkg-config prints several words: split them into an array.
  local -a keel_flags
  read -r -a keel_flags <<<"$(pkg-config --cflags --libs keel-cgc)"
  echo "cc ${cflags[*]} -o ${out#"$root"/} ${*#"$root"/} \$(pkg-config --cflags --libs keel-cgc)"
  cc "${cflags[@]}" -o "$out" "$@" "${keel_flags[@]}"
}
cc_sample "$samples_pc/embed_host" samples/embed_host/embed_host.c
cc_sample "$samples_pc/extension" samples/extension/extension.c samples/extension/registry.c

# --- samples, CMake find_package(Keel) ------------------------------------------------------------
log "build the samples with CMake find_package(Keel) (CMAKE_PREFIX_PATH=_install)"
cmake -S samples -B "$samples_cmake" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix"
cmake --build "$samples_cmake" -j "$jobs"

# --- run them --------------------------------------------------------------------------------------
ran=0
for dir in "$samples_pc" "$samples_cmake"; do
  for name in embed_host extension; do
    log "run ${dir#"$root"/}/$name"
    "$dir/$name"
    ran=$((ran + 1))
  done
done
log "all $ran sample runs passed (Keel installed in _install/)"
