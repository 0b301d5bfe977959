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
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_analysis import DURATION_S, _machine, _spec, repeated, timed_child

from gwsload.analysis.synthetic import write_run


def _compare(baseline: Path, candidate: Path, out: Path) -> tuple[float, float, float]:
    command = [sys.executable, "-m", "gwsload.cli", "compare", str(baseline), str(candidate)]
    # a verdict, whatever it is (0, 1, 3); 2 is bad input
    return timed_child([*command, "--out", str(out)], accepted=(0, 1, 3))


def _measure(root: Path, ops: int, repeats: int) -> dict[str, Any]:
    pair = []
    for seed in (1, 2):
        path = root / f"run-{ops}-{seed}"
        if not (path / "manifest.json").exists():  # --keep: generated once
            started = time.perf_counter()
            write_run(path, dataclasses.replace(_spec(ops), seed=seed))
            print(f"{ops:>11,} ops: generated in {time.perf_counter() - started:5.1f} s")
        pair.append(path)
    runs = repeated(
        f"{ops:>11,} ops: compare", repeats, lambda: _compare(pair[0], pair[1], root / "out")
    )
    return {
        "operations_per_run": ops,
        "compare_s": runs["wall"],
        "compare_s_median": statistics.median(runs["wall"]),
        "compare_cpu_s": runs["cpu"],
        "peak_rss_mb": runs["rss"],
        "peak_rss_mb_median": statistics.median(runs["rss"]),
        "load_average_1min": runs["load"],
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
