"""The latency split on the simulator: server time (sent -> generated) and delivery
(generated -> arrived) from GWS's serverGenerationTimestamp, checked against the
simulator's own truth log (its modelled delay for each notification)."""

from __future__ import annotations

import csv
import json
import statistics
from functools import partial
from pathlib import Path

from gwsload.analysis.latency_split import NOT_AVAILABLE, split_latency
from gwsload.analysis.load import load_run
from tests.commands import run_gwsload

SCENARIO = """
name = "split"
warmup_s = 1
[simulator]
latency_model = "lognormal"
latency_ms = 20
latency_p99_ms = 60
answer_delay_ms = 20
seed = 3
[client]
notification_timeout_s = 3
[workload]
hold_s = 0.05
think_time_s = 0.02
[[stages]]
duration_s = 6
users = 6
spawn_rate = 6
"""


_gwsload = partial(run_gwsload, timeout=110)


def test_split_matches_the_simulators_latency_model_within_the_stated_uncertainty(
    tmp_path: Path,
) -> None:
    scenario = tmp_path / "split.toml"
    scenario.write_text(SCENARIO)
    out = tmp_path / "run"
    done = _gwsload("run", str(scenario), "--out", str(out), "--progress-every", "0")
    assert done.returncode == 0, done.stdout + done.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format"] == 2
    split = split_latency(load_run(out).digest)
    assert split.available, split.reason
    assert split.samples > 100
    # one machine, one clock: the true offset (0) lies inside the bounds the run found
    assert split.offset_low_ms <= 0.0 <= split.offset_high_ms
    with open(out / "simulator-truth.csv", newline="") as file:
        modelled = [
            float(row["delay_ms"])
            for row in csv.DictReader(file)
            if row["notification_type"] == "CallRecordingStateChange"
            and row["action"] == "published"
        ]
    overall = split.per_operation.set_index("operation").loc["*"]
    u = split.uncertainty_ms
    # server time = request transit (>= 0, a few ms on a busy loopback) + the modelled delay
    assert -u - 0.5 <= overall["server_p50_ms"] - statistics.median(modelled) <= u + 5.0
    assert overall["delivery_p50_ms"] >= -u
    report = _gwsload("report", str(out))
    assert report.returncode == 0, report.stderr
    summary = json.loads((out / "summary.json").read_text())["latency_split"]
    assert summary["available"] and summary["uncertainty_ms"] == u
    assert "Server time vs delivery over" in (out / "report.html").read_text()


def test_split_is_not_available_without_the_servers_timestamp(tmp_path: Path) -> None:
    # a run with no server at all: the notifications carry no serverGenerationTimestamp
    scenario = tmp_path / "split.toml"
    scenario.write_text(SCENARIO.replace("duration_s = 6", "duration_s = 2"))
    out = tmp_path / "synthetic"
    done = _gwsload("run", str(scenario), "--synthetic", "--out", str(out), "--progress-every", "0")
    assert done.returncode in (0, 1), done.stdout + done.stderr  # it makes some lost on purpose
    split = split_latency(load_run(out).digest)
    assert not split.available and split.reason.startswith(NOT_AVAILABLE)
    assert split.sentence.startswith("Server time vs delivery: not available from this target")
