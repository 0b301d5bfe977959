"""The scripts in analysis/ run on a run folder, as a performance engineer would run
them, and say what the report says."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from gwsload.analysis.load import load_run

SCRIPTS = Path(__file__).resolve().parents[2] / "analysis"


def _script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(name: str, *args: Path) -> str:
    done = subprocess.run(
        [sys.executable, str(SCRIPTS / f"{name}.py"), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_every_script_is_tested() -> None:
    tested = {"latency_over_time", "throughput_per_operation", "lost_notifications"}
    tested |= {"compare_runs"}
    assert {p.stem for p in SCRIPTS.glob("*.py")} == tested


def test_latency_over_time(runs: dict[str, Path]) -> None:
    assert "p99" in _run("latency_over_time", runs["clean"])
    table = _script("latency_over_time").latency_over_time(str(runs["clean"]), 10.0)
    assert len(table) > 3 and (table["p99"] >= table["p50"]).all()
    assert table["warmup"].iloc[0] and not table["warmup"].iloc[-1]


def test_throughput_per_operation(runs: dict[str, Path]) -> None:
    assert "ops_per_s" in _run("throughput_per_operation", runs["clean"])
    table = _script("throughput_per_operation").throughput_per_operation(str(runs["clean"]))
    run = load_run(runs["clean"], keep_events=True)
    measured = (run.events["t_s"] >= run.warmup_s) & (run.events["t_s"] < run.measure_end_s)
    assert table["operations"].sum() == measured.sum()
    assert set(table.index) == set(run.events["operation"])


def test_lost_notifications(runs: dict[str, Path]) -> None:
    listing = _run("lost_notifications", runs["lossy"]).splitlines()
    assert listing[0].startswith("t_s,worker,agent,call_id,operation")
    lost = _script("lost_notifications").lost_notifications(str(runs["lossy"]))
    run = load_run(runs["lossy"], keep_events=True)
    assert len(lost) == len(listing) - 1 == (run.events["outcome"] == "lost").sum() > 0
    assert lost["agent"].str.len().min() > 0


@pytest.mark.parametrize(("candidate", "faster"), [("faster", True), ("baseline", False)])
def test_compare_runs(runs: dict[str, Path], candidate: str, faster: bool) -> None:
    assert "change_percent" in _run("compare_runs", runs["baseline"], runs[candidate])
    table = _script("compare_runs").compare_runs(str(runs["baseline"]), str(runs[candidate]))
    change = table[("change_percent", "notify_ms_p50")]
    assert (change < -10).all() if faster else (change == 0).all()
