#!/usr/bin/env python3
"""run_bench.py: runs every benchmark against every allocator, side by side, and prints one
markdown table per benchmark (bench/README.md explains the columns).

Each binary prints one line `BENCH {json}` last; this driver collects those lines, checks each
run's output (binary-trees against the Benchmarks Game lines, the others against each other),
and reduces the runs. Allocators run round-robin within each round, and the order rotates from
round to round, so drift on a shared machine falls on all of them alike.

Before the first run and after the last, the driver runs fault_cost (bench/fault_cost.c, built
with the benchmarks) and prints what page faults and mprotect cost on this host above the tables.

Some benchmarks exist only for some allocators (SUPPORTED: finalize needs finalizers,
ephemeron-chain ephemerons, ffi Keel's FFI); the others are left out of their tables, with a
note, and not counted as missing.

Standard library only. Usage: bench/run_bench.py [--quick] [--runs N] [--depth N] [--count N]
[--steps N] [--passes N] [--objects N] [--links N] [--ffi-calls N] [--ffi-collections N]
[--only binary-trees,gcbench,alloc16,mutate,calls,finalize,ephemeron-chain,ffi]
[--allocs keel-cgc,keel-3m,bdwgc,malloc,mimalloc] [--bin-dir DIR]
"""

import argparse
import datetime
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time

ALLOCATORS = ["keel-cgc", "keel-cgc-mprotect", "keel-cgc-full", "keel-3m", "bdwgc", "malloc", "mimalloc"]
# Variants that run another allocator's binary with extra environment: the Keel binary with the
# mprotect write barrier instead of the automatic choice (uffd where the kernel offers it).
VARIANTS = {"keel-cgc-mprotect": ("keel-cgc", {"KEEL_GC_BARRIER": "mprotect"}),
            "keel-cgc-full": ("keel-cgc", {"KEEL_GC_BARRIER": "none"})}
LABELS = {"keel-cgc": "Keel CGC", "keel-cgc-mprotect": "Keel CGC (mprotect barrier)",
          "keel-cgc-full": "Keel CGC (no barrier: full collections)", "keel-3m": "Keel 3m",
          "bdwgc": "bdwgc", "malloc": "glibc malloc",
          "mimalloc": "mimalloc"}
BENCHMARKS = ["binary-trees", "gcbench", "alloc16", "mutate", "calls", "finalize", "ephemeron-chain", "ffi"]
BINARIES = {"binary-trees": "binary_trees", "gcbench": "gcbench", "alloc16": "alloc16",
            "mutate": "mutate", "calls": "calls", "finalize": "finalize",
            "ephemeron-chain": "ephemeron_chain", "ffi": "ffi"}
# Benchmarks that only some allocators can run (bench/CMakeLists.txt builds no binary for the
# others: KEEL_BENCH_ONLY_<client>), with the reason the report gives; every other benchmark
# runs for every allocator.
SUPPORTED = {
    "finalize": (["keel-cgc", "keel-cgc-mprotect", "keel-cgc-full", "keel-3m", "bdwgc"], "no finalizers"),
    "ephemeron-chain": (["keel-cgc", "keel-cgc-mprotect", "keel-cgc-full", "keel-3m"], "no ephemerons"),
    "ffi": (["keel-cgc", "keel-cgc-mprotect", "keel-cgc-full", "keel-3m"], "no FFI"),
}
BASELINE = "bdwgc"
FULL = "keel-cgc-full"  # the reference of the mutate target
CGC = "keel-cgc"  # the reference of the calls target: the same source without registration
FAULT_COST = "fault_cost"  # bench/fault_cost.c, in the same directory as the benchmarks
# The issues' targets, per Keel row (CGC: the page-fault issue; 3m: the 3m issue); the driver
# prints a verdict line for each under the table. Keys:
#   wall_vs_bdwgc    wall time at most this fraction of bdwgc's
#   wall_vs_full     wall time at most this multiple of "Keel CGC (no barrier: full collections)"
#   minflt_vs_bdwgc  minor page faults at most this multiple of bdwgc's
#   sys_pct          sys time at most this percentage of its wall time
#   minor_p99_ms     minor-collection pauses, p99, at most this many ms
#   minor_max_ms     minor-collection pauses, max, at most this many ms
#   rss_vs_live      peak RSS at most this multiple of peak live data (the analytic figure)
#   call_pct_vs_cgc  time per call of the call phase (calls) at most this many percent above
#                    that of "Keel CGC": ((t_3m - t_cgc) / t_cgc), the cost of MZ_GC_* registration
#   object_vs_bdwgc  time per finalizable object (finalize: ns_per_object) at most this fraction
#                    of bdwgc's
#   resolve_ms       the collection that resolves the chain of --links ephemerons (reverse
#                    order) at most this many ms
#   resolve_growth   that collection's time at most this multiple of the one for a tenth of the
#                    links: 10 is linear, a rescanning fixpoint gives 100; 20 leaves room for
#                    the cache misses of a heap ten times as large
TARGETS = {
    "keel-cgc": {
        "binary-trees": {"wall_vs_bdwgc": 0.5, "minflt_vs_bdwgc": 1.5, "sys_pct": 10.0,
                         "minor_p99_ms": 5.0, "rss_vs_live": 1.6},
        "gcbench": {"wall_vs_bdwgc": 0.7, "rss_vs_live": 1.6},
        "alloc16": {"wall_vs_bdwgc": 0.2},
        "mutate": {"wall_vs_full": 1.10},
        "finalize": {"object_vs_bdwgc": 0.5},
        "ephemeron-chain": {"resolve_ms": 1000.0, "resolve_growth": 20.0},
    },
    "keel-3m": {
        "binary-trees": {"wall_vs_bdwgc": 0.2, "minflt_vs_bdwgc": 1.0, "minor_p99_ms": 1.0,
                         "minor_max_ms": 2.0, "rss_vs_live": 2.0},
        "gcbench": {"wall_vs_bdwgc": 0.5},
        "alloc16": {"wall_vs_bdwgc": round(1 / 15, 3)},  # at least 15x faster than GC_MALLOC
        "calls": {"call_pct_vs_cgc": 15.0},
        "finalize": {"object_vs_bdwgc": 0.5},
        "ephemeron-chain": {"resolve_ms": 1000.0, "resolve_growth": 20.0},
    },
}


def parse_args(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    default_bin = os.path.join(os.path.dirname(here), "build-bench", "bench")
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, help="runs per benchmark and allocator (default 5; 3 with --quick)")
    p.add_argument("--quick", action="store_true",
                   help="binary-trees depth 16, alloc16 20M allocations, mutate 1M steps, "
                        "calls 100 passes, 3 runs")
    p.add_argument("--depth", type=int, help="binary-trees depth (default 21; 16 with --quick)")
    p.add_argument("--count", type=int, help="alloc16 allocations (default 200M; 20M with --quick)")
    p.add_argument("--steps", type=int, help="mutate steps (default 5M; 1M with --quick)")
    p.add_argument("--passes", type=int,
                   help="calls: walks over its tree, about 65,700 calls each (default 5000; 100 with --quick)")
    p.add_argument("--objects", type=int,
                   help="finalize: finalizable objects (default 1M; 100,000 with --quick)")
    p.add_argument("--links", type=int,
                   help="ephemeron-chain: links of the long chain; a tenth as many for the short one "
                        "(default 100,000; 10,000 with --quick)")
    p.add_argument("--ffi-calls", type=int,
                   help="ffi: calls of each function each way (default 3,000,000; 300,000 with --quick)")
    p.add_argument("--ffi-collections", type=int,
                   help="ffi: collections of each kind with and without the GC callbacks "
                        "(default 2000; 200 with --quick)")
    p.add_argument("--only", action="append", default=[],
                   help="benchmarks to run, comma-separated or repeated (_ for - accepted): " + ", ".join(BENCHMARKS))
    p.add_argument("--allocs", action="append", default=[],
                   help="allocators, comma-separated or repeated: " + ", ".join(ALLOCATORS))
    p.add_argument("--bin-dir", default=os.environ.get("KEEL_BENCH_BIN_DIR", default_bin),
                   help="where the <bench>-<alloc> binaries are (default %(default)s)")
    p.add_argument("--timeout", type=float, default=900, help="seconds per run (default 900)")
    p.add_argument("--raw", help="also append every BENCH record (JSON lines) to this file")
    p.add_argument("--output", help="also write the markdown report to this file")
    args = p.parse_args(argv)
    args.only = [name.replace("_", "-") for name in split_list(args.only)] or list(BENCHMARKS)
    args.allocs = split_list(args.allocs) or list(ALLOCATORS)
    for name in args.only:
        if name not in BENCHMARKS:
            p.error(f"unknown benchmark {name!r}; choose from {', '.join(BENCHMARKS)}")
    for name in args.allocs:
        if name not in ALLOCATORS:
            p.error(f"unknown allocator {name!r}; choose from {', '.join(ALLOCATORS)}")
    if args.runs is None:
        args.runs = 3 if args.quick else 5
    if args.depth is None:
        args.depth = 16 if args.quick else 21
    if args.count is None:
        args.count = 20_000_000 if args.quick else 200_000_000
    if args.steps is None:
        args.steps = 1_000_000 if args.quick else 5_000_000
    if args.passes is None:
        args.passes = 100 if args.quick else 5000
    if args.objects is None:
        args.objects = 100_000 if args.quick else 1_000_000
    if args.links is None:
        args.links = 10_000 if args.quick else 100_000
    if args.ffi_calls is None:
        args.ffi_calls = 300_000 if args.quick else 3_000_000
    if args.ffi_collections is None:
        args.ffi_collections = 200 if args.quick else 2000
    if args.runs < 1:
        p.error("--runs must be at least 1")
    return args


def split_list(values):
    out = []
    for v in values:
        out.extend(x.strip() for x in v.split(",") if x.strip())
    return out


def bench_argv(bench, args):
    if bench == "binary-trees":
        return [str(args.depth)]
    if bench == "alloc16":
        return [str(args.count)]
    if bench == "mutate":
        return [str(args.steps)]
    if bench == "calls":
        return [str(args.passes)]
    if bench == "finalize":
        return [str(args.objects)]
    if bench == "ephemeron-chain":
        return [str(args.links)]
    if bench == "ffi":
        return [str(args.ffi_calls), str(args.ffi_collections)]
    return []


# The report's line on each benchmark's size (for those with one).
BENCH_PARAMS = {
    "binary-trees": lambda a: f"binary-trees depth {a.depth}",
    "alloc16": lambda a: f"alloc16 {a.count} allocations",
    "mutate": lambda a: f"mutate {a.steps} steps",
    "calls": lambda a: f"calls {a.passes} passes",
    "finalize": lambda a: f"finalize {a.objects} objects",
    "ephemeron-chain": lambda a: f"ephemeron-chain {a.links // 10 or 1} and {a.links} links",
    "ffi": lambda a: f"ffi {a.ffi_calls} calls each way and {a.ffi_collections} collections of each kind with and "
                     f"without GC callbacks",
}


def supports(bench, alloc):
    """Whether a benchmark exists for an allocator (SUPPORTED)."""
    return bench not in SUPPORTED or alloc in SUPPORTED[bench][0]


def expected_binary_trees(n):
    """The Benchmarks Game's output for binary-trees n (the nodes-counting check)."""
    min_depth = 4
    max_depth = max(min_depth + 2, n)
    stretch = max_depth + 1
    lines = [f"stretch tree of depth {stretch}\t check: {(1 << (stretch + 1)) - 1}"]
    for d in range(min_depth, max_depth + 1, 2):
        iters = 1 << (max_depth - d + min_depth)
        lines.append(f"{iters}\t trees of depth {d}\t check: {iters * ((1 << (d + 1)) - 1)}")
    lines.append(f"long lived tree of depth {max_depth}\t check: {(1 << (max_depth + 1)) - 1}")
    return lines


def binary_path(bin_dir, bench, alloc):
    """The binary an allocator name runs, and the extra environment it runs with."""
    base, extra = VARIANTS.get(alloc, (alloc, {}))
    return os.path.join(bin_dir, f"{BINARIES[bench]}-{base}"), extra


def run_once(path, argv, timeout, extra_env=None):
    """Runs one binary; returns (record or None, output lines, error text or None)."""
    start = time.monotonic()
    env = dict(os.environ)
    env.pop("KEEL_GC_BARRIER", None)  # each allocator name fixes its own barrier
    env.update(extra_env or {})
    try:
        proc = subprocess.run([path] + argv, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return None, [], f"timed out after {timeout:.0f} s"
    outside = time.monotonic() - start
    lines = proc.stdout.splitlines()
    record = None
    body = []
    for line in lines:
        if line.startswith("BENCH "):
            try:
                record = json.loads(line[len("BENCH "):])
            except json.JSONDecodeError as e:
                return None, body, f"bad BENCH line ({e}): {line}"
        else:
            body.append(line)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["(no stderr)"])[-3:]
        return record, body, f"exit status {proc.returncode}: " + " | ".join(tail)
    if record is None:
        return None, body, "no BENCH line"
    record["outside_wall_s"] = round(outside, 4)
    return record, body, None


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, digits=2, none="n/a"):
    if x is None:
        return none
    return f"{x:.{digits}f}"


def machine_line():
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = f", {kb / 1048576:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return (f"host {platform.node() or 'unknown'}, nproc {usable} ({model}{mem}), kernel {platform.release()}, "
            f"{platform.system()} {platform.machine()}, python {platform.python_version()}")


FAULT_FIELDS = [("first_touch_us", "first touch"), ("refault_us", "refault after release"),
                ("write_fault_us", "write fault"), ("mprotect_us", "mprotect call"),
                ("populate_us", "MADV_POPULATE_WRITE"), ("thp_touch_us", "first touch in a huge page")]


def fmt_us(x, digits=1):
    """A fault_cost figure; negative means the kernel refused the operation."""
    return "n/a" if x < 0 else f"{x:.{digits}f}"


def run_fault_cost(bin_dir, timeout=300):
    """Runs fault_cost once; returns (its FAULTS record or None, error text or None)."""
    path = os.path.join(bin_dir, FAULT_COST)
    if not os.access(path, os.X_OK):
        return None, f"{path} is not built; it is part of the keel_bench target"
    try:
        proc = subprocess.run([path], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"{path} timed out after {timeout:.0f} s"
    except OSError as e:
        return None, f"{path}: {e}"
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["(no stderr)"])[-3:]
        return None, f"{path}: exit status {proc.returncode}: " + " | ".join(tail)
    for line in proc.stdout.splitlines():
        if line.startswith("FAULTS "):
            try:
                rec = json.loads(line[len("FAULTS "):])
            except json.JSONDecodeError as e:
                return None, f"{path}: bad FAULTS line ({e}): {line}"
            if all(isinstance(rec.get(k), (int, float)) for k, _ in FAULT_FIELDS):
                return rec, None
            return None, f"{path}: FAULTS line lacks a field: {line}"
    return None, f"{path}: no FAULTS line"


def measure_faults(bin_dir, when, fault_runs, raw):
    """Runs fault_cost, reports progress on stderr, keeps the record (and appends it to raw)."""
    print(f"[fault_cost {when}] ...", end=" ", file=sys.stderr, flush=True)
    rec, err = run_fault_cost(bin_dir)
    if err:
        print("not measured: " + err, file=sys.stderr)
        fault_runs.append((when, None, err))
        return
    print(", ".join(f"{label} {fmt_us(rec[k])} us" for k, label in FAULT_FIELDS), file=sys.stderr)
    fault_runs.append((when, rec, None))
    if raw:
        raw.write(json.dumps(dict(rec, bench="fault_cost", when=when)) + "\n")
        raw.flush()


def fault_lines(fault_runs):
    """The report's lines on the host's fault costs: the median over the fault_cost runs."""
    recs = [(when, rec) for when, rec, _ in fault_runs if rec]
    if not recs:
        why = next((err for _, _, err in fault_runs if err), "fault_cost did not run")
        return [f"- host fault costs: not measured ({why})"]
    med = {k: median([rec[k] for _, rec in recs]) for k, _ in FAULT_FIELDS}
    line = "- host fault costs: " + ", ".join(f"{label} {fmt_us(med[k])} µs" for k, label in FAULT_FIELDS)
    first = recs[0][1]
    each = "; ".join(f"{when} " + " / ".join(fmt_us(rec[k]) for k, _ in FAULT_FIELDS) + " µs"
                     for when, rec in recs)
    line += (f" (per 4 KiB page or call, median of {len(recs)} fault_cost run(s), each the median of "
             f"{first.get('reps', '?')} repetitions over {first.get('pages', '?')} pages: {each})")
    out = [line]
    for when, rec, err in fault_runs:
        if err:
            out.append(f"- fault_cost {when}: not measured ({err})")
    return out


# ephemeron_chain.c's collection times (ms): reverse order (the headline), forward order, and
# the clearing collection, each for the long chain and the short one (a tenth of the links).
EPHEMERON_MS = ["resolve_ms", "resolve_small_ms", "forward_ms", "forward_small_ms", "clear_ms",
                "clear_small_ms", "build_ms"]

# ffi.c's figures: ns per call of each signature (FFI_ROWS) called each way (FFI_WAYS), and per
# kind of collection (major, minor) the wall time, mean wall time, recorded pause and wall less
# pause ("outside"), in µs, with 0 and FFI_CALLBACKS GC-callback registrations.
FFI_ROWS = [("int64", "int64 x3 → int64"), ("double", "double x3 → double"),
            ("pointer", "pointer x2 → pointer"), ("callback", "callback int64 x3 → int64")]
FFI_WAYS = ["direct", "ffi", "keel"]
FFI_CALLBACKS = 10
FFI_GC = ["wall", "wall_mean", "pause", "outside"]
FFI_FIELDS = ([f"ns_{r}_{w}" for r, _ in FFI_ROWS for w in FFI_WAYS]
              + [f"{k}_{f}_us_{n}" for k in ("major", "minor") for f in FFI_GC for n in (0, FFI_CALLBACKS)])


def reduce_runs(records):
    """One row from the runs of one allocator: medians, except max pause (the worst run)."""
    def col(key):
        return [r.get(key) for r in records]
    walls = col("wall_s")
    maxes = [x for x in col("max_pause_us") if x is not None]
    per_call = [x for x in col("ns_per_call") if x is not None]
    per_object = [x for x in col("ns_per_object") if x is not None]
    return {
        "runs": len(records),
        "wall_s": median(walls),
        "wall_min": min(walls),
        "wall_max": max(walls),
        "rss_kb": median(col("peak_rss_kb")),
        "live_kb": median(col("peak_live_kb")),
        "analytic_kb": median(col("analytic_live_kb")),
        "collections": median(col("collections")),
        "minor": median(col("minor")),
        "barrier": records[0].get("barrier"),
        "faults": median(col("barrier_faults")),
        "written": median(col("pages_written")),
        "protected": median(col("pages_protected")),
        "aged_mib": median(col("aged_mib")),
        "promoted_mib": median(col("promoted_mib")),
        "remembered": median(col("remembered_pages")),
        "minor_p99_us": median(col("minor_p99_pause_us")),
        "minor_max_us": max([x for x in col("minor_max_pause_us") if x is not None], default=None),
        "major": median(col("major")),
        "p50_us": median(col("p50_pause_us")),
        "p99_us": median(col("p99_pause_us")),
        "max_us": max(maxes) if maxes else None,
        "total_pause_ms": median(col("total_pause_ms")),
        "peak_heap_kb": median(col("peak_heap_kb")),
        "minflt": median(col("minflt")),
        "sys_s": median(col("sys_s")),
        "released": median(col("pages_released")),
        "refaulted": median(col("pages_refaulted")),
        "fresh": median(col("pages_fresh")),
        "opened": median(col("pages_opened")),
        "protect_calls": median(col("protect_calls")),
        "scan_calls": median(col("scan_calls")),
        # calls only: the call phase's time per call (the figure of its target), and its size
        "ns_per_call": median(per_call),
        "ns_per_call_min": min(per_call, default=None),
        "ns_per_call_max": max(per_call, default=None),
        "call_s": median(col("call_s")),
        "calls": median(col("calls")),
        # finalize only: time per finalizable object (the figure of its target) and its parts
        "ns_per_object": median(per_object),
        "ns_per_object_min": min(per_object, default=None),
        "ns_per_object_max": max(per_object, default=None),
        "register_ns": median(col("register_ns")),
        "collect_ns": median(col("collect_ns")),
        "alloc_ns": median(col("alloc_ns")),
        "explicit_collections": max([x for x in col("explicit_collections") if x is not None], default=None),
        "objects": median(col("objects")),
        # ephemeron-chain only: collection times in ms, and the two chain lengths
        "links": median(col("links")),
        "small_links": median(col("small_links")),
        **{k: median(col(k)) for k in EPHEMERON_MS},
        **{k + "_min": min([x for x in col(k) if x is not None], default=None) for k in EPHEMERON_MS},
        **{k + "_max": max([x for x in col(k) if x is not None], default=None) for k in EPHEMERON_MS},
        # ffi only: ns per call and collection times (medians over the runs of each run's medians)
        **{k: median(col(k)) for k in FFI_FIELDS},
    }


def sys_pct(row):
    """Median sys time as a percentage of median wall time."""
    if row.get("sys_s") is None or not row.get("wall_s"):
        return None
    return 100.0 * row["sys_s"] / row["wall_s"]


def verdict(ok):
    return "met" if ok else "NOT met"


def pct_vs(row, ref):
    """A row's time per call as a percentage above (+) or below (-) the reference row's."""
    if not row or not ref or row.get("ns_per_call") is None or not ref.get("ns_per_call"):
        return None
    return 100.0 * (row["ns_per_call"] - ref["ns_per_call"]) / ref["ns_per_call"]


def target_lines(bench, rows):
    """The verdict lines for the issues' targets (TARGETS) of one benchmark, for every Keel row
    that has targets and ran."""
    out = []
    for name in TARGETS:
        if name in rows or TARGETS[name].get(bench):
            out.extend(row_target_lines(bench, rows, name))
    return out


def row_target_lines(bench, rows, name):
    goals = TARGETS[name].get(bench, {})
    keel = rows.get(name)
    label = LABELS[name]
    base = rows.get(BASELINE)
    full = rows.get(FULL)
    cgc = rows.get(CGC)
    out = []
    if not goals:
        return out
    if keel is None:
        return [f"targets not checked: no {label} row"]
    if "wall_vs_bdwgc" in goals:
        t = goals["wall_vs_bdwgc"]
        head = f"target: {label} wall time at most {t}x bdwgc's"
        if base and base["wall_s"]:
            r = keel["wall_s"] / base["wall_s"]
            out.append(f"{head}: {r:.2f}x, {verdict(r <= t)}")
        else:
            out.append(f"{head}: not checked (no bdwgc row)")
    if "wall_vs_full" in goals:
        t = goals["wall_vs_full"]
        head = f"target: {label} wall time at most {t:.2f}x that of {LABELS[FULL]}"
        if full and full["wall_s"]:
            r = keel["wall_s"] / full["wall_s"]
            out.append(f"{head}: {r:.2f}x ({fmt(keel['wall_s'], 3)} s against "
                       f"{fmt(full['wall_s'], 3)} s), {verdict(r <= t)}")
        else:
            out.append(f"{head}: not checked (no {FULL} row)")
    if "call_pct_vs_cgc" in goals:
        t = goals["call_pct_vs_cgc"]
        head = (f"target: {label} registration overhead at most {t:.0f}% "
                f"(time per call against {LABELS[CGC]}'s, same source)")
        pct = pct_vs(keel, cgc)
        if pct is not None:
            out.append(f"{head}: {pct:+.1f}% ({fmt(keel['ns_per_call'], 3)} ns against "
                       f"{fmt(cgc['ns_per_call'], 3)} ns per call), {verdict(pct <= t)}")
        else:
            out.append(f"{head}: not checked (no {CGC} row or no per-call figure)")
    if "object_vs_bdwgc" in goals:
        t = goals["object_vs_bdwgc"]
        head = f"target: {label} time per finalizable object at most {t}x bdwgc's"
        if base and base.get("ns_per_object") and keel.get("ns_per_object") is not None:
            r = keel["ns_per_object"] / base["ns_per_object"]
            out.append(f"{head}: {r:.2f}x ({fmt(keel['ns_per_object'], 1)} ns against "
                       f"{fmt(base['ns_per_object'], 1)} ns), {verdict(r <= t)}")
        else:
            out.append(f"{head}: not checked (no bdwgc row or no per-object figure)")
    if "resolve_ms" in goals:
        t = goals["resolve_ms"]
        head = f"target: {label} one collection resolves the chain at most {t:.0f} ms"
        if keel.get("resolve_ms") is not None:
            ms = keel["resolve_ms"]
            out.append(f"{head}: {fmt(ms, 1)} ms for {keel['links']:.0f} links (reverse order), "
                       f"{verdict(ms <= t)}")
        else:
            out.append(f"{head}: not checked (no resolve time)")
    if "resolve_growth" in goals:
        t = goals["resolve_growth"]
        head = f"target: {label} resolving time grows linearly (at most {t:.0f}x for 10x the links)"
        if keel.get("resolve_ms") is not None and keel.get("resolve_small_ms"):
            r = keel["resolve_ms"] / keel["resolve_small_ms"]
            out.append(f"{head}: {r:.1f}x ({keel['small_links']:.0f} links {fmt(keel['resolve_small_ms'], 2)} "
                       f"ms, {keel['links']:.0f} links {fmt(keel['resolve_ms'], 2)} ms), {verdict(r <= t)}")
        else:
            out.append(f"{head}: not checked (no resolve times)")
    if "minflt_vs_bdwgc" in goals:
        t = goals["minflt_vs_bdwgc"]
        head = f"target: {label} minor page faults at most {t}x bdwgc's"
        if base and base.get("minflt") and keel.get("minflt") is not None:
            r = keel["minflt"] / base["minflt"]
            out.append(f"{head}: {r:.2f}x ({keel['minflt']:.0f} against {base['minflt']:.0f} per run), "
                       f"{verdict(r <= t)}")
        else:
            out.append(f"{head}: not checked (no bdwgc row or no fault counts)")
    if "sys_pct" in goals:
        t = goals["sys_pct"]
        head = f"target: {label} sys time at most {t:.0f}% of its wall time"
        pct = sys_pct(keel)
        if pct is not None:
            out.append(f"{head}: {pct:.1f}% ({fmt(keel['sys_s'], 3)} s of {fmt(keel['wall_s'], 3)} s), "
                       f"{verdict(pct <= t)}")
        else:
            out.append(f"{head}: not checked (no sys time)")
    if "minor_p99_ms" in goals:
        t = goals["minor_p99_ms"]
        head = f"target: {label} minor pauses p99 at most {t} ms"
        if keel.get("minor_p99_us") is not None:
            ms = keel["minor_p99_us"] / 1e3
            out.append(f"{head}: {ms:.3f} ms, {verdict(ms <= t)}")
        else:
            out.append(f"{head}: not checked (no minor collections)")
    if "minor_max_ms" in goals:
        t = goals["minor_max_ms"]
        head = f"target: {label} minor pauses max at most {t} ms"
        if keel.get("minor_max_us") is not None:
            ms = keel["minor_max_us"] / 1e3
            out.append(f"{head}: {ms:.3f} ms, {verdict(ms <= t)}")
        else:
            out.append(f"{head}: not checked (no minor collections)")
    if "rss_vs_live" in goals:
        t = goals["rss_vs_live"]
        head = f"target: {label} peak RSS at most {t}x peak live data"
        # Peak live data is the most data reachable at once: the analytic figure. Keel's own
        # figure is measured only at major collections, so it can only undercount.
        r = keel["rss_kb"] / keel["live_kb"] if keel["live_kb"] else None
        ra = keel["rss_kb"] / keel["analytic_kb"] if keel["analytic_kb"] else None
        ref = ra if ra is not None else r
        if ref is not None:
            out.append(f"{head}: {fmt(ra)}x of the analytic peak live ({fmt(r)}x of Keel's "
                       f"measured), {verdict(ref <= t)}")
        else:
            out.append(f"{head}: not checked (no peak live figure)")
    return out


def table(bench, rows, allocs):
    base = rows.get(BASELINE)
    cgc = rows.get(CGC)
    # calls reports its call phase apart: time per call, and each row against Keel CGC's
    per_call = any(r.get("ns_per_call") is not None for r in rows.values())
    calls_head = "| call phase ns per call (min-max) | vs Keel CGC per call " if per_call else ""
    # finalize reports its time per finalizable object, and each row against bdwgc's
    per_object = any(r.get("ns_per_object") is not None for r in rows.values())
    if per_object:
        calls_head = "| ns per object (min-max) | vs bdwgc per object | register + collect; plain alloc ns "
    out = [
        "| allocator | median wall s (min-max) " + calls_head + "| vs bdwgc | sys s (% of wall) "
        "| minor faults | peak RSS MiB | RSS / peak live (measured; analytic) | collections "
        "| GC time s | pause p50 / p99 / max ms |",
        "|---|---|" + ("---|---|" if per_call else "") + ("---|---|---|" if per_object else "")
        + "---|---|---|---|---|---|---|---|",
    ]
    for alloc in allocs:
        row = rows.get(alloc)
        if row is None:
            continue
        ratio = (row["wall_s"] / base["wall_s"]) if base and base["wall_s"] else None
        rss = row["rss_kb"]
        measured = rss / row["live_kb"] if row["live_kb"] else None
        analytic = rss / row["analytic_kb"] if row["analytic_kb"] else None
        if row["analytic_kb"] is not None and row["analytic_kb"] < 1024:
            live = f"n/a (live {row['analytic_kb']:.0f} KiB)"  # RSS is then all runtime and code
        else:
            live = f"{fmt(measured)}; {fmt(analytic)}" if measured else f"-; {fmt(analytic)}"
        colls = "0" if not row["collections"] else f"{row['collections']:.0f}"
        if row["minor"] is not None and row["collections"]:
            colls += f" ({row['minor']:.0f} minor)"
        pauses = "-"
        if row["p50_us"] is not None:
            pauses = " / ".join(fmt(row[k] / 1e3 if row[k] is not None else None, 3)
                                for k in ("p50_us", "p99_us", "max_us"))
        gc_s = fmt(row["total_pause_ms"] / 1e3, 3) if row["total_pause_ms"] is not None else "-"
        pct = sys_pct(row)
        sys_col = f"{fmt(row['sys_s'], 3)} ({fmt(pct, 1)}%)" if pct is not None else "n/a"
        calls_col = ""
        if per_call:
            vs_cgc = pct_vs(row, cgc)
            calls_col = (f" {fmt(row['ns_per_call'], 3)} ({fmt(row['ns_per_call_min'], 3)}-"
                         f"{fmt(row['ns_per_call_max'], 3)}) | "
                         f"{'n/a' if vs_cgc is None else f'{vs_cgc:+.1f}%'} |")
        if per_object:
            vs = (row["ns_per_object"] / base["ns_per_object"]
                  if base and base.get("ns_per_object") and row.get("ns_per_object") is not None else None)
            calls_col = (f" {fmt(row['ns_per_object'], 1)} ({fmt(row['ns_per_object_min'], 1)}-"
                         f"{fmt(row['ns_per_object_max'], 1)}) | {fmt(vs)}x | "
                         f"{fmt(row['register_ns'], 1)} + {fmt(row['collect_ns'], 1)}; "
                         f"{fmt(row['alloc_ns'], 1)} |")
        out.append(f"| {LABELS[alloc]} | {fmt(row['wall_s'], 3)} ({fmt(row['wall_min'], 3)}-"
                   f"{fmt(row['wall_max'], 3)}) |{calls_col} {fmt(ratio)}x | {sys_col} | "
                   f"{fmt(row['minflt'], 0)} | {fmt(rss / 1024, 1)} | {live} | {colls} | {gc_s} | {pauses} |")
    notes = target_lines(bench, rows)
    keel_rows = [n for n in ("keel-cgc", "keel-cgc-mprotect", "keel-cgc-full", "keel-3m") if rows.get(n)]
    if base and base.get("minflt") and keel_rows:
        parts = []
        for name in keel_rows:
            row = rows[name]
            if row.get("minflt") is None:
                continue
            parts.append(f"{LABELS[name]} {row['minflt']:.0f} ({row['minflt'] / base['minflt']:.2f}x)")
        if parts:
            notes.append(f"minor page faults per run against bdwgc's {base['minflt']:.0f}: " + ", ".join(parts))
    for name in keel_rows:
        row = rows[name]
        if not row.get("barrier"):
            continue
        line = (f"{LABELS[name]}: barrier {row['barrier']}, per run {fmt(row['faults'], 0)} barrier "
                f"faults, {fmt(row['written'], 0)} written 4 KiB pages found, "
                f"{fmt(row['protected'], 0)} pages protected")
        if row.get("opened") is not None:
            line += (f", {fmt(row['opened'], 0)} pages opened, {fmt(row['protect_calls'], 0)} "
                     f"protect/unprotect calls, {fmt(row['scan_calls'], 0)} scans for written pages; 4 KiB pages {fmt(row['released'], 0)} released, "
                     f"{fmt(row['refaulted'], 0)} refaulted, {fmt(row['fresh'], 0)} fresh")
        if row.get("aged_mib") is not None and row["barrier"] != "none":
            line += (f"; {fmt(row['aged_mib'], 1)} MiB aged and {fmt(row['promoted_mib'], 1)} MiB promoted by "
                     f"minor collections, {fmt(row['remembered'], 0)} pages remembered")
        if row.get("minor_p99_us") is not None:
            line += (f"; minor pauses p99 {fmt(row['minor_p99_us'] / 1e3, 3)} ms, max "
                     f"{fmt(row['minor_max_us'] / 1e3, 3)} ms")
        notes.append(line)
    if per_object:
        objects = next((r["objects"] for r in rows.values() if r.get("objects")), None)
        extra_gc = [f"{LABELS[a]} {r['explicit_collections']:.0f}" for a, r in rows.items()
                    if r.get("explicit_collections") and r["explicit_collections"] > 1]
        notes.append(f"per object of {fmt(objects, 0)}: allocate, register and drop (collections on the way "
                     f"included), then collect and run what is left (\"collect\"); \"plain alloc\" is the "
                     f"same loop without finalizers, measured before; the time per object is register + "
                     f"collect; explicit collections until every finalizer ran: "
                     + (", ".join(extra_gc) + " (more than 1: stale references kept objects)"
                        if extra_gc else "1 in every run"))
    if per_call and cgc and cgc.get("calls"):
        notes.append(f"call phase: {cgc['calls']:.0f} calls of registering functions per run "
                     f"({fmt(cgc['call_s'], 3)} s for {LABELS[CGC]}); \"vs Keel CGC per call\" is "
                     f"(t - t_cgc) / t_cgc of the median time per call")
    keel = rows.get("keel-cgc")
    if keel and keel["live_kb"] and keel["analytic_kb"] and keel["analytic_kb"] >= 1024:
        notes.append(f"Keel peak live {keel['live_kb'] / 1024:.1f} MiB measured, "
                     f"{keel['analytic_kb'] / 1024:.1f} MiB analytic; peak heap "
                     f"{fmt((keel['peak_heap_kb'] or 0) / 1024, 1)} MiB")
    return out, notes


def ephemeron_table(bench, rows, allocs):
    """ephemeron-chain's own table: collection times, not wall time (the whole run is mostly
    building chains)."""
    any_row = next(iter(rows.values()))
    n, small = any_row.get("links"), any_row.get("small_links")
    if n is None or small is None:
        return [f"(no ephemeron figures in the BENCH lines of {bench})"], []
    out = [
        f"| allocator | resolve {small:.0f} links ms | resolve {n:.0f} links ms (min-max) | growth "
        f"| forward {small:.0f} / {n:.0f} ms | clear {small:.0f} / {n:.0f} ms | build {n:.0f} ms "
        f"| median wall s | collections | peak RSS MiB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for alloc in allocs:
        row = rows.get(alloc)
        if row is None:
            continue
        growth = (row["resolve_ms"] / row["resolve_small_ms"]
                  if row.get("resolve_ms") is not None and row.get("resolve_small_ms") else None)
        out.append(f"| {LABELS[alloc]} | {fmt(row['resolve_small_ms'], 2)} | {fmt(row['resolve_ms'], 2)} "
                   f"({fmt(row['resolve_ms_min'], 2)}-{fmt(row['resolve_ms_max'], 2)}) | {fmt(growth, 1)}x "
                   f"| {fmt(row['forward_small_ms'], 2)} / {fmt(row['forward_ms'], 2)} "
                   f"| {fmt(row['clear_small_ms'], 2)} / {fmt(row['clear_ms'], 2)} | {fmt(row['build_ms'], 1)} "
                   f"| {fmt(row['wall_s'], 3)} | {row['collections']:.0f} | {fmt(row['rss_kb'] / 1024, 1)} |")
    notes = target_lines(bench, rows)
    notes.append("each figure is one scheme_collect_garbage as the program sees it (median over the runs): "
                 "\"resolve\" the first after building the chain in reverse order (ephemeron 0 made "
                 "last), which must keep every value; \"forward\" the same for a chain made first to "
                 "last; \"clear\" the one after key 0 was dropped, which must clear them all; "
                 "\"growth\" is resolve at the long chain over resolve at the short one")
    return out, notes


def ffi_table(bench, rows, allocs):
    """ffi's own two tables: ns per call of each signature each way, and what ten GC callbacks
    add to a collection."""
    if all(r.get("ns_int64_keel") is None for r in rows.values()):
        return [f"(no ffi figures in the BENCH lines of {bench})"], []

    def triple(row, r):
        return " / ".join(fmt(row.get(f"ns_{r}_{w}"), 1) for w in FFI_WAYS)

    out = ["| allocator | " + " | ".join(f"{label}: direct / ffi_call / keel_ffi_call ns" for _, label in FFI_ROWS)
           + " | keel_ffi_call − ffi_call ns (int64) |",
           "|---|" + "---|" * len(FFI_ROWS) + "---|"]
    for alloc in allocs:
        row = rows.get(alloc)
        if row is None:
            continue
        extra = (row["ns_int64_keel"] - row["ns_int64_ffi"]
                 if row.get("ns_int64_keel") is not None and row.get("ns_int64_ffi") is not None else None)
        out.append(f"| {LABELS[alloc]} | " + " | ".join(triple(row, r) for r, _ in FFI_ROWS) + f" | {fmt(extra, 1)} |")
    out.append("")
    n = FFI_CALLBACKS
    head = []
    for kind in ("major", "minor"):
        head += [f"{kind}: wall µs, 0 / {n} callbacks", f"{kind}: added µs (per registration)",
                 f"{kind}: pause µs, 0 / {n}", f"{kind}: outside µs, 0 / {n}"]
    out.append("| allocator | " + " | ".join(head) + " |")
    out.append("|---|" + "---|" * len(head))
    for alloc in allocs:
        row = rows.get(alloc)
        if row is None:
            continue
        cells = []
        for kind in ("major", "minor"):
            def pair(fig):
                return f"{fmt(row.get(f'{kind}_{fig}_us_0'), 2)} / {fmt(row.get(f'{kind}_{fig}_us_{n}'), 2)}"
            w0, w1 = row.get(f"{kind}_wall_us_0"), row.get(f"{kind}_wall_us_{n}")
            added = f"{w1 - w0:+.2f} ({(w1 - w0) / n:+.3f})" if w0 is not None and w1 is not None else "n/a"
            cells += [pair("wall"), added, pair("pause"), pair("outside")]
        out.append(f"| {LABELS[alloc]} | " + " | ".join(cells) + " |")
    notes = [
        "calls: ns per call, the median over 5 rounds; every call takes the previous result, so the calls form "
        "one dependency chain. direct: through a function pointer (the callback: its code pointer, called from "
        "C); ffi_call: raw libffi with a cif prepared once; keel_ffi_call: keel_ffi_signature's prepared "
        "interface with Scheme arguments made before the loop (for the callback: Scheme → C → Scheme). The "
        "double and pointer results of keel_ffi_call are fresh objects (one allocation per call)",
        f"GC callbacks: {n} registrations (scheme_add_gc_callback), each one pre-call and one post-call "
        "(ptr_ptr_ptr->void into a C function that counts), against none; each figure is the median over the "
        "collections of that kind and side. wall: the scheme_collect_garbage (major) or keel_gc_collect_minor "
        "call as the program sees it, the figure (the callbacks run around the collection, outside its "
        "record); pause: the record's pause_ns; outside: wall − pause, where the callbacks' own cost shows with "
        "the least noise; added: wall with them − wall without (per registration: / "
        f"{n}). The program checks that every collection with them ran all of them and none without",
    ]
    return out, notes


def main(argv):
    args = parse_args(argv)
    command = os.environ.get("KEEL_BENCH_COMMAND") or " ".join(
        shlex.quote(a) for a in [sys.argv[0]] + argv)
    missing = []
    plan = {}
    not_applicable = {}  # bench -> allocators left out (SUPPORTED)
    for bench in args.only:
        present = []
        for alloc in args.allocs:
            if not supports(bench, alloc):
                not_applicable.setdefault(bench, []).append(alloc)
                continue
            path, _ = binary_path(args.bin_dir, bench, alloc)
            if os.access(path, os.X_OK):
                present.append(alloc)
            else:
                missing.append(path)
        plan[bench] = present
    if missing:
        print("not built, skipped: " + ", ".join(missing), file=sys.stderr)
    if not any(plan.values()):
        print(f"no benchmark binaries under {args.bin_dir}; run scripts/bench.sh", file=sys.stderr)
        return 2

    raw = open(args.raw, "a") if args.raw else None
    fault_runs = []  # (when, FAULTS record or None, error or None)
    measure_faults(args.bin_dir, "before", fault_runs, raw)
    results = {b: {a: [] for a in plan[b]} for b in plan}
    outputs = {b: {} for b in plan}
    failures = []
    for bench in args.only:
        allocs = plan[bench]
        bargv = bench_argv(bench, args)
        for rnd in range(args.runs):
            k = rnd % len(allocs) if allocs else 0
            order = allocs[k:] + allocs[:k]
            for alloc in order:
                path, extra_env = binary_path(args.bin_dir, bench, alloc)
                print(f"[{bench} run {rnd + 1}/{args.runs}] {alloc} ...", end=" ", file=sys.stderr,
                      flush=True)
                rec, body, err = run_once(path, bargv, args.timeout, extra_env)
                if err:
                    print("FAILED: " + err, file=sys.stderr)
                    failures.append(f"{bench}/{alloc} run {rnd + 1}: {err}")
                    continue
                print(f"{rec['wall_s']:.3f} s", file=sys.stderr)
                results[bench][alloc].append(rec)
                outputs[bench].setdefault(alloc, body)
                if raw:
                    raw.write(json.dumps(rec) + "\n")
                    raw.flush()
                if body != outputs[bench][alloc]:
                    failures.append(f"{bench}/{alloc} run {rnd + 1}: output differs from its run 1")
    measure_faults(args.bin_dir, "after", fault_runs, raw)
    if raw:
        raw.close()

    # Output checks: binary-trees against the Benchmarks Game lines; every benchmark across
    # allocators (all must print the same thing).
    for bench in args.only:
        outs = outputs[bench]
        if bench == "binary-trees":
            want = expected_binary_trees(args.depth)
            for alloc, body in outs.items():
                if body != want:
                    failures.append(f"binary-trees/{alloc}: output differs from the Benchmarks "
                                    f"Game's expected lines")
        ref_alloc = next(iter(outs), None)
        for alloc, body in outs.items():
            if body != outs[ref_alloc]:
                failures.append(f"{bench}/{alloc}: output differs from {ref_alloc}'s")

    report = [
        f"Keel benchmarks, {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}",
        "",
        f"- machine: {machine_line()}",
        f"- command: `{command}`",
        f"- {args.runs} runs per allocator, round-robin; "
        + "".join(f"{BENCH_PARAMS[b](args)}, " for b in args.only if b in BENCH_PARAMS)
        + "wall time measured inside each process",
    ]
    report.extend(fault_lines(fault_runs))
    report.append("")
    for bench in args.only:
        rows = {a: reduce_runs(rs) for a, rs in results[bench].items() if rs}
        if not rows:
            continue
        suffix = {"binary-trees": f" {args.depth}", "alloc16": f" ({args.count} x 16 B)",
                  "mutate": f" ({args.steps} steps)", "calls": f" ({args.passes} passes)",
                  "finalize": f" ({args.objects} x 32 B)",
                  "ephemeron-chain": f" ({args.links // 10 or 1} and {args.links} links)",
                  "ffi": f" ({args.ffi_calls} calls each way, {args.ffi_collections} collections of each kind "
                         f"and side)"}.get(bench, "")
        report.append(f"### {bench}{suffix}")
        report.append("")
        if bench == "ephemeron-chain":
            lines, notes = ephemeron_table(bench, rows, plan[bench])
        elif bench == "ffi":
            lines, notes = ffi_table(bench, rows, plan[bench])
        else:
            lines, notes = table(bench, rows, plan[bench])
        if bench in not_applicable:
            notes.append("not run for " + ", ".join(LABELS[a] for a in not_applicable[bench])
                         + f" ({SUPPORTED[bench][1]})")
        report.extend(lines)
        if notes:
            report.append("")
            report.extend(f"- {n}" for n in notes)
        report.append("")
    if failures:
        report.append("**Failures:**")
        report.extend(f"- {f}" for f in failures)
        report.append("")
    text = "\n".join(report)
    print(text)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
