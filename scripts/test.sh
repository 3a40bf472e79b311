#!/usr/bin/env bash
# test.sh: builds and runs Keel's whole test suite, the way CI does (.ci/run calls this).
#   1. Release build in build/ (preset "release"), ctest: every suite, including the GC-stress
#      run of the API tests (label "stress").
#   2. The benchmarks (scripts/bench.sh --quick --runs 1, in the release tree build/, which
#      then gains the benchmark programs and reuses its Release libraries): each runs once,
#      short, against every allocator that has what it measures (finalize: Keel and bdwgc;
#      ephemeron-chain: Keel's variants); the driver fails when one crashes or prints output that
#      differs from the others' (finalize: every finalizer ran exactly once; ephemeron-chain:
#      every link kept, then every one cleared). About a minute on 2 cores, the build of the
#      benchmark programs included.
#   3. AddressSanitizer + UndefinedBehaviorSanitizer Debug build in build-asan/ (preset
#      "asan-ubsan"), the same ctest suite with ASAN_OPTIONS=detect_stack_use_after_return=0:
#      detect_leaks=1 (the conservative collector cannot see ASan's fake stacks), less the tests
#      labelled "heavy" (RSS measurements mean nothing under ASan's shadow memory, and repeats of
#      the stress suite under other settings take minutes each there). Two settings keep it well
#      inside CI's limit on a slow host: the preset's GC-stress runs collect at every 50th
#      allocation instead of every 25th (KEEL_TEST_GC_STRESS), and the time-budgeted stress runs
#      get 0.35 of their budgets (KEEL_TEST_BUDGET_SCALE defaults to 0.35 in this step only).
#   4. ThreadSanitizer build in build-tsan/ (preset "tsan"): the suites where threads meet (place
#      attachment, gc.h threads touching each other's memory, thread exit), built into two small
#      programs (CGC and 3m) and run plain and under GC stress. About 2.5 minutes.
#   5. Debug build in build-debug/ (preset "debug"): KEEL_TEST_DEBUG=1 runs it, 0 skips it,
#      auto (the default) runs it only when steps 1-4 took under KEEL_TEST_DEBUG_BUDGET seconds
#      (default 900), so the script stays within CI's 30 minutes on 2 cores. Measured on 2 cores
#      shared with other work: release ~6.5 min (build 3-4, ctest 2.5; no test over 30 s),
#      asan-ubsan ~15 min with half budgets (build 4, ctest 11: the GC-stress API run in ten
#      parts of 25 to 115 s, the API suite under mprotect 135 s, the stress tests 40 to 50 s
#      each by their time budgets; no test over 25% of the 600 s timeout, though heavy other load
#      has pushed a part to 40%), tsan ~3.5 min, debug ~3 min; the whole run ~26.5 min with half
#      budgets (debug skipped), hence 0.35 of them in the sanitizer step.
# After each step's tests it prints the 5 slowest with their share of CTest's timeout, and how
# many of the time-budgeted stress runs (tests/support/budget.h) stopped at their deadline or
# overran their budget. Stops at the first failure with the step's name; always ends with a
# summary.
# Environment: KEEL_TEST_JOBS (default 2) build and ctest parallelism; KEEL_TEST_BUDGET_SCALE
# (default 1) multiplies the stress runs' time budgets (below 1 on a slower host, "inf" for
# their full nominal step counts).
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
completed=0  # set at the very end: an exit before it (a signal, say) is no success

log() { printf '\n==> test.sh: %s\n' "$*"; }

finish() {
  local rc=$?
  local line
  if [[ $rc -eq 0 && $completed -ne 1 ]]; then
    # Killed by a signal while waiting for a command: bash runs this trap with $? 0.
    echo "test.sh: stopped before the end (killed by a signal?)" >&2
    rc=1
  fi
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

# CTest's per-test timeout (the test presets' "timeout" in CMakePresets.json), for the margins.
ctest_timeout=$(grep -oE '"timeout": *[0-9]+' CMakePresets.json | grep -oE '[0-9]+$' | head -n 1 || true)
ctest_timeout=${ctest_timeout:-600}

# Prints the 5 slowest tests of a ctest log, from CTest's result lines
# ("  3/45 Test  #7: name ........   Passed   12.34 sec"), with their share of the timeout.
print_slowest() {
  local log=$1 label=$2
  log "$label: the 5 slowest tests (CTest timeout ${ctest_timeout} s)"
  sed -nE 's/^ *[0-9]+\/[0-9]+ +Test +#[0-9]+: ([^ ]+) [ .]*\**([A-Za-z][^0-9]*[A-Za-z]) +([0-9]+\.[0-9]+) sec.*$/\3 \2|\1/p' \
    "$log" | sort -k1,1 -rn | head -n 5 |
    while read -r secs rest; do
      printf '  %8.2f s  %3d%%  %-9s %s\n' "$secs" "$(awk -v s="$secs" -v t="$ctest_timeout" 'BEGIN { printf "%d", 100 * s / t }')" \
        "${rest%%|*}" "${rest#*|}"
    done || true
}

# Prints what the time-budgeted runs (tests/support/budget.h) wrote to their log: how many ran,
# and every one that stopped at its deadline or overran its budget.
print_budgets() {
  local budget_log=$1 label=$2 total full stopped overran
  [[ -f "$budget_log" ]] || return 0
  total=$(grep -c '^\[budget\]' "$budget_log" || true)
  full=$(grep -c '): ran all ' "$budget_log" || true)
  stopped=$(grep -c 'stopped at the deadline' "$budget_log" || true)
  overran=$(grep -c 'BUDGET OVERRUN' "$budget_log" || true)
  log "$label: $total budgeted stress runs: $full ran their nominal steps, $stopped stopped at the deadline, $overran overran their budget"
  grep -E 'stopped at the deadline|BUDGET OVERRUN|stopped by a failure|not a non-negative' "$budget_log" | sed 's/^/  /' || true
}

# Configures, builds and tests one preset (its binaryDir in CMakePresets.json is $2); the
# ctest summary line goes into the summary, the 5 slowest tests and the budgeted runs that were
# cut short into the log.
run_preset() {
  local preset=$1 line rc=0 budget_log slowest
  ctest_log=""
  cmake --preset "$preset"
  cmake --build --preset "$preset" -j "$jobs"
  ctest_log="$root/$2/ctest.log"
  budget_log="$root/$2/budget.log"
  rm -f "$budget_log"
  # pipefail makes the pipeline fail when ctest fails.
  KEEL_TEST_BUDGET_LOG=$budget_log ctest --preset "$preset" -j "$jobs" 2>&1 | tee "$ctest_log" || rc=$?
  print_slowest "$ctest_log" "$preset"
  print_budgets "$budget_log" "$preset"
  if [[ $rc -ne 0 ]]; then return "$rc"; fi
  line=$(grep -E '[0-9]+% tests passed' "$ctest_log" | tail -n 1 || true)
  slowest=$(sed -nE 's/^ *[0-9]+\/[0-9]+ +Test +#[0-9]+: .* ([0-9]+\.[0-9]+) sec.*$/\1/p' "$ctest_log" | sort -rn | head -n 1 || true)
  end_step "$line${slowest:+; slowest test ${slowest} s}"
}

for v in KEEL_GC_STRESS KEEL_GC_TRACE KEEL_GC_VERIFY KEEL_GC_RECORDS KEEL_GC_GROWTH \
         KEEL_GC_MIN_BYTES KEEL_GC_AGING KEEL_GC_BARRIER PLTDISABLEGC GC_INITIAL_HEAP_SIZE GC_MAXIMUM_HEAP_SIZE \
         GC_ALL_INTERIOR_POINTERS KEEL_GC_DECAY_MS KEEL_TEST_BUDGET_SCALE KEEL_TEST_BUDGET_SECONDS; do
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

begin_step bench-smoke "every benchmark once against every allocator that has what it measures (scripts/bench.sh --quick --runs 1)"
# In the release tree, whose Release libraries are built already: only the benchmark programs
# are compiled here.
bench_log="$root/build/bench-smoke.log"
KEEL_BENCH_BUILD_DIR="$root/build" KEEL_BENCH_JOBS=$jobs scripts/bench.sh --quick --runs 1 --timeout 300 2>&1 | tee "$bench_log"
end_step "every benchmark ran against its allocators, outputs agree"

begin_step asan-ubsan "ASan+UBSan Debug build in build-asan/, ctest (label heavy excluded)"
KEEL_TEST_BUDGET_SCALE=${KEEL_TEST_BUDGET_SCALE:-0.35} run_preset asan-ubsan build-asan

begin_step tsan "ThreadSanitizer build in build-tsan/ of the suites where threads meet, ctest (label tsan)"
run_preset tsan build-tsan

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
  summary+=("$(printf '%-12s skipped        (steps 1-4 took %ds; KEEL_TEST_DEBUG=1 runs it)' debug "$elapsed")")
fi
completed=1
