"""The simulator's realism faults seen from the harness: the agent honours Retry-After,
and a run counts each fault's outcome as the simulator's truth log says."""

from __future__ import annotations

import contextlib
import csv
import json
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from gwsload.gws.agent import Agent, AgentConfig
from gwsload.gws.errors import GwsApiError
from gwsload.gws.outcomes import Outcome
from gwsload.gws.session import Response
from gwsload.simulator.process import SimulatorProcess
from tests.commands import run_gwsload

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


def _run(tmp_path: Path, scenario_text: str) -> Path:
    """``gwsload run`` of the scenario against the embedded simulator: its run folder."""
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(scenario_text)
    out = tmp_path / "run"
    done = run_gwsload(
        "run", str(scenario), "--out", str(out), "--progress-every", "0", "--no-check",
        timeout=120,
    )  # fmt: skip
    assert (out / "manifest.json").exists(), done.stdout + done.stderr
    return out


def test_a_run_counts_each_fault_as_the_truth_log_says(tmp_path: Path) -> None:
    out = _run(tmp_path, _SCENARIO)
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
    done = run_gwsload(
        "run", str(scenario), "--out", str(tmp_path / "run"), "--progress-every", "0",
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f'gwsload run: error: {scenario}: transport "websocket", but the embedded simulator '
        "offers CometD over long-polling only, as GWS 8.5 does: set [simulator] websocket = "
        'true, or use transport "long-polling"'
    ]
    assert not (tmp_path / "run").exists()  # refused before anything started


def test_the_agent_waits_retry_after_on_set_up_requests_too() -> None:
    args = ["--agents", "1", "--latency-ms", "1", "--answer-delay-ms", "20", "--seed", "8",
            "--throttle-requests-share", "0.3", "--throttle-retry-after-s", "1"]  # fmt: skip
    requests: list[tuple[str, float, float, int]] = []  # operation, sent, answered, status

    def on_request(operation: str, response: Response | None, _: Exception | None) -> None:
        if response is not None:
            requests.append((operation, response.t_sent, response.t_response, response.http_status))

    with SimulatorProcess(args) as sim:
        agent = Agent(
            AgentConfig(base_url=sim.url, user="agent0001", password="gwsload"),
            on_request=on_request,
        )
        try:
            for _ in range(12):  # a throttled step fails the set-up: start it again
                try:
                    agent.login()
                    agent.establish_call()
                    break
                except GwsApiError:
                    continue
        finally:
            with contextlib.suppress(GwsApiError):
                agent.logout()
    throttled = [i for i, r in enumerate(requests) if r[3] == 429]
    set_up = {requests[i][0] for i in throttled} - {"StartCallRecording", "StopCallRecording"}
    assert set_up, requests  # log-in and set-up steps were throttled
    for i in throttled:
        if i + 1 < len(requests):  # the next request waited the server's Retry-After
            assert requests[i + 1][1] - requests[i][2] >= 0.99, requests[i : i + 2]


_THROTTLING = """
name = "throttling"
warmup_s = 0
[simulator]
latency_ms = 2
answer_delay_ms = 20
seed = 23
throttle_requests_share = 0.05
throttle_retry_after_s = 1
[client]
notification_timeout_s = 2
[workload]
hold_s = 0.05
think_time_s = 0.05
[[stages]]
duration_s = 6
users = 6
spawn_rate = 6
"""


def test_a_run_counts_every_throttled_request_as_the_truth_log_says(tmp_path: Path) -> None:
    out = _run(tmp_path, _THROTTLING)
    with open(out / "simulator-truth.csv", newline="") as file:
        throttled = [row for row in csv.DictReader(file) if row["action"] == "throttled"]
    assert throttled
    lines = Counter(row["notification_type"].split(" ", 1)[0] for row in throttled)
    assert lines["GET"] and lines["POST"], lines  # set-up reads and writes alike
    events = pq.read_table(out / "events").to_pylist()
    steps = pq.read_table(out / "sessions").to_pylist()
    rows = [r for r in events + steps if r["http_status"] == 429]
    # the truth log judges: each request it throttled is one row with HTTP 429 that
    # names the server's Retry-After; all of those before the stage's end, and none
    # more than it throttled (a sign-off request after the last rows were written is
    # not in the folder)
    manifest = json.loads((out / "manifest.json").read_text())
    until = manifest["t0"] + manifest["stages"][-1]["end_s"]
    before_end = [row for row in throttled if float(row["ts"]) < until]
    assert len(before_end) <= len(rows) <= len(throttled), (len(rows), len(throttled))
    assert all("Retry-After 1 s" in r["error"] for r in rows)
    report = run_gwsload("report", str(out), timeout=120)
    assert report.returncode in (0, 1), report.stderr
    counted = json.loads((out / "summary.json").read_text())["throttled"]
    assert counted["operations"] == sum(r["http_status"] == 429 for r in events)
    assert counted["operations"] + counted["session_steps"] == len(rows)
    assert counted["session_steps"] > 0
    assert "Throttled by the target" in (out / "report.html").read_text()
