"""One run folder, three readers: what ``gwsload run`` prints at the end, ``gwsload check``
and ``gwsload report`` agree, rule by rule (each rule has one home in gwsload.contract).

One short synthetic run (no server: the agents' latencies are drawn in-process) with
a warm-up that ends inside a histogram interval, so the measured-period rule decides
about an interval that straddles it.
"""

from __future__ import annotations

import json
import re
import shutil
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from gwsload.launcher.verdict import untested
from gwsload.metrics.hlog import read_hlog
from tests.commands import run_gwsload

pytestmark = pytest.mark.gevent

SCENARIO = """
name = "agree"
description = "synthetic agents: console, check and report read one run folder"
warmup_s = 1
[workload]
hold_s = 0.1
think_time_s = 0.1
[[stages]]
duration_s = 5
users = 4
spawn_rate = 4
[[slo]]
metric = "notify_ms"
stat = "p99"
max = 1000
[[slo]]
metric = "response_ms"
stat = "p50"
operation = "StartCallRecording"
max = 1000
"""

_LATENCIES = re.compile(
    r"^(?P<op>\w+): response p50 (?P<r50>[\d.,]+) p99 (?P<r99>[\d.,]+) ms, "
    r"notify p50 (?P<n50>[\d.,]+) p99 (?P<n99>[\d.,]+) max (?P<nmax>[\d.,]+) ms$",
    re.MULTILINE,
)


_gwsload = partial(run_gwsload, timeout=120)


def _number(text: str) -> float:
    return float(text.replace(",", ""))


class Readings:
    def __init__(self, folder: Path, console: str, run_code: int) -> None:
        self.folder = folder
        self.console = console
        self.run_code = run_code
        self.check = _gwsload("check", str(folder))
        self.report = _gwsload("report", str(folder))
        self.summary: dict[str, Any] = json.loads((folder / "summary.json").read_text())
        self.manifest: dict[str, Any] = json.loads((folder / "manifest.json").read_text())


@pytest.fixture(scope="module")
def readings(tmp_path_factory: pytest.TempPathFactory) -> Readings:
    base = tmp_path_factory.mktemp("agree")
    scenario = base / "agree.toml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    folder = base / "run"
    done = _gwsload(
        "run", str(scenario), "--synthetic", "--out", str(folder), "--progress-every", "0"
    )
    assert (folder / "manifest.json").is_file(), done.stdout + done.stderr
    return Readings(folder, done.stdout, done.returncode)


def test_measured_period_console_and_report_print_the_same_percentiles(
    readings: Readings,
) -> None:
    """gwsload.contract.periods: the summary's histograms and the report's hlog totals
    take the same intervals (midpoint in the measured period)."""
    printed = {m["op"]: m for m in _LATENCIES.finditer(readings.console)}
    assert set(printed) == {"StartCallRecording", "StopCallRecording"}, readings.console
    for operation, line in printed.items():
        latency = readings.summary["operations"][operation]["latency_ms"]
        assert _number(line["r50"]) == latency["response_ms"]["p50"], operation
        assert _number(line["r99"]) == latency["response_ms"]["p99"], operation
        assert _number(line["n50"]) == latency["notify_ms"]["p50"], operation
        assert _number(line["n99"]) == latency["notify_ms"]["p99"], operation
        assert _number(line["nmax"]) == latency["notify_ms"]["max"], operation
    assert readings.manifest["warmup_s"] == 1
    # the first interval straddles the warm-up's end (intervals last >= 2 s): the
    # rule decides about it, and both readers followed the same decision
    first = next(e for e in read_hlog(readings.folder / "latency.hlog"))
    since_t0 = first.start - readings.manifest["t0"]
    assert since_t0 < 1 < since_t0 + first.length


def test_slo_verdicts_agree(readings: Readings) -> None:
    """The SLO grammar: the console's check at the end of the run, gwsload check and
    the report judge the same SLOs with the same measured values."""

    def table(text: str) -> list[str]:
        return [line for line in text.splitlines() if line.rstrip().endswith(("pass", "FAIL"))]

    assert table(readings.console) == table(readings.check.stdout) != []
    results = readings.summary["slo"]["results"]
    assert len(results) == len(table(readings.check.stdout)) == 2
    for result, line in zip(results, table(readings.check.stdout), strict=True):
        assert line.startswith(result["label"])
        assert ("pass" if result["passed"] else "FAIL") == line.split()[-1]
    assert readings.check.returncode == (0 if readings.summary["slo"]["verdict"] == "pass" else 1)


def test_saturation_findings_agree(readings: Readings, tmp_path: Path) -> None:
    """gwsload.contract.saturation: the console's generator line (manifest ``generator``)
    and the report's own judgement of generator.csv name the same saturated workers
    with the same words."""
    generator = readings.manifest["generator"]
    console = [ln for ln in readings.console.splitlines() if ln.startswith("load generator")]
    assert bool(console) == generator["saturated"]
    for finding in generator["findings"]:
        assert finding in console[0]
    # the report judges generator.csv itself when the manifest holds no verdict
    folder = Path(shutil.copytree(readings.folder, tmp_path / "unjudged"))
    manifest = dict(readings.manifest)
    del manifest["generator"]
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert _gwsload("report", str(folder)).returncode == 0
    validity = json.loads((folder / "summary.json").read_text())["validity"]
    judged = [
        f["text"].removeprefix("Harness: ")
        for f in validity
        if f["severity"] == "warning" and f["text"].startswith("Harness: worker")
    ]
    assert judged == list(generator["findings"])


def test_failed_run_rule_agrees(readings: Readings) -> None:
    """gwsload.contract.failed_run: the run tested, so neither reader says otherwise;
    then, with the manifest claiming twice the agents, all three say it did not test."""
    assert untested(readings.folder, readings.manifest) == []
    assert readings.summary["failed_run"] == []
    manifest = dict(readings.manifest)
    manifest["stages"] = [{**s, "users": 2 * s["users"]} for s in manifest["stages"]]
    (readings.folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    console = untested(readings.folder, manifest)
    check = _gwsload("check", str(readings.folder))
    report = _gwsload("report", str(readings.folder))
    summary = json.loads((readings.folder / "summary.json").read_text())
    assert console and console[0] == summary["failed_run"][0]
    assert check.returncode == 1 and console[0] in check.stdout
    assert report.stdout.startswith("FAIL: the run did not test")
