"""Benchmark: `gwsload compare` on generated day-long soak pairs (1 M and 10 M operations).

Generates a baseline and a candidate run folder of the same system (the day-long soak
of bench_analysis.py, two seeds) for each size, the second size ten times the
operations of the first, then runs `gwsload compare` on each pair ``--repeats`` times
in a child process, recording its wall time, CPU time and own peak RSS (``wait4``)
and the load average before each repeat. compare streams the segments (two passes a
run), so its peak RSS should not grow with the operations.

    python bench/bench_compare.py [--quick] [--ops 10000000] [--repeats 3] [--keep DIR]

``--quick`` (what ``python -m bench`` runs by default) uses 100 k and 1 M operations,
one repeat. Writes bench/out/compare.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_analysis import DURATION_S, _machine, _spec

from gwsload.analysis.synthetic import write_run


def _compare(baseline: Path, candidate: Path, out: Path) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system) and peak RSS (MB) of one child."""
    start = time.perf_counter()
    command = [sys.executable, "-m", "gwsload.cli", "compare", str(baseline), str(candidate)]
    child = subprocess.Popen([*command, "--out", str(out)], stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1, 3):  # a verdict, whatever it is; 2 is bad input
        raise SystemExit(f"gwsload compare {baseline} {candidate} exited {code}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0


def _measure(root: Path, ops: int, repeats: int) -> dict[str, Any]:
    pair = []
    for seed in (1, 2):
        path = root / f"run-{ops}-{seed}"
        if not (path / "manifest.json").exists():  # --keep: generated once
            started = time.perf_counter()
            write_run(path, dataclasses.replace(_spec(ops), seed=seed))
            print(f"{ops:>11,} ops: generated in {time.perf_counter() - started:5.1f} s")
        pair.append(path)
    walls, cpus, rss, loads = [], [], [], []
    for _ in range(repeats):
        loads.append(round(os.getloadavg()[0], 2))
        wall, cpu, peak = _compare(pair[0], pair[1], root / "out")
        walls.append(round(wall, 2))
        cpus.append(round(cpu, 2))
        rss.append(round(peak))
        print(f"{ops:>11,} ops: compare {wall:5.1f} s wall, {cpu:5.1f} s CPU, peak RSS "
              f"{peak:,.0f} MB (load average {loads[-1]})")  # fmt: skip
    return {
        "operations_per_run": ops,
        "compare_s": walls,
        "compare_s_median": statistics.median(walls),
        "compare_cpu_s": cpus,
        "peak_rss_mb": rss,
        "peak_rss_mb_median": statistics.median(rss),
        "load_average_1min": loads,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="100 k and 1 M operations")
    parser.add_argument("--keep", type=Path, help="write the run folders here and keep them")
    args = parser.parse_args()
    if args.quick:
        args.ops, args.repeats = 1_000_000, 1
    root = args.keep or Path(tempfile.mkdtemp(prefix="gwsload-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        sizes = [_measure(root, ops, args.repeats) for ops in (args.ops // 10, args.ops)]
        small, large = sizes
        record = {
            "machine": _machine(),
            "duration_s": DURATION_S,
            "repeats": args.repeats,
            "pairs": sizes,
        }
        out = Path(__file__).resolve().parent / "out"
        out.mkdir(exist_ok=True)
        (out / "compare.json").write_text(json.dumps(record, indent=2) + "\n")
        print(
            f"scaling: 10x the operations took "
            f"{large['compare_s_median'] / small['compare_s_median']:.1f}x the time and "
            f"{large['peak_rss_mb_median'] / small['peak_rss_mb_median']:.2f}x the peak RSS"
        )
        return 0
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
