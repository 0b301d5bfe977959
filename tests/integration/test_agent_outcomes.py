"""Every outcome has its cause, and the agent continues from the server's truth:
``gwsload run`` against the simulator failing a share of accepted operations with an
``ErrorMessage``."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

pytestmark = pytest.mark.gevent

SCENARIO = """
name = "async-errors"
description = "a fifth of the accepted recording operations fail behind GWS"
[simulator]
latency_ms = 3
answer_delay_ms = 20
seed = 11
async_error_share = 0.2
[client]
notification_timeout_s = 2
[workload]
hold_s = { distribution = "uniform", min = 0.05, max = 0.2 }
think_time_s = 0.05
pause_share = 0.5
[[stages]]
duration_s = 8
users = 6
spawn_rate = 6
"""


def test_async_errors_are_outcomes_with_the_servers_text_and_no_refusal_follows(
    tmp_path: Path,
) -> None:
    scenario = tmp_path / "async.toml"
    scenario.write_text(SCENARIO)
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "gwsload.cli", "run", str(scenario), "--out", str(out),
         "--progress-every", "0"],
        capture_output=True, text=True, timeout=110, check=False,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stdout + done.stderr
    events = pq.read_table(out / "events").to_pylist()
    outcomes = Counter(e["outcome"] for e in events)
    assert outcomes["async_error"] >= 10, outcomes
    assert outcomes["lost"] == 0, outcomes  # an ErrorMessage is never waited out as lost
    share = outcomes["async_error"] / len(events)
    assert 0.1 < share < 0.3, outcomes
    failed = [e for e in events if e["outcome"] == "async_error"]
    assert all(e["error"].startswith("ErrorMessage: ") for e in failed)
    assert all(e["status_code"] == 4 and e["http_status"] == 200 for e in failed)
    # the call was re-read after each failure: no operation the call could not take
    refusals = [e for e in events if e["outcome"] == "api_error"]
    assert refusals == [], refusals[:3]
    assert outcomes["ok"] + outcomes["async_error"] == len(events)
