"""Run labels, the fingerprint's summaries, /proc parsing and the health-difference rule."""

from __future__ import annotations

import csv
import os
import time
from pathlib import Path

import pytest

from gwsload.contract.environment import (
    MACHINE_COLUMNS,
    MACHINE_FILE,
    distribution,
    health_differences,
)
from gwsload.contract.labels import format_labels, labels_of, parse_labels
from gwsload.errors import ConfigError
from gwsload.metrics.machine import MachineSampler, parse_loadavg, parse_proc_stat


def test_labels_keep_their_order_and_print_as_given() -> None:
    labels = parse_labels(["gws_build=8.5.2.41", "environment=staging", "note=a=b c"])
    assert list(labels) == ["gws_build", "environment", "note"]
    assert labels["note"] == "a=b c"
    assert format_labels(labels) == "gws_build=8.5.2.41 environment=staging note=a=b c"
    assert labels_of({"labels": labels}) == labels
    assert labels_of({}) == {}


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (["gws_build"], "must be KEY=VALUE"),
        (["=x"], "must be KEY=VALUE"),
        (["9build=x"], "must be KEY=VALUE"),
        (["a=1", "a=2"], "given twice"),
        (["db_password=x"], "no secrets"),
        (["build="], "1-200 printable"),
        (["build=a\nb"], "1-200 printable"),
    ],
)
def test_bad_labels_are_one_line(items: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        parse_labels(items)
    assert "\n" not in str(info.value)


def test_distribution_is_nearest_rank_and_ignores_nan() -> None:
    summary = distribution([float(v) for v in range(1, 101)] + [float("nan")])
    assert summary == {"n": 100, "mean": 50.5, "p50": 50, "p90": 90, "p99": 99, "max": 100}
    assert distribution([])["p99"] is None


def test_proc_stat_and_loadavg_are_parsed() -> None:
    stat = "cpu  100 5 50 800 10 1 2 32 0 0\ncpu0 50 2 25 400 5 0 1 16 0 0\nintr 1\n"
    times = parse_proc_stat(stat)
    assert times is not None
    assert (times.total, times.idle, times.iowait, times.steal) == (1000, 800, 10, 32)
    assert parse_proc_stat("intr 1\n") is None
    assert parse_loadavg("4.56 3.33 1.41 8/223 17827\n") == (4.56, 8)


def _health(lag_p99: float, steal: float = 0.0) -> dict[str, object]:
    return {
        "generator": {"loop_lag_ms": {"p99": lag_p99}},
        "machine": {"steal_percent": {"mean": steal}},
    }


def test_a_generator_lag_gap_beyond_factor_and_floor_is_material() -> None:
    assert [d.reason for d in health_differences([_health(18.0)], [_health(2.0)])] == [
        "the baseline's generator lag p99 was 18 ms, the candidate's 2 ms"
    ]
    # below the floor: both quiet, whatever the ratio
    assert health_differences([_health(6.0)], [_health(1.0)]) == []
    # above the floor but within the factor: both equally noisy
    assert health_differences([_health(30.0)], [_health(20.0)]) == []
    # steal, and the worst run of a side counts
    found = health_differences([_health(3.0), _health(4.0, 12.0)], [_health(3.0, 1.0)])
    assert [d.reason for d in found] == [
        "the baseline's worst CPU steal was 12 %, the candidate's 1 %"
    ]
    # a measure one side lacks is not judged
    assert health_differences([{"machine": {}}], [_health(50.0)]) == []


def test_a_competing_job_shows_as_cpu_wait_when_the_lag_does_not() -> None:
    def waited(percent: float) -> dict[str, object]:
        return {
            "generator": {"loop_lag_ms": {"p99": 5.0}, "cpu_wait_percent": {"mean": percent}},
            "simulator": {"loop_lag_ms": {"p99": 4.0}, "cpu_wait_percent": {"mean": percent}},
        }

    found = health_differences([waited(3.1)], [waited(8.5)])
    assert [d.reason for d in found] == [
        "the baseline's generator CPU wait was 3.1 %, the candidate's 8.5 %",
        "the baseline's simulator CPU wait was 3.1 %, the candidate's 8.5 %",
    ]
    # a quiet machine's wait varies under the floor
    assert health_differences([waited(1.0)], [waited(4.0)]) == []


def test_the_machine_sampler_writes_proc_rows_while_it_runs(tmp_path: Path) -> None:
    with MachineSampler(tmp_path, period_s=0.1):
        end = time.monotonic() + 0.6
        while time.monotonic() < end:  # some CPU of our own, bounded
            sum(range(20_000))
            time.sleep(0.001)  # and room for the sampler's thread to take the GIL
    with open(tmp_path / MACHINE_FILE, encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    assert list(rows[0]) == list(MACHINE_COLUMNS)
    assert len(rows) >= 2
    busy = [float(r["cpu_busy_percent"]) for r in rows if r["cpu_busy_percent"]]
    assert busy and all(0.0 <= b <= 100.0 for b in busy)
    assert int(rows[-1]["cpus"]) == os.cpu_count()
