"""Benchmark: `gwsload report` on a generated 10-million-operation run folder.

Generates run folders (1 M and 10 M operations, one hour, 2 operations, faults
injected) under a temporary directory, runs `gwsload report` on each in a child
process, and prints wall time and the child's peak RSS. The goal (design.md):
a 10 M-operation run reported in well under a minute, with memory bounded; the
1 M run gives the scaling ratio on the same machine.

    python bench/bench_analysis.py [--quick] [--ops 10000000] [--keep DIR]

``--quick`` (what ``python -m bench`` runs by default) uses 1 M operations and
reports figures only; the goal is judged on the full 10 M run. Writes
bench/out/analysis.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gwsload.analysis.synthetic import Stage, SyntheticRun, write_run

TARGET_S = 60.0
TARGET_RSS_MB = 2048.0
#: a day-long soak: 100 M operations at about 1,160 ops/s
DURATION_S = 86_400.0
USERS = 1000


def _spec(ops: int) -> SyntheticRun:
    return SyntheticRun(
        scenario="bench",
        stages=(Stage(users=USERS, duration_s=DURATION_S),),
        ops_per_user_s=ops / USERS / DURATION_S,
        warmup_s=30.0,
        error_ratio=0.001,
        lost_ratio=0.0005,
        late_per_lost=0.2,
        unexpected_count=20,
        span_s=120.0,
        hlog_interval_s=10.0,
        incidents=((600.0, "reconnect"), (1800.0, "rehandshake"), (43_200.0, "reconnect")),
        slo=(
            {"metric": "notify_ms", "stat": "p99", "operation": "*", "max": 500},
            {"metric": "lost_ratio", "operation": "*", "max": 0.001},
        ),
    )


def _report(path: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one `gwsload report` child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "gwsload.cli", "report", str(path)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of children is the largest child so far: runs go small to large
    return wall, max(peak, before) / 1024.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=10_000_000)
    parser.add_argument("--quick", action="store_true", help="1 M operations, no goal check")
    parser.add_argument("--keep", type=Path, help="write the run folders here and keep them")
    args = parser.parse_args()
    if args.quick:
        args.ops = 1_000_000
    root = args.keep or Path(tempfile.mkdtemp(prefix="gwsload-bench-"))
    try:
        results = []
        for ops in (args.ops // 10, args.ops):
            start = time.perf_counter()
            path = write_run(root / f"run-{ops}", _spec(ops))
            generated = time.perf_counter() - start
            size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6
            wall, rss = _report(path)
            results.append((ops, wall, rss))
            print(
                f"{ops:>11,} ops: generated in {generated:5.1f} s ({size:,.0f} MB on disk); "
                f"report {wall:5.1f} s wall, peak RSS {rss:,.0f} MB"
            )
        (small, t_small, _), (large, t_large, rss_large) = results
        print(
            f"scaling: {large / small:.0f}x the operations took {t_large / t_small:.1f}x the time"
        )
        record = {
            "operations": large,
            "report_s": round(t_large, 2),
            "peak_rss_mb": round(rss_large),
            "small_operations": small,
            "small_report_s": round(t_small, 2),
            "goal_s": TARGET_S,
            "goal_judged": large >= 10_000_000,
        }
        out = Path(__file__).resolve().parent / "out"
        out.mkdir(exist_ok=True)
        (out / "analysis.json").write_text(json.dumps(record, indent=2) + "\n")
        if large < 10_000_000:
            print(
                f"{large:,} operations reported in {t_large:.1f} s, peak RSS "
                f"{rss_large:,.0f} MB (the goal is judged on 10 M: run without --quick)"
            )
            return 0
        verdict = "meets" if t_large < TARGET_S else "MISSES"
        print(
            f"{verdict} the goal: {large:,} operations reported in {t_large:.1f} s "
            f"(goal < {TARGET_S:.0f} s), peak RSS {rss_large:,.0f} MB"
        )
        return 0 if t_large < TARGET_S else 1
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
