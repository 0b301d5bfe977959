from __future__ import annotations

from pathlib import Path

import pytest

from gwsload.analysis.compare import check_comparable, compare_runs
from gwsload.analysis.load import load_run
from gwsload.errors import ConfigError


def _verdicts(runs: dict[str, Path], baseline: str, candidate: str) -> dict[tuple[str, ...], str]:
    table = compare_runs(load_run(runs[baseline]), load_run(runs[candidate]))
    return {
        (str(r.operation), str(r.metric), str(r.stat)): str(r.verdict) for r in table.itertuples()
    }


def test_a_planted_30_percent_regression_is_worse(runs: dict[str, Path]) -> None:
    table = compare_runs(load_run(runs["baseline"]), load_run(runs["slower"]))
    pooled = table[(table["operation"] == "*") & table["metric"].isin(["notify_ms", "response_ms"])]
    # about 2,200 operations: p99.9 would rest on the two slowest, so it is not judged
    assert pooled[pooled["stat"] == "p99.9"]["verdict"].tolist() == ["too few"] * 2
    pooled = pooled[pooled["stat"] != "p99.9"]
    assert (pooled["verdict"] == "worse").all()
    assert pooled["change"].to_numpy() == pytest.approx(0.3, abs=0.12)
    assert (pooled["ci_low"] > 0).all()
    assert (pooled["ci_low"] <= pooled["change"]).all()
    assert (pooled["change"] <= pooled["ci_high"]).all()
    throughput = table[(table["operation"] == "*") & (table["metric"] == "throughput")]
    assert throughput["verdict"].tolist() == ["same"]


def test_planted_losses_are_a_regression_in_percentage_points(runs: dict[str, Path]) -> None:
    table = compare_runs(load_run(runs["baseline"]), load_run(runs["lossy"]))
    lost = table[(table["operation"] == "*") & (table["metric"] == "lost_ratio")].iloc[0]
    assert lost["change_kind"] == "absolute"
    assert lost["baseline"] == 0.0
    assert lost["change"] == pytest.approx(0.02, abs=0.008)  # 2 % planted
    assert lost["ci_low"] > 0.001 and lost["verdict"] == "worse"
    errors = table[(table["operation"] == "*") & (table["metric"] == "error_ratio")]
    assert errors["verdict"].tolist() == ["same"]


def test_a_planted_improvement_is_better(runs: dict[str, Path]) -> None:
    verdicts = _verdicts(runs, "baseline", "faster")
    assert verdicts[("*", "notify_ms", "p50")] == "better"
    assert verdicts[("*", "response_ms", "p95")] == "better"
    assert "worse" not in verdicts.values()


def test_two_runs_of_the_same_system_are_the_same(runs: dict[str, Path]) -> None:
    verdicts = _verdicts(runs, "baseline", "same")
    assert "worse" not in verdicts.values()
    judged = [v for k, v in verdicts.items() if v != "too few"]
    # about 2,200 operations: only p99.9 has too few values to be judged
    assert {k[2] for k, v in verdicts.items() if v == "too few"} == {"p99.9"}
    assert judged.count("same") >= len(judged) - 1


def test_runs_of_different_scenarios_or_loads_are_refused(runs: dict[str, Path]) -> None:
    with pytest.raises(
        ConfigError,
        match=r"not comparable.*scenario 'synthetic' vs "
        r"'capacity'.*use --force",
    ) as info:
        check_comparable(
            load_run(runs["baseline"]),
            load_run(runs["capacity"]),
        )
    assert "\n" not in str(info.value)
    check_comparable(load_run(runs["baseline"]), load_run(runs["slower"]))
