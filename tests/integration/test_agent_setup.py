"""A set-up failure during a run is visible: an agent whose password the target
refuses shows as failing, with its reason, on the progress line, and its failure is
a ``setup_error`` incident in the run folder, while the other agent operates; the
run fails (not every agent operated) naming that reason, and so does check."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from gwsload.simulator.process import SimulatorProcess

pytestmark = pytest.mark.gevent

SCENARIO = """
name = "one-refused"
description = "one agent of two has a wrong password"
[client]
notification_timeout_s = 2
[workload]
hold_s = 0.1
think_time_s = 0.1
[[stages]]
duration_s = 8
users = 2
spawn_rate = 2
"""


def test_a_refused_login_is_on_the_progress_line_and_in_the_incidents(tmp_path: Path) -> None:
    scenario = tmp_path / "refused.toml"
    scenario.write_text(SCENARIO)
    agents = tmp_path / "agents.csv"
    agents.write_text("username,password\nagent0001,gwsload\nagent0002,not-its-password\n")
    out = tmp_path / "run"
    with SimulatorProcess(["--agents", "2", "--answer-delay-ms", "20"]) as sim:
        done = subprocess.run(
            [sys.executable, "-m", "gwsload.cli", "run", str(scenario), "--target", sim.url,
             "--agents-file", str(agents), "--out", str(out), "--progress-every", "1",
             "--no-preflight"],  # the failure to see is one during the run
            capture_output=True, text=True, timeout=110, check=False,
        )  # fmt: skip
    output = done.stdout + done.stderr
    assert "agents 1 operating, 1 failing (login: HTTP 401 statusCode 20)" in output, output
    assert "not-its-password" not in output
    incidents = [json.loads(line) for line in (out / "incidents.jsonl").read_text().splitlines()]
    setup = [(i["agent"], i["detail"]) for i in incidents if i["kind"] == "setup_error"]
    # one row per failure streak and reason, not one per retry
    assert setup == [("agent0002", "login: HTTP 401 statusCode 20")]
    events = pq.read_table(out / "events").to_pylist()
    assert {e["agent"] for e in events} == {"agent0001"}
    # the run did not test with every agent: it fails, and says why, here and in check
    reason = "most frequent set-up failure: login: HTTP 401 statusCode 20 (1 agent)"
    assert done.returncode == 1 and reason in done.stdout, output
    check = subprocess.run(
        [sys.executable, "-m", "gwsload.cli", "check", str(out)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert check.returncode == 1 and reason in check.stdout, check.stdout + check.stderr
