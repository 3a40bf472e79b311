#!/usr/bin/env bash
# main.sh: the main job. Installs what is missing, builds Keel (Release), installs it into
# ./_install, then builds each sample from its one source for both collectors (keel-cgc and
# keel-3m) in two ways (pkg-config with a plain cc, and CMake's find_package(Keel)), runs every
# sample binary, and runs the 3m ones once more with a collection at every allocation. Exits
# non-zero on the first failure.
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
variants=(cgc 3m)
pcdir=$(find "$prefix" -name keel-cgc.pc -printf '%h\n' | head -n 1)
for variant in "${variants[@]}"; do
  if [[ -z "$pcdir" || ! -f "$pcdir/keel-$variant.pc" ]]; then
    echo "main.sh: the install did not produce keel-$variant.pc" >&2
    exit 1
  fi
done
export PKG_CONFIG_PATH="$pcdir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
rm -rf "$samples_pc" "$samples_cmake" # no binary of an earlier run survives to be run here
mkdir -p "$samples_pc"
cc_sample() { # variant, output, sources...
  local variant=$1 out=$2
  shift 2
  # pkg-config prints several words: split them into an array.
  local -a keel_flags
  read -r -a keel_flags <<<"$(pkg-config --cflags --libs "keel-$variant")"
  echo "cc ${cflags[*]} -o ${out#"$root"/} ${*#"$root"/} \$(pkg-config --cflags --libs keel-$variant)"
  cc "${cflags[@]}" -o "$out" "$@" "${keel_flags[@]}"
}
# gc_indicator's C library has no Keel in it; the executables open it from their own directory.
log "build gc_indicator's plain C library with cc"
echo "cc ${cflags[*]} -shared -fPIC -o ${samples_pc#"$root"/}/libindicator.so samples/gc_indicator/indicator.c"
cc "${cflags[@]}" -shared -fPIC -o "$samples_pc/libindicator.so" samples/gc_indicator/indicator.c
for variant in "${variants[@]}"; do
  log "build the samples with cc and pkg-config keel-$variant (PKG_CONFIG_PATH=_install/lib/pkgconfig)"
  echo "pkg-config --cflags --libs keel-$variant: $(pkg-config --cflags --libs "keel-$variant")"
  cc_sample "$variant" "$samples_pc/embed_host_$variant" samples/embed_host/embed_host.c
  cc_sample "$variant" "$samples_pc/extension_$variant" samples/extension/extension.c samples/extension/registry.c
  cc_sample "$variant" "$samples_pc/mandelbrot_$variant" samples/places/mandelbrot.c
  cc_sample "$variant" "$samples_pc/gc_indicator_$variant" samples/gc_indicator/gc_indicator.c
done

# --- samples, CMake find_package(Keel) ------------------------------------------------------------
log "build the samples with CMake find_package(Keel), Keel::cgc and Keel::3m (CMAKE_PREFIX_PATH=_install)"
cmake -S samples -B "$samples_cmake" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix"
cmake --build "$samples_cmake" -j "$jobs"

# --- run them --------------------------------------------------------------------------------------
ran=0
for dir in "$samples_pc" "$samples_cmake"; do
  for variant in "${variants[@]}"; do
    for name in embed_host extension mandelbrot gc_indicator; do
      log "run ${dir#"$root"/}/${name}_$variant"
      "$dir/${name}_$variant"
      ran=$((ran + 1))
    done
  done
done

# A registration the 3m source forgot shows only when a collection moves an object while the
# unregistered copy is live, so every 3m binary runs once more with a collection at every
# allocation (KEEL_GC_STRESS=1); both builds, as their optimizers keep different copies in
# registers. The argument shrinks the garbage they allocate to 0.25 MiB (the defaults, 32 to
# 96 MiB, are millions of allocations: far too slow at one collection each), and mandelbrot's
# image to a quarter of its sides. Every function
# still runs and the garbage loops run thousands of times; each run takes about a second.
stress_mib=0.25
stressed=0
for dir in "$samples_pc" "$samples_cmake"; do
  for name in embed_host extension mandelbrot gc_indicator; do
    log "run ${dir#"$root"/}/${name}_3m $stress_mib with KEEL_GC_STRESS=1 (a collection at every allocation)"
    TIMEFORMAT="($name under KEEL_GC_STRESS=1: %R s)"
    time KEEL_GC_STRESS=1 "$dir/${name}_3m" "$stress_mib"
    ran=$((ran + 1))
    stressed=$((stressed + 1))
  done
done
log "all $ran sample runs passed, $stressed of them under KEEL_GC_STRESS=1 (Keel installed in _install/)"
