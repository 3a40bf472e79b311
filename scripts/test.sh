#!/usr/bin/env bash
# test.sh: builds and runs Keel's whole test suite, the way CI does (.ci/run calls this).
#   1. Release build in build/ (preset "release"), ctest: every suite, including the GC-stress
#      run of the API tests (label "stress").
#   2. AddressSanitizer + UndefinedBehaviorSanitizer Debug build in build-asan/ (preset
#      "asan-ubsan"), the same ctest suite with ASAN_OPTIONS=detect_stack_use_after_return=0:
#      detect_leaks=1 (the conservative collector cannot see ASan's fake stacks), less the tests
#      labelled "heavy" (RSS measurements mean nothing under ASan's shadow memory, and repeats of
#      the stress suite under other settings take minutes each there).
#   3. Debug build in build-debug/ (preset "debug"): KEEL_TEST_DEBUG=1 runs it, 0 skips it,
#      auto (the default) runs it only when steps 1-2 took under KEEL_TEST_DEBUG_BUDGET seconds
#      (default 900), so the script stays within CI's 25 minutes on 2 cores. Measured on 2 cores:
#      release ~1.5 min, asan-ubsan ~9 min (the stress and GC-stress API runs dominate), debug ~3 min.
# Stops at the first failure with the step's name; always ends with a summary.
# Environment: KEEL_TEST_JOBS (default 2) build and ctest parallelism.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

jobs=${KEEL_TEST_JOBS:-2}
debug_mode=${KEEL_TEST_DEBUG:-auto}
debug_budget=${KEEL_TEST_DEBUG_BUDGET:-900}
script_start=$SECONDS
current_step=""
step_start=0
ctest_log=""
summary=()

log() { printf '\n==> test.sh: %s\n' "$*"; }

finish() {
  local rc=$?
  local line
  if [[ $rc -ne 0 && -n "$current_step" ]]; then
    line=""
    if [[ -n "$ctest_log" && -f "$ctest_log" ]]; then
      line=$(grep -E '[0-9]+% tests passed' "$ctest_log" | tail -n 1 || true)
    fi
    summary+=("$(printf '%-12s FAILED %5ds  %s' "$current_step" $((SECONDS - step_start)) "$line")")
  fi
  printf '\n==== test.sh summary ====\n'
  for line in "${summary[@]}"; do printf '%s\n' "$line"; done
  printf '%-12s        %5ds\n' "total" $((SECONDS - script_start))
  if [[ $rc -ne 0 ]]; then
    printf 'test.sh: FAILED in step "%s" (exit %d); see the output above\n' "${current_step:-?}" "$rc"
  else
    printf 'test.sh: all steps passed\n'
  fi
  exit "$rc"
}
trap finish EXIT

begin_step() {
  current_step=$1
  step_start=$SECONDS
  log "step $1: $2"
}

end_step() {
  summary+=("$(printf '%-12s ok     %5ds  %s' "$current_step" $((SECONDS - step_start)) "${1:-}")")
  current_step=""
}

# Configures, builds and tests one preset (its binaryDir in CMakePresets.json is $2); the
# ctest summary line goes into the summary.
run_preset() {
  local preset=$1 line
  ctest_log=""
  cmake --preset "$preset"
  cmake --build --preset "$preset" -j "$jobs"
  ctest_log="$root/$2/ctest.log"
  # pipefail makes the pipeline fail when ctest fails.
  ctest --preset "$preset" -j "$jobs" 2>&1 | tee "$ctest_log"
  line=$(grep -E '[0-9]+% tests passed' "$ctest_log" | tail -n 1 || true)
  end_step "$line"
}

for v in KEEL_GC_STRESS KEEL_GC_TRACE KEEL_GC_VERIFY KEEL_GC_RECORDS KEEL_GC_GROWTH \
         KEEL_GC_MIN_BYTES KEEL_GC_AGING KEEL_GC_BARRIER PLTDISABLEGC GC_INITIAL_HEAP_SIZE GC_MAXIMUM_HEAP_SIZE \
         GC_ALL_INTERIOR_POINTERS; do
  if [[ -n "${!v:-}" ]]; then
    echo "test.sh: note: $v=${!v} is set and applies to every test"
  fi
done

begin_step setup "install missing build dependencies (scripts/setup.sh)"
bash scripts/setup.sh
cmake --version | head -n 1
c++ --version | head -n 1
end_step

begin_step release "Release build in build/, ctest"
run_preset release build

begin_step asan-ubsan "ASan+UBSan Debug build in build-asan/, ctest (label heavy excluded)"
run_preset asan-ubsan build-asan

elapsed=$((SECONDS - script_start))
case "$debug_mode" in
  1 | on | yes) run_debug=1 ;;
  0 | off | no) run_debug=0 ;;
  auto) if [[ $elapsed -lt $debug_budget ]]; then run_debug=1; else run_debug=0; fi ;;
  *) echo "test.sh: KEEL_TEST_DEBUG must be auto, 1 or 0 (got '$debug_mode')" >&2; exit 2 ;;
esac
if [[ $run_debug -eq 1 ]]; then
  begin_step debug "Debug build in build-debug/, ctest"
  run_preset debug build-debug
else
  summary+=("$(printf '%-12s skipped        (steps 1-2 took %ds; KEEL_TEST_DEBUG=1 runs it)' debug "$elapsed")")
fi
