#!/usr/bin/env python3
"""run_places.py: the places benchmark (bench/places.c) for Keel CGC and 3m, side by side in one
command, with the host's fault costs and the issue's targets (bench/README.md "Places"); the
weak-scaling table also has the same work in plain threads over bdwgc, glibc malloc and mimalloc
(bench/trees_threads.c) beside Keel's places.

    bench/run_places.py --bin-dir build-bench/bench [--depth 16] [--max-places N] [--runs 1]

Each run of places-keel-<variant> or trees_threads-<peer> prints `PLACES <name> <value> <unit>`
lines; with several runs the tables show each figure's median."""
import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_bench  # noqa: E402  (machine_line, fault costs)

VARIANTS = ["keel-cgc", "keel-3m"]
PEERS = ["bdwgc", "malloc", "mimalloc"]  # trees_threads-<peer>, where built
# name -> (label, unit, target, higher is better)
ROWS = [
    ("roundtrip_fixnum", "fixnum round trip", "µs", 2.0, False),
    ("roundtrip_tree255", "255-pair tree round trip", "µs", 8.0, False),
    ("stream_fixnums", "one-way fixnum stream", "msgs/s", 5e6, True),
    ("bytes_4mb", "4 MB byte string, one way", "GB/s", 5.0, True),
    ("create_collector", "collector's part of place creation", "µs", 50.0, False),
    ("create_place", "keel_place_create + wait, empty main", "µs", None, False),
]


def run(path, args):
    proc = subprocess.run([path] + args, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        sys.exit(f"run_places: {path} failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    out = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[0] == "PLACES" and parts[1] != "variant":
            out[parts[1]] = float(parts[2])
    return out


def fmt(x, unit):
    if x is None:
        return "n/a"
    if unit == "msgs/s":
        return f"{x / 1e6:.2f} M"
    return f"{x:.2f}" if x < 100 else f"{x:.0f}"


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("--depth", type=int, default=16)
    ap.add_argument("--max-places", type=int, default=0)
    ap.add_argument("--runs", type=int, default=1)
    a = ap.parse_args(argv)
    args = [str(a.depth)] + ([str(a.max_places)] if a.max_places else [])
    faults = []
    run_bench.measure_faults(a.bin_dir, "before", faults, None)
    peers = [p for p in PEERS if os.path.exists(os.path.join(a.bin_dir, f"trees_threads-{p}"))]
    programs = {v: f"places-{v}" for v in VARIANTS}
    programs.update({p: f"trees_threads-{p}" for p in peers})
    results = {v: [] for v in programs}
    for r in range(a.runs):
        for v, program in programs.items():  # alternating, so that all meet the same host conditions
            print(f"[{program} run {r + 1}] ...", file=sys.stderr, flush=True)
            results[v].append(run(os.path.join(a.bin_dir, program), args))
    med = {v: {k: run_bench.median([rec[k] for rec in results[v] if k in rec])
               for k in results[v][0]} for v in programs}
    print(f"## places ({run_bench.machine_line()})")
    print(f"command: {os.environ.get('KEEL_BENCH_COMMAND', 'bench/run_places.py ' + ' '.join(argv))}")
    print()
    print("| measure | unit | " + " | ".join(VARIANTS) + " | target |")
    print("|---|---|" + "---|" * len(VARIANTS) + "---|")
    for key, label, unit, target, higher in ROWS:
        cells = []
        for v in VARIANTS:
            x = med[v].get(key)
            ok = "" if target is None or x is None else (" ✓" if (x >= target if higher else x <= target) else " ✗")
            cells.append(fmt(x, unit) + ok)
        goal = "" if target is None else ("≥ " if higher else "≤ ") + fmt(target, unit)
        print(f"| {label} | {unit} | " + " | ".join(cells) + f" | {goal} |")
    print()
    scaling = VARIANTS + peers
    print("Weak scaling: binary-trees of depth {} in n places (Keel) or n threads (the others) at once:".format(a.depth))
    print()
    print("| measure | unit | " + " | ".join(scaling) + " | target |")
    print("|---|---|" + "---|" * len(scaling) + "---|")
    ns = sorted(int(k.split("_")[1]) for k in med[VARIANTS[0]] if k.startswith("trees_"))
    for n in ns:
        cells = [fmt(med[v].get(f"trees_{n}"), "s") for v in scaling]
        print(f"| binary-trees {a.depth}, {n} at once | s | " + " | ".join(cells) + " | |")
    for n in ns[1:]:
        cells = []
        for v in scaling:
            x = med[v].get(f"efficiency_{n}")
            ok = "" if n != 2 or x is None or v not in VARIANTS else (" ✓" if x >= 90 else " ✗")
            cells.append(fmt(x, "%") + ok)
        print(f"| weak-scaling efficiency T1/T{n} | % | " + " | ".join(cells) + f" | {'≥ 90 (Keel)' if n == 2 else ''} |")
    print()
    for line in run_bench.fault_lines(faults):
        print(line)


if __name__ == "__main__":
    main(sys.argv[1:])
