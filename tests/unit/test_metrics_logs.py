"""incidents.jsonl, generator.csv, generator health samples and the saturation verdict."""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path

import pytest

from gwsload.contract.saturation import count_open_fds
from gwsload.metrics import (
    GeneratorLog,
    GeneratorSample,
    IncidentLog,
    ProcessProbe,
    ProcessReading,
    build_sample,
    incident,
    judge_saturation,
)
from gwsload.metrics.logs import GENERATOR_FIELDS


def test_incidents_are_one_json_object_per_line_readable_while_open(tmp_path: Path) -> None:
    path = tmp_path / "incidents.jsonl"
    with IncidentLog(path) as log:
        log.write(
            incident(
                1795952118.2,
                "local",
                "agent0007",
                "rehandshake",
                detail="402::session_unknown",
                duration_ms=812.0,
            )
        )
        # flushed per line: a reader (or a killed run) sees it before close
        first = path.read_text().splitlines()
        log.write(incident(1795952119.0, "w1", "", "worker_lost", duration_ms=math.nan))
    assert json.loads(first[0]) == {
        "ts": 1795952118.2,
        "worker": "local",
        "agent": "agent0007",
        "kind": "rehandshake",
        "detail": "402::session_unknown",
        "duration_ms": 812.0,
    }
    second = json.loads(path.read_text().splitlines()[1])
    assert second["duration_ms"] is None
    assert list(second) == ["ts", "worker", "agent", "kind", "detail", "duration_ms"]


def test_incident_kind_is_checked() -> None:
    with pytest.raises(ValueError, match="incident kind must be one of"):
        incident(1.0, "local", "agent0001", "hiccup")


def sample(worker: str, cpu: float, lag: float, ts: float = 0.0) -> GeneratorSample:
    return GeneratorSample(ts, worker, 10, cpu, 50_000_000, 40, 25, lag)


def test_generator_csv_header_and_rows(tmp_path: Path) -> None:
    path = tmp_path / "generator.csv"
    with GeneratorLog(path) as log:
        log.write(sample("w1", 12.5, 0.25, ts=1795952120.0).to_dict())
        assert len(path.read_text().splitlines()) == 2  # flushed per row
    with GeneratorLog(path) as log:  # appending does not repeat the header
        log.write(sample("w2", 99.0, 3.0).to_dict())
    with open(path, newline="") as file:
        rows = list(csv.DictReader(file))
    assert list(rows[0]) == list(GENERATOR_FIELDS)
    assert GENERATOR_FIELDS == (
        "ts",
        "worker",
        "users",
        "cpu_percent",
        "rss_bytes",
        "open_fds",
        "greenlets",
        "loop_lag_ms",
        "cpu_wait_percent",
        "py_blocks",
    )
    assert rows[0]["cpu_wait_percent"] == ""  # unknown stays unknown
    assert rows[0]["py_blocks"] == ""
    assert GeneratorSample.from_dict(rows[0]) == sample("w1", 12.5, 0.25, ts=1795952120.0)
    assert rows[1]["worker"] == "w2"


def test_build_sample_computes_cpu_percent_over_the_period() -> None:
    before = ProcessReading(ts=100.0, cpu_s=10.0, rss_bytes=1, open_fds=1)
    after = ProcessReading(ts=105.0, cpu_s=14.5, rss_bytes=123_456, open_fds=77)
    got = build_sample(before, after, worker="w1", users=50, greenlets=120, loop_lag_ms=1.5)
    assert got == GeneratorSample(105.0, "w1", 50, 90.0, 123_456, 77, 120, 1.5)
    # CPU wait over the period, from the scheduler's run-queue time where there is one
    waited = build_sample(
        ProcessReading(100.0, 10.0, 1, 1, wait_s=2.0),
        ProcessReading(105.0, 14.5, 1, 1, wait_s=3.0),
        worker="w1",
        users=1,
        greenlets=1,
        loop_lag_ms=0.0,
    )
    assert waited.cpu_wait_percent == pytest.approx(20.0)
    same_instant = build_sample(after, after, worker="w1", users=0, greenlets=0, loop_lag_ms=0.0)
    assert same_instant.cpu_percent == 0.0


def test_process_probe_reads_this_process(tmp_path: Path) -> None:
    probe = ProcessProbe()
    first = probe.read(now=1.0)
    with open(tmp_path / "f", "w"):
        second = probe.read(now=2.0)
    assert second.open_fds == first.open_fds + 1
    assert first.rss_bytes > 1_000_000
    assert second.cpu_s >= first.cpu_s > 0
    assert ProcessProbe(os.getpid()).read(now=3.0).ts == 3.0
    if Path("/proc/self/schedstat").exists():
        assert first.wait_s is not None and second.wait_s is not None
        assert second.wait_s >= first.wait_s >= 0.0


def test_open_fds_are_counted_as_the_fd_directory_lists_them(tmp_path: Path) -> None:
    # the count comes from one stat of /proc/<pid>/fd where the kernel gives it;
    # it must agree with listing the directory (one more entry: the listing's own fd)
    files = [open(tmp_path / f"f{i}", "w") for i in range(300)]  # noqa: SIM115
    try:
        counted = count_open_fds(os.getpid())
        listed = len(os.listdir("/proc/self/fd")) - 1
    finally:
        for file in files:
            file.close()
    assert counted == listed
    assert count_open_fds(os.getpid()) == counted - 300


def test_a_healthy_generator_is_not_saturated() -> None:
    samples = [sample("w1", 40.0, 0.5), sample("w2", 60.0, 2.0)] * 20
    verdict = judge_saturation(samples)
    assert verdict.to_dict() == {"saturated": False, "findings": []}


def test_busy_cpu_and_loop_lag_are_findings_per_worker() -> None:
    # w1: CPU >= 90 % in 42 of 100 samples; w2: lag over 10 ms in 12 of 100 samples
    w1 = [sample("w1", 95.0, 1.0)] * 42 + [sample("w1", 50.0, 1.0)] * 58
    w2 = [sample("w2", 30.0, 1.0)] * 88 + [sample("w2", 30.0, 35.0)] * 12
    verdict = judge_saturation(w1 + w2)
    assert verdict.saturated
    assert verdict.findings == (
        "worker w1 CPU >= 90 % for 42 % of the run",
        "worker w2 event-loop lag > 10 ms in 12 % of samples (worst 35 ms)",
    )


def test_a_few_lag_spikes_are_not_saturation() -> None:
    # one garbage-collection pause in 30 samples (a one-minute run) is not a pattern
    samples = [sample("local", 30.0, 1.0)] * 29 + [sample("local", 30.0, 80.0)]
    assert not judge_saturation(samples).saturated


def test_a_short_cpu_burst_is_not_saturation() -> None:
    samples = [sample("local", 100.0, 1.0)] * 5 + [sample("local", 20.0, 1.0)] * 95
    assert not judge_saturation(samples).saturated
    samples = [sample("local", 100.0, 1.0)] * 10 + [sample("local", 20.0, 1.0)] * 90
    assert judge_saturation(samples).findings == ("worker local CPU >= 90 % for 10 % of the run",)


def test_no_samples_no_verdict() -> None:
    assert judge_saturation([]).to_dict() == {"saturated": False, "findings": []}
