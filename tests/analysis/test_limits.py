"""Whose knee it is: capacity steps limited by the target, the load generator or the simulator."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gwsload.analysis import plots
from gwsload.analysis.capacity import compute_capacity
from gwsload.analysis.limits import GENERATOR, SIMULATOR, PeriodHealth, ProcessHealth
from gwsload.analysis.load import load_run
from gwsload.analysis.render import render_report
from gwsload.analysis.slo import parse_slos
from gwsload.analysis.summary import analyze_run, summary_json
from gwsload.analysis.synthetic import Stage, SyntheticRun, write_run
from gwsload.cli import main
from gwsload.contract.saturation import judge

STAGES = tuple(Stage(users=u, duration_s=60.0) for u in (10, 20, 30, 40, 50, 60))
P99_SLO = ({"metric": "notify_ms", "stat": "p99", "operation": "*", "max": 300},)
HEALTHY = (1.0,) * 6
#: the generator stalls over 10 ms in every sample of the last step only
LAST_STEP_LAGS = (1.0,) * 5 + (45.0,)


def _spec(**changes: object) -> SyntheticRun:
    base: dict[str, object] = {
        "stages": STAGES,
        "capacity_ops_s": 85.0,
        "warmup_s": 5.0,
        "slo": P99_SLO,
        "scenario": "capacity",
        "simulator_stage_loop_lag_ms": HEALTHY,
    }
    return SyntheticRun(**{**base, **changes})  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("limits")
    specs = {
        "healthy_knee": _spec(),
        "generator_knee": _spec(stage_loop_lag_ms=LAST_STEP_LAGS),
        "simulator_knee": _spec(simulator_stage_loop_lag_ms=LAST_STEP_LAGS),
        "saturated_no_knee": _spec(capacity_ops_s=None, stage_loop_lag_ms=LAST_STEP_LAGS),
        "no_knee": _spec(capacity_ops_s=None),
        "first_step_saturated": _spec(stage_loop_lag_ms=(45.0,) * 6),
    }
    return {name: write_run(root / name, spec) for name, spec in specs.items()}


def _capacity(folder: Path):  # type: ignore[no-untyped-def]
    run = load_run(folder)
    result = compute_capacity(run, parse_slos(list(P99_SLO), source="test"))
    assert result is not None
    return result


def test_knee_at_a_healthy_step_is_the_targets(folders: dict[str, Path]) -> None:
    result = _capacity(folders["healthy_knee"])
    assert result.steps["limited_by"].tolist() == ["none"] * 5 + ["target"]
    assert (result.capacity_step, result.limit_step, result.limited_by) == (4, 5, "target")
    assert not result.is_lower_bound
    assert result.sentence.startswith("Capacity: 50 agents (")
    assert "the highest step that holds every SLO" in result.sentence
    assert (
        "the load generator and the simulator were healthy at 60 agents, so this is the "
        "target's limit" in result.sentence
    )


def test_knee_at_a_saturated_step_is_the_generators(folders: dict[str, Path]) -> None:
    result = _capacity(folders["generator_knee"])
    assert result.steps["limited_by"].tolist() == ["none"] * 5 + ["load generator"]
    assert (result.capacity_step, result.limit_step, result.limited_by) == (4, 5, "load generator")
    assert result.is_lower_bound
    assert result.sentence == (
        "Capacity: at least 50 agents; at 60 agents the load generator was saturated "
        "(event-loop lag > 10 ms in 100 % of samples), so the target's knee was not reached: "
        "add workers (`--workers N`) and run again."
    )


def test_knee_at_a_step_where_the_simulator_was_saturated(folders: dict[str, Path]) -> None:
    result = _capacity(folders["simulator_knee"])
    assert result.limited_by == "simulator" and result.capacity_step == 4
    assert result.sentence.startswith(
        "Capacity: at least 50 agents; at 60 agents the embedded simulator was saturated "
        "(event-loop lag > 10 ms in 100 % of samples), so the target's knee was not reached: "
        "give the simulator its own machine"
    )


def test_saturation_without_a_knee(folders: dict[str, Path]) -> None:
    result = _capacity(folders["saturated_no_knee"])
    assert result.throughput_knee_step is None and result.latency_knee_step is None
    assert bool(result.steps["slo_ok"].all())  # every step holds its SLO ...
    # ... but the last one was measured through a saturated generator: not the target's figure
    assert result.steps["limited_by"].tolist() == ["none"] * 5 + ["load generator"]
    assert result.sentence.startswith(
        "Capacity: at least 50 agents; at 60 agents the load generator was saturated"
    )


def test_no_knee_and_healthy_means_beyond_the_highest_step(folders: dict[str, Path]) -> None:
    result = _capacity(folders["no_knee"])
    assert result.limited_by == "none" and result.limit_step is None
    assert result.is_lower_bound and result.capacity_step == 5
    assert result.sentence.startswith("Capacity: at least 60 agents (")
    assert result.sentence.endswith(
        "every step holds every SLO with the load generator and the simulator healthy, so "
        "the target's knee lies beyond the highest step."
    )


def test_saturated_from_the_first_step_gives_no_figure(folders: dict[str, Path]) -> None:
    result = _capacity(folders["first_step_saturated"])
    assert result.capacity_step is None and result.limit_step == 0
    assert result.sentence.startswith(
        "No capacity figure: at the first step (10 agents) the load generator was saturated"
    )


def test_summary_json_and_report_carry_the_limiter(folders: dict[str, Path]) -> None:
    analysis = analyze_run(load_run(folders["generator_knee"]))
    capacity = json.loads(json.dumps(summary_json(analysis)))["capacity"]
    assert capacity["limited_by"] == "load generator"
    assert capacity["limit_step"] == 5 and capacity["capacity_is_lower_bound"] is True
    assert capacity["limit_reason"].startswith("the load generator was saturated")
    assert [s["limited_by"] for s in capacity["steps"]] == ["none"] * 5 + ["load generator"]
    assert capacity["steps"][5]["generator_lag_share"] == 1.0
    assert capacity["steps"][0]["simulator_lag_share"] == 0.0
    assert capacity["steps"][0]["simulator_cpu_wait_percent"] == 2.0  # as generated
    assert capacity["steps"][0]["generator_cpu_wait_percent"] is None  # no such column
    page = render_report(analysis)
    assert (
        '<th class="text">limited by</th>' in page
        and '<td class="text">load generator</td>' in page
    )
    assert "Capacity: at least 50 agents" in page


def test_check_says_a_breach_during_saturation_is_not_a_verdict_on_the_target(
    folders: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    slo = tmp_path / "slo.toml"
    # pooled p99 (about 300 ms) breaks 250 ms; on its own only the last step does
    # (about 400 ms), where the generator was saturated in one run and healthy in the other
    slo.write_text('[[slo]]\nmetric = "notify_ms"\nstat = "p99"\noperation = "*"\nmax = 250\n')
    junit = tmp_path / "j.xml"
    check = ["check", "--slo", str(slo), "--junit", str(junit)]
    assert main([*check, str(folders["generator_knee"])]) == 1
    out = capsys.readouterr().out
    assert "breach during generator saturation: not a verdict on the target" in out
    assert "SloBreachDuringSaturation" in junit.read_text()
    assert main([*check, str(folders["healthy_knee"])]) == 1
    out = capsys.readouterr().out
    assert "not a verdict on the target" not in out


def test_lag_from_a_crowded_machine_names_the_machine_not_more_workers() -> None:
    # lagging in every sample at 5 % CPU, waiting for a core 30 % of the time
    crowded = judge([5.0] * 10, [20.0] * 10, [30.0] * 10)
    assert crowded.saturated and crowded.crowded
    assert crowded.reason == (
        "event-loop lag > 10 ms in 100 % of samples, waiting for a CPU 30 % of the time"
    )
    busy = judge([97.0] * 10, [20.0] * 10, [30.0] * 10)
    assert busy.saturated and not busy.crowded
    health = PeriodHealth(
        (
            ProcessHealth(GENERATOR, "the load generator", crowded, 5.0, "local"),
            ProcessHealth(SIMULATOR, "the embedded simulator", busy, 97.0),
        )
    )
    assert health.limiter == GENERATOR
    assert health.remedy == (
        "run where nothing else competes for the CPUs and give the simulator its own machine "
        "(`gwsload simulate` there, `--target URL` here)"
    )


def test_capacity_plot_marks_saturated_steps(folders: dict[str, Path]) -> None:
    result = _capacity(folders["generator_knee"])
    ax = plots.plot_capacity(result.steps, capacity_step=result.capacity_step)
    lines = {line.get_label(): line for line in ax.get_lines()}
    marked = lines["generator or simulator saturated"]
    assert list(np.asarray(marked.get_xdata())) == [60.0]  # the last step only
    healthy = _capacity(folders["healthy_knee"])
    ax = plots.plot_capacity(healthy.steps, capacity_step=healthy.capacity_step)
    assert "generator or simulator saturated" not in {line.get_label() for line in ax.get_lines()}


def test_a_breach_in_a_saturated_steady_run_is_attributed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    strict = ({"metric": "notify_ms", "stat": "p99", "operation": "*", "max": 1},)
    saturated = write_run(
        tmp_path / "saturated", SyntheticRun(cpu_percent=97.0, loop_lag_ms=45.0, slo=strict)
    )
    healthy = write_run(tmp_path / "healthy", SyntheticRun(slo=strict))
    assert main(["check", str(saturated)]) == 1  # still a failure: the run did not test
    assert "FAIL (breach during generator saturation: not a verdict on the target)" in (
        capsys.readouterr().out
    )
    document = summary_json(analyze_run(load_run(saturated)))
    assert document["slo"]["results"][0]["during_saturation"] == "load generator"
    assert document["verdict"].startswith(
        "FAIL: 1 of 1 SLOs breached (1 during load generator saturation: not a verdict on the "
        "target)"
    )
    assert main(["check", str(healthy)]) == 1
    assert "not a verdict on the target" not in capsys.readouterr().out
    assert (
        summary_json(analyze_run(load_run(healthy)))["slo"]["results"][0]["during_saturation"]
        is None
    )


def test_two_workers_are_one_load_generator_in_words() -> None:
    calm = judge([30.0] * 10, [1.0] * 10)
    health = PeriodHealth(
        (
            ProcessHealth(GENERATOR, "load generator worker w1", calm, 30.0, "w1"),
            ProcessHealth(GENERATOR, "load generator worker w2", calm, 30.0, "w2"),
        )
    )
    assert health.healthy_processes == "the load generator" and health.limiter is None
    lagging = judge([30.0] * 10, [1.0] * 5 + [25.0] * 5)
    health = PeriodHealth(
        (
            ProcessHealth(GENERATOR, "load generator worker w1", calm, 30.0, "w1"),
            ProcessHealth(GENERATOR, "load generator worker w2", lagging, 30.0, "w2"),
        )
    )
    assert health.reason == (
        "load generator worker w2 was saturated (event-loop lag > 10 ms in 50 % of samples)"
    )
