"""The scale benchmark's table: one row per record, in the columns of docs/scaling.md."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from bench import scale_table

ROOT = Path(__file__).resolve().parents[2]


def _record(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "agents": 20000,
        "workers": 4,
        "transport": "websocket",
        "nodes": 2,
        "balancers": 3,
        "logins": {"used_per_s": 44.2, "asked_per_s": 50.0},
        "ramp_s": 401.3,
        "steady_s": 120.0,
        "steady_ops_per_s": 478.25,
        "agents_operating": 19997,
        "lost": 26,
        "lost_by_phase": {"ramp": 11, "steady": 0, "sign_off": 15},
        "exit_code": 1,
        "generator_cpu_median_percent": {"w1": 21.0, "w2": 20.5},
        "generator_cpu_wait_median_percent": 27.0,
        "generator_loop_lag_ms": {"median": 29.0, "p90": 80.0, "p99": 291.0, "max": 400.0},
        "generator_rss_kib_per_agent": 45.04,
        "generator_fds_per_agent": 1.031,
        "simulator_cpu_median_percent": {"simulator-node1": 33.0, "simulator-node2": 35.0},
        "simulator_loop_lag_p99_ms": 3600.0,
        "loadavg_before": [0.3, 0.2, 0.1],
        "loadavg_after": [0.85, 1.0, 1.0],
    }
    record.update(changes)
    return record


def _cells(line: str) -> dict[str, str]:
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    assert len(cells) == len(scale_table.COLUMNS)
    return dict(zip(scale_table.COLUMNS, cells, strict=True))


def test_a_row_carries_every_process_and_the_lag_spread() -> None:
    header, rule, line = scale_table.table([_record()]).splitlines()
    assert header.count("|") == rule.count("|") == line.count("|")
    row = _cells(line)
    assert row["agents"] == "20,000 websocket, 2 nodes behind 3 HAProxy"
    assert row["ramp (login rate used)"] == "401 s (44/s of 50)"
    assert row["lost (ramp / steady / sign-off)"] == "26 (11 / 0 / 15)"
    assert row["generator CPU median per process"] == "21.0 %, 20.5 % (waiting for a core 27.0 %)"
    assert row["loop lag median / p90 / p99 / worst"] == "29.0 ms / 80.0 ms / 291 ms / 400 ms"
    assert row["generator fds per agent"] == "1.03"
    assert row["simulator CPU median"] == "33.0 %, 35.0 %"
    assert row["simulator loop lag p99"] == "3,600 ms"


def test_a_run_without_a_steady_window_shows_no_steady_figure() -> None:
    # an empty window once gave negative memory and NaN CPU: nothing of it is shown
    record = _record(
        steady_s=-26.9, generator_rss_kib_per_agent=-30.5, generator_cpu_median_percent={}
    )
    row = _cells(scale_table.row(record))
    steady = ("steady ops/s", "generator CPU median per process", "generator RSS per agent")
    assert all(row[column] == "-" for column in steady)
    assert row["operated"] == "19,997"
    assert row["lost (ramp / steady / sign-off)"] == "26 (11 / 0 / 15)"


def test_a_file_that_is_not_a_record_is_named_on_one_line(tmp_path: Path) -> None:
    path = tmp_path / "notes.json"
    path.write_text('{"agents": 10}')
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "scale_table.py"), str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and str(path) in proc.stderr
