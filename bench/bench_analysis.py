"""Benchmark: `gwsload report` on generated day-long soaks (10 M and 100 M operations).

Generates two run folders (24 hours, 1,000 agents, two operations, errors, losses,
late and unexpected notifications and incidents injected, latency.hlog every 10 s),
the second ten times the operations of the first, then runs `gwsload report` on each
``--repeats`` times in a child process, recording its wall time and its own peak RSS
(``wait4``), the load average before each repeat, and the median and spread. Goal
(docs/reports.md): the 100 M folder reported in under 60 s and under 2 GiB of peak
RSS on the 2-core development machine, memory not growing with the operations.

    python bench/bench_analysis.py [--quick] [--ops 100000000] [--repeats 3] [--keep DIR]

``--quick`` (what ``python -m bench`` runs by default) uses 1 M operations and reports
figures only; the goal is judged on 100 M. Writes bench/out/analysis.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def timed_child(argv: list[str], accepted: tuple[int, ...] = (0,)) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system) and peak RSS (MB) of one ``python -m
    gwsload.cli ...`` child process
    (its output dropped; an exit code outside ``accepted`` ends the benchmark). On a
    shared machine the CPU time says what the wall time would be with a core to itself
    (the commands are mostly one thread)."""
    start = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in accepted:
        raise SystemExit(f"gwsload {' '.join(argv[3:])} exited {code}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0


def repeated(
    label: str, repeats: int, measure: Callable[[], tuple[float, float, float]]
) -> dict[str, list[float]]:
    """``measure()`` ``repeats`` times: each run's wall, CPU and peak RSS, and the
    1-minute load average before it; one progress line each."""
    runs: dict[str, list[float]] = {"wall": [], "cpu": [], "rss": [], "load": []}
    for _ in range(repeats):
        runs["load"].append(round(os.getloadavg()[0], 2))
        wall, cpu, peak = measure()
        runs["wall"].append(round(wall, 2))
        runs["cpu"].append(round(cpu, 2))
        runs["rss"].append(round(peak))
        print(f"{label} {wall:5.1f} s wall, {cpu:5.1f} s CPU, peak RSS "
              f"{peak:,.0f} MB (load average {runs['load'][-1]})")  # fmt: skip
    return runs


def _machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(memory_gib, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "shared": "yes: other developers' work ran at the same time",
    }


def _measure(path: Path, ops: int, repeats: int, generated_s: float) -> dict[str, Any]:
    size_mb = sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6
    runs = repeated(
        f"{ops:>11,} ops: report",
        repeats,
        lambda: timed_child([sys.executable, "-m", "gwsload.cli", "report", str(path)]),
    )
    return {
        "operations": ops,
        "folder_mb": round(size_mb),
        "generated_s": round(generated_s, 1),
        "report_s": runs["wall"],
        "report_s_median": statistics.median(runs["wall"]),
        "report_cpu_s": runs["cpu"],
        "report_cpu_s_median": statistics.median(runs["cpu"]),
        "peak_rss_mb": runs["rss"],
        "peak_rss_mb_median": statistics.median(runs["rss"]),
        "load_average_1min": runs["load"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=100_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1 M operations, no goal check")
    parser.add_argument("--keep", type=Path, help="write the run folders here and keep them")
    args = parser.parse_args()
    if args.quick:
        args.ops, args.repeats = 1_000_000, 1
    root = args.keep or Path(tempfile.mkdtemp(prefix="gwsload-bench-"))
    try:
        sizes = []
        for ops in (args.ops // 10, args.ops):
            path = root / f"run-{ops}"
            start = time.perf_counter()
            if not (path / "manifest.json").exists():  # --keep: generated once
                write_run(path, _spec(ops))
            generated = time.perf_counter() - start
            print(f"{ops:>11,} ops: generated in {generated:5.1f} s")
            sizes.append(_measure(path, ops, args.repeats, generated))
        small, large = sizes
        record = {
            "machine": _machine(),
            "duration_s": DURATION_S,
            "repeats": args.repeats,
            "runs": sizes,
            "goal_s": TARGET_S,
            "goal_rss_mb": TARGET_RSS_MB,
            "goal_judged": large["operations"] >= 100_000_000,
        }
        out = Path(__file__).resolve().parent / "out"
        out.mkdir(exist_ok=True)
        (out / "analysis.json").write_text(json.dumps(record, indent=2) + "\n")
        t_large, rss_large = large["report_s_median"], large["peak_rss_mb_median"]
        print(
            f"scaling: {large['operations'] / small['operations']:.0f}x the operations took "
            f"{t_large / small['report_s_median']:.1f}x the time and "
            f"{rss_large / small['peak_rss_mb_median']:.2f}x the peak RSS"
        )
        if not record["goal_judged"]:
            print("(the goal is judged on 100 M operations: run without --quick)")
            return 0
        met = t_large < TARGET_S and rss_large < TARGET_RSS_MB
        print(
            f"{'meets' if met else 'MISSES'} the goal: {large['operations']:,} operations "
            f"reported in {t_large:.1f} s median (goal < {TARGET_S:.0f} s), peak RSS "
            f"{rss_large:,.0f} MB median (goal < {TARGET_RSS_MB:,.0f} MB)"
        )
        return 0 if met else 1
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
