"""Run folders with known properties, written once per session by analysis.synthetic."""

from __future__ import annotations

from pathlib import Path

import pytest

from gwsload.analysis.synthetic import Stage, SyntheticRun, write_run

SLOS = (
    {"metric": "notify_ms", "stat": "p99", "operation": "*", "max": 500},
    {"metric": "lost_ratio", "operation": "*", "max": 0.0001},
    {"metric": "error_ratio", "operation": "*", "max": 0.001},
    {"metric": "ops_per_s", "operation": "*", "min": 15},
)
FAULTY = SyntheticRun(
    error_ratio=0.01,
    lost_ratio=0.005,
    late_per_lost=0.5,
    duplicate_ratio=0.002,
    unexpected_count=3,
    incidents=((50.0, "rehandshake"), (80.0, "reconnect")),
    slo=SLOS,
    server_fraction=0.7,
    server_clock_offset_ms=-35.0,
)
CAPACITY_STAGES = tuple(Stage(users=u, duration_s=60.0) for u in (10, 20, 30, 40, 50, 60))


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runs")
    specs = {
        "faulty": FAULTY,
        "clean": SyntheticRun(
            seed=11, slo=SLOS[:1] + SLOS[3:], labels=(("gws_build", "8.5.2.41"),)
        ),
        "baseline": SyntheticRun(seed=21),
        "same": SyntheticRun(seed=22),
        "slower": SyntheticRun(seed=23, latency_factor=1.3),
        "faster": SyntheticRun(seed=24, latency_factor=0.7),
        "lossy": SyntheticRun(seed=25, lost_ratio=0.02),
        "no_hlog": SyntheticRun(seed=1, write_hlog=False),
        "capacity": SyntheticRun(
            stages=CAPACITY_STAGES,
            capacity_ops_s=85.0,
            warmup_s=5.0,
            slo=({**SLOS[0], "max": 300},),
            scenario="capacity",
        ),
        "drift": SyntheticRun(
            stages=(Stage(10, 1800.0),),
            ops_per_user_s=1.0,
            drift_ms_per_hour=100.0,
            rss_growth_bytes_per_hour=50e6,
            scenario="soak",
        ),
        "steady": SyntheticRun(
            stages=(Stage(10, 1800.0),), ops_per_user_s=1.0, seed=5, scenario="soak"
        ),
        "open": SyntheticRun(open_workload=True, start_lag_mean_ms=40.0, scenario="open"),
        "saturated": SyntheticRun(cpu_percent=97.0, loop_lag_ms=45.0, seed=3),
    }
    return {name: write_run(root / name, spec) for name, spec in specs.items()}
