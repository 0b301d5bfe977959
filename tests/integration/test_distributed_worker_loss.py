"""A worker killed in the middle of a distributed run: the run goes on with the other
worker, the loss is an incident, its rows shipped so far are kept, and the run fails
its criteria (its last rows never arrived)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pyarrow.parquet as pq
import pytest

pytestmark = pytest.mark.gevent

SCENARIO = """
name = "loss"
description = "synthetic agents; one worker is killed"
[client]
notification_timeout_s = 1
request_timeout_s = 1
[workload]
hold_s = 0.05
think_time_s = 0.05
[[stages]]
duration_s = 14
users = 4
spawn_rate = 4
"""


def _worker_processes(parent: int) -> list[psutil.Process]:
    children = psutil.Process(parent).children(recursive=True)
    return [p for p in children if "--worker" in p.cmdline()]


def test_killed_worker_is_an_incident_and_the_run_fails(tmp_path: Path) -> None:
    scenario = tmp_path / "loss.toml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "gwsload.cli", "run", str(scenario), "--synthetic",
         "--workers", "2", "--out", str(out), "--progress-every", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            names = {p.name.split("-")[1] for p in (out / "events").glob("part-*.parquet")}
            if {"w1", "w2"} <= names:
                break
            time.sleep(0.2)
        assert {"w1", "w2"} <= names, "both workers should ship segments first"
        workers = _worker_processes(proc.pid)
        assert len(workers) == 2
        workers[0].send_signal(signal.SIGKILL)
        output, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1, output
    assert "did not deliver its final results" in output
    incidents = [json.loads(line) for line in (out / "incidents.jsonl").read_text().splitlines()]
    lost = [i for i in incidents if i["kind"] == "worker_lost"]
    assert len(lost) == 1 and lost[0]["worker"] in {"w1", "w2"}
    events = pq.read_table(out / "events").to_pydict()
    assert set(events["worker"]) == {"w1", "w2"}  # the lost worker's shipped rows stay
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "completed" and manifest["exit_code"] == 1
