from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from gwsload.analysis.capacity import compute_capacity
from gwsload.analysis.drift import (
    compute_drift,
    compute_harness_drift,
    mann_kendall,
    theil_sen_slope,
)
from gwsload.analysis.load import load_run
from gwsload.analysis.metrics import choose_window_s, compute_time_series
from gwsload.analysis.slo import parse_slos
from gwsload.analysis.summary import analyze_run, summary_json
from gwsload.analysis.synthetic import Stage, SyntheticRun, write_run


def test_knee_of_a_step_load_with_planted_capacity(runs: dict[str, Path]) -> None:
    # offered 20, 40, ... 120 ops/s; the synthetic server caps at 85 ops/s
    run = load_run(runs["capacity"])
    slos = parse_slos([{"metric": "notify_ms", "stat": "p99", "max": 300}], source="t")
    result = compute_capacity(run, slos)
    assert result is not None
    steps = result.steps.set_index("step")
    assert steps["ops_per_s"].tolist()[:4] == pytest.approx([20, 40, 60, 80], rel=0.05)
    assert steps["ops_per_s"].tolist()[4:] == pytest.approx([85, 85], rel=0.05)
    assert result.throughput_knee_step == 4  # 100 offered, 85 achieved
    assert result.latency_knee_step == 5  # overload 120/85: p99 more than doubles
    assert result.capacity_step == 4  # p99 still under 300 ms at step 4, not at 5
    assert result.sentence.startswith("Capacity: 50 agents (85.")
    assert "throughput stops following load at 50 agents" in result.sentence


def test_capacity_without_slos_is_the_step_before_the_knee(runs: dict[str, Path]) -> None:
    result = compute_capacity(load_run(runs["capacity"]), [])
    assert result is not None and result.capacity_step == 3


def test_a_single_stage_run_has_no_capacity_answer(runs: dict[str, Path]) -> None:
    assert compute_capacity(load_run(runs["clean"]), []) is None


def test_mann_kendall_known_values() -> None:
    z, p = mann_kendall(np.arange(10.0))
    # S = 45, Var = 10*9*25/18 = 125, z = 44/sqrt(125)
    assert z == pytest.approx(44 / math.sqrt(125))
    assert p == pytest.approx(math.erfc(z / math.sqrt(2)))
    z_ties, _ = mann_kendall([1, 1, 2, 2, 3])
    # S = 8; ties: two groups of 2 -> Var = (5*4*15 - 2*2*1*9)/18 = 14.667
    assert z_ties == pytest.approx(7 / math.sqrt((300 - 36) / 18))
    assert mann_kendall([5.0, 5.0, 5.0]) == (0.0, 1.0)


def test_theil_sen_ignores_outliers() -> None:
    t = np.arange(20.0)
    values = 3.0 * t + 1.0
    values[[4, 11]] = [500.0, -300.0]
    assert theil_sen_slope(t, values) == pytest.approx(3.0)


def _drift(runs: dict[str, Path], name: str) -> dict[str, object]:
    run = load_run(runs[name])
    window = choose_window_s(run.end_s)
    series = compute_time_series(run, window)
    results = compute_drift(series, window_s=window) + compute_harness_drift(run, window_s=window)
    return {r.quantity: r for r in results}


def test_planted_drift_is_found_with_its_slope(runs: dict[str, Path]) -> None:
    found = _drift(runs, "drift")
    p99 = found["notification p99"]
    assert p99.drifting and p99.p_value < 0.01  # type: ignore[attr-defined]
    # every latency grows 100 ms/hour; the p99 of a window grows by about that
    assert p99.slope_per_hour == pytest.approx(100, rel=0.35)  # type: ignore[attr-defined]
    assert p99.sentence.startswith("notification p99 grew")  # type: ignore[attr-defined]
    memory = found["the load generator's memory (RSS)"]
    assert memory.drifting  # type: ignore[attr-defined]
    assert memory.slope_per_hour == pytest.approx(50, rel=0.01)  # type: ignore[attr-defined]
    assert not found["HTTP response p99"].drifting  # type: ignore[attr-defined]


def test_a_steady_run_has_no_drift(runs: dict[str, Path]) -> None:
    found = _drift(runs, "steady")
    assert not any(r.drifting for r in found.values())  # type: ignore[attr-defined]
    assert found["notification p99"].sentence.startswith(  # type: ignore[attr-defined]
        "notification p99: no drift"
    )


def test_open_workload_steps_use_the_offered_rate(tmp_path: Path) -> None:
    stages = tuple(Stage(users=50, duration_s=30.0, rate_per_s=r) for r in (20, 40, 60, 80))
    run = load_run(
        write_run(
            tmp_path / "open",
            SyntheticRun(stages=stages, capacity_ops_s=50.0, open_workload=True, warmup_s=2.0),
        )
    )
    result = compute_capacity(run, [])
    assert result is not None
    steps = result.steps
    assert steps["offered"].tolist() == [20, 40, 60, 80]
    assert set(steps["offered_unit"]) == {"ops/s"}
    assert steps["ops_per_s"].tolist() == pytest.approx([20, 40, 50, 50], rel=0.08)
    assert result.throughput_knee_step == 2
    assert "throughput stops following load at 60 ops/s offered (50" in result.sentence


def test_generator_growth_during_ramp_and_warm_up_is_not_drift(tmp_path: Path) -> None:
    # 10 agents ramp in over 100 s (warm-up 30 s); the generator's memory grows by
    # 200 MB/hour until then (start-up: histograms, connections) and is flat after
    spec = SyntheticRun(
        stages=(Stage(users=10, duration_s=1200.0, spawn_rate=0.1),),
        ops_per_user_s=1.0,
        warmup_s=30.0,
        rss_growth_bytes_per_hour=200e6,
        rss_growth_until_s=100.0,
        scenario="soak",
    )
    run = load_run(write_run(tmp_path / "ramp", spec))
    rss = run.generator["rss_bytes"].to_numpy()
    assert rss[-1] - rss[0] > 4e6  # it did grow, early
    window = choose_window_s(run.end_s)
    harness = compute_harness_drift(run, window_s=window)
    assert harness and not any(d.drifting for d in harness)
    findings = [f.text for f in analyze_run(run).findings]
    assert any(t.startswith("The measuring side did not drift") for t in findings)


def test_generator_drift_is_a_harness_finding_apart_from_the_targets(
    runs: dict[str, Path],
) -> None:
    analysis = analyze_run(load_run(runs["drift"]))
    # the target's drift: latency only; the generator's memory is not in it
    assert {d.quantity for d in analysis.drift if d.drifting} == {"notification p99"}
    harness = [f for f in analysis.findings if "harness problem" in f.text]
    assert [f.text.split(" grew ")[0] for f in harness] == ["The load generator's memory (RSS)"]
    assert harness[0].text.endswith(
        "over the run), from the end of warm-up and ramp: a harness problem, not the target's."
    )
    document = summary_json(analysis)
    assert [d["quantity"] for d in document["harness_drift"] if d["drifting"]] == [
        "the load generator's memory (RSS)"
    ]
    assert all(not d["quantity"].startswith("the load generator") for d in document["drift"])
