"""A real step-load run against the embedded simulator: whose limit each step was.

Two short steps with the simulator sampling its own health into the run folder; the
report judges every measuring process per step by the one saturation rule and says in
the capacity table and sentence, in summary.json and in check, who limited each step.
"""

from __future__ import annotations

import csv
import json
from functools import partial
from pathlib import Path

import pytest

from gwsload.contract.saturation import judge
from tests.commands import run_gwsload

pytestmark = pytest.mark.gevent

SCENARIO = """
name = "steps"
description = "two short steps against the simulator"
warmup_s = 2
[simulator]
latency_ms = 3
answer_delay_ms = 20
seed = 3
[client]
transport = "long-polling"
notification_timeout_s = 3
[workload]
hold_s = { distribution = "uniform", min = 0.05, max = 0.2 }
think_time_s = 0.05
[[stages]]
duration_s = 10
users = 3
spawn_rate = 10
[[stages]]
duration_s = 10
users = 6
spawn_rate = 10
[[slo]]
metric = "notify_ms"
stat = "p99"
max = 2000
"""

LIMITERS = {"target", "load generator", "simulator", "none"}


_gwsload = partial(run_gwsload, timeout=110)


def _column(path: Path, name: str, since: float, until: float) -> list[float]:
    with path.open(newline="") as file:
        return [
            float(row[name])
            for row in csv.DictReader(file)
            if since < float(row["ts"]) <= until and row[name] != ""
        ]


def test_each_step_says_who_limited_it(tmp_path: Path) -> None:
    scenario = tmp_path / "steps.toml"
    scenario.write_text(SCENARIO)
    out = tmp_path / "run"
    done = _gwsload("run", str(scenario), "--out", str(out), "--progress-every", "0")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (out / "simulator.csv").is_file()
    assert _gwsload("report", str(out)).returncode == 0
    summary = json.loads((out / "summary.json").read_text())
    capacity = summary["capacity"]
    assert capacity is not None and len(capacity["steps"]) == 2
    t0 = json.loads((out / "manifest.json").read_text())["t0"]
    for step in capacity["steps"]:
        assert step["limited_by"] in LIMITERS
        since, until = t0 + step["measured_from_s"], t0 + step["measured_to_s"]
        # the simulator's own samples of this step, judged by the one rule, agree
        simulator = judge(
            _column(out / "simulator.csv", "cpu_percent", since, until),
            _column(out / "simulator.csv", "loop_lag_ms", since, until),
        )
        generator = judge(
            _column(out / "generator.csv", "cpu_percent", since, until),
            _column(out / "generator.csv", "loop_lag_ms", since, until),
        )
        assert simulator.samples >= 3 and generator.samples >= 3
        assert step["simulator_lag_share"] == pytest.approx(simulator.lag_share)
        expected = (
            "load generator"
            if generator.saturated
            else "simulator"
            if simulator.saturated
            else ("none" if step["slo_ok"] else "target")
        )
        assert step["limited_by"] == expected
    sentence = capacity["sentence"]
    if capacity["limited_by"] in ("load generator", "simulator"):
        assert "so the target's knee was not reached" in sentence
        assert capacity["capacity_is_lower_bound"] is True
    elif capacity["limited_by"] == "none":
        assert sentence.startswith("Capacity: at least 6 agents")
        assert "with the load generator and the simulator healthy" in sentence
    else:
        assert "so this is the target's limit" in sentence
    html = (out / "report.html").read_text()
    assert ">limited by</th>" in html and "simulator lag &gt; 10 ms" in html
