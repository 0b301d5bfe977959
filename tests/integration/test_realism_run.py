"""The simulator's realism faults seen from the harness: the agent honours Retry-After,
and a run counts each fault's outcome as the simulator's truth log says."""

from __future__ import annotations

import csv
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from gwsload.gws.agent import Agent, AgentConfig
from gwsload.gws.outcomes import Outcome
from gwsload.simulator.process import SimulatorProcess

pytestmark = pytest.mark.gevent


def test_the_agent_waits_retry_after_before_its_next_request() -> None:
    args = ["--agents", "1", "--latency-ms", "1", "--answer-delay-ms", "20", "--seed", "4",
            "--throttle-share", "0.3", "--throttle-retry-after-s", "1"]  # fmt: skip
    outcomes: list[Outcome] = []
    with SimulatorProcess(args) as sim:
        agent = Agent(
            AgentConfig(base_url=sim.url, user="agent0001", password="gwsload"),
            on_outcome=outcomes.append,
        )
        try:
            agent.login()
            agent.establish_call()
            for _ in range(16):
                before = len(outcomes)
                operation = (
                    "StopCallRecording"
                    if agent.recording_state == "Recording"
                    else ("StartCallRecording")
                )
                agent.record(operation)
                if outcomes[before:] and outcomes[-1].kind != "ok":
                    agent.refresh_call()
        finally:
            agent.logout()
    throttled = [i for i, o in enumerate(outcomes) if o.http_status == 429]
    assert throttled, [o.kind for o in outcomes]
    for i in throttled:
        assert outcomes[i].kind == "http_error"
        if i + 1 < len(outcomes):  # the next request waited the server's Retry-After
            assert outcomes[i + 1].t_sent - outcomes[i].t_response >= 0.99


_SCENARIO = """
name = "realism"
warmup_s = 0
[simulator]
latency_ms = 2
answer_delay_ms = 20
seed = 21
throttle_share = 0.1
throttle_retry_after_s = 0
recording_unavailable_share = 0.3
dial_busy_share = 0.2
[client]
notification_timeout_s = 2
[workload]
hold_s = 0.05
think_time_s = 0.05
[[stages]]
duration_s = 6
users = 8
spawn_rate = 8
"""


def test_a_run_counts_each_fault_as_the_truth_log_says(tmp_path: Path) -> None:
    scenario = tmp_path / "realism.toml"
    scenario.write_text(_SCENARIO)
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "gwsload.cli", "run", str(scenario), "--out", str(out),
         "--progress-every", "0", "--no-check"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert (out / "manifest.json").exists(), done.stdout + done.stderr
    with open(out / "simulator-truth.csv", newline="") as file:
        truth = Counter(row["action"] for row in csv.DictReader(file))
    events = pq.read_table(out / "events").to_pylist()
    assert truth["throttled"] > 0 and truth["recording_refused"] > 0 and truth["busy"] > 0
    # every throttled recording operation is an http_error with HTTP 429
    assert sum(e["http_status"] == 429 for e in events) == truth["throttled"]
    # every refused one (agent without recording) is an api_error statusCode 2
    refused = [e for e in events if e["outcome"] == "api_error" and e["status_code"] == 2]
    assert len(refused) == truth["recording_refused"]
    # busy Dials are set-up failures, never recording operations: the agent saw its call
    # released unanswered, said so, and dialled again after its back-off
    assert {e["operation"] for e in events} <= {
        "StartCallRecording", "StopCallRecording", "PauseCallRecording", "ResumeCallRecording"
    }  # fmt: skip
    assert "released before it was answered" in (out / "incidents.jsonl").read_text()
    dials = [r for r in pq.read_table(out / "sessions").to_pylist() if r["operation"] == "Dial"]
    assert len(dials) >= 8 + truth["busy"]


def test_websocket_against_the_long_polling_only_simulator_is_one_line(tmp_path: Path) -> None:
    scenario = tmp_path / "ws.toml"
    scenario.write_text(_SCENARIO.replace("[client]", '[client]\ntransport = "websocket"'))
    done = subprocess.run(
        [sys.executable, "-m", "gwsload.cli", "run", str(scenario), "--out",
         str(tmp_path / "run"), "--progress-every", "0"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f'gwsload run: error: {scenario}: transport "websocket", but the embedded simulator '
        "offers CometD over long-polling only, as GWS 8.5 does: set [simulator] websocket = "
        'true, or use transport "long-polling"'
    ]
    assert not (tmp_path / "run").exists()  # refused before anything started
