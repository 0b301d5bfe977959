"""``gwsload run`` against the embedded simulator, checked against its ground truth.

The simulator logs every notification it publishes or drops (``simulator-truth.csv``
in the run folder, with the sequence number the notification carries). Without
faults, every operation must be matched and every match must be a notification the
simulator published, for that agent, call and state, after the delay it chose.
With drops, the harness must count as lost exactly what the simulator dropped.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

pytestmark = pytest.mark.gevent

SCENARIO = """
name = "{name}"
description = "short run against the simulator"
[simulator]
latency_model = "lognormal"
latency_ms = 3
latency_p99_ms = 15
answer_delay_ms = 20
seed = 7
websocket = {websocket}
{faults}
[client]
transport = "{transport}"
notification_timeout_s = 2
[workload]
hold_s = {{ distribution = "uniform", min = 0.05, max = 0.2 }}
think_time_s = 0.05
pause_share = 0.3
[[stages]]
duration_s = 7
users = 6
spawn_rate = 6
"""


def _run(
    tmp: Path, *, name: str, faults: str = "", transport: str = "long-polling", workers: int = 0
) -> tuple[int, str, Path]:
    scenario = tmp / f"{name}.toml"
    scenario.write_text(
        SCENARIO.format(
            name=name,
            faults=faults,
            transport=transport,
            websocket=str(transport == "websocket").lower(),
        )
    )
    out = tmp / name
    done = subprocess.run(
        [sys.executable, "-m", "gwsload.cli", "run", str(scenario), "--out", str(out),
         "--workers", str(workers), "--progress-every", "0"],
        capture_output=True, text=True, timeout=110, check=False,
    )  # fmt: skip
    return done.returncode, done.stdout + done.stderr, out


def _events(out: Path) -> list[dict[str, Any]]:
    return pq.read_table(out / "events").to_pylist()  # type: ignore[no-any-return]


def _truth(out: Path) -> list[dict[str, str]]:
    with open(out / "simulator-truth.csv", newline="") as file:
        return [
            row for row in csv.DictReader(file)
            if row["notification_type"] == "CallRecordingStateChange"
        ]  # fmt: skip


@pytest.mark.parametrize("transport", ["long-polling", "websocket"])
def test_no_faults_every_operation_matches_a_published_notification(
    tmp_path: Path, transport: str
) -> None:
    code, output, out = _run(tmp_path, name="clean", transport=transport)
    assert code == 0, output
    events = _events(out)
    assert events and Counter(e["outcome"] for e in events) == {"ok": len(events)}
    assert {e["operation"] for e in events} >= {"StartCallRecording", "StopCallRecording"}
    published = {int(t["seq"]): t for t in _truth(out) if t["action"] == "published"}
    # every recording notification the simulator published was matched, once
    assert sorted(e["server_seq"] for e in events) == sorted(published)
    for event in events:
        truth = published[event["server_seq"]]
        assert (truth["agent"], truth["call_id"]) == (event["agent"], event["call_id"])
        assert truth["recording_state"] == event["expected_state"]
        # causality: it arrived after it was published (wall clocks of two processes,
        # converted from monotonic stamps: a few ms of slack for clock slewing), and no
        # sooner than the delay the simulator chose after accepting the request
        arrived = event["ts"] + event["notify_ms"] / 1000.0
        assert arrived >= float(truth["ts"]) - 0.01
        assert event["publish_lag_ms"] >= -10.0
        assert event["notify_ms"] >= float(truth["delay_ms"]) - 1.0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "completed" and manifest["target"]["kind"] == "embedded-simulator"
    # the embedded simulator sampled its own health into the run folder
    with open(out / "simulator.csv", newline="") as file:
        health = list(csv.DictReader(file))
    assert len(health) >= 2 and all(float(h["loop_lag_ms"]) >= 0.0 for h in health)
    _check_sessions(out, agents=6)


def _check_sessions(out: Path, *, agents: int) -> None:
    """Each agent's life outside the recording cycle: one row per step, none an operation."""
    rows = pq.read_table(out / "sessions").to_pylist()
    steps = Counter(r["operation"] for r in rows)
    for step in ("GetMe", "CometdHandshake", "StartContactCenterSession", "Ready", "Dial",
                 "Hangup", "EndContactCenterSession"):  # fmt: skip
        assert steps[step] == agents, (step, steps)
    assert all(r["outcome"] == "ok" and r["response_ms"] > 0 for r in rows)
    assert not set(steps) & {"StartCallRecording", "StopCallRecording"}


def test_lost_count_equals_what_the_simulator_dropped(tmp_path: Path) -> None:
    code, output, out = _run(tmp_path, name="drops", faults="drop_share = 0.25")
    assert code == 1, output  # lost notifications fail the run's criteria
    events = _events(out)
    outcomes = Counter(e["outcome"] for e in events)
    dropped = [t for t in _truth(out) if t["action"] == "dropped"]
    assert dropped, "the simulator dropped nothing: the check would be empty"
    assert outcomes["lost"] == len(dropped)
    assert set(outcomes) <= {"ok", "lost"}
    lost_keys = sorted((e["agent"], e["call_id"], e["expected_state"]) for e in events
                       if e["outcome"] == "lost")  # fmt: skip
    dropped_keys = sorted((t["agent"], t["call_id"], t["recording_state"]) for t in dropped)
    assert lost_keys == dropped_keys
    assert f"failed: {len(dropped)} lost" in output


def test_two_workers_against_the_simulator(tmp_path: Path) -> None:
    code, output, out = _run(tmp_path, name="two", workers=2)
    assert code == 0, output
    events = _events(out)
    assert {e["worker"] for e in events} == {"w1", "w2"}
    assert Counter(e["outcome"] for e in events) == {"ok": len(events)}
    agents_by_worker: dict[str, set[str]] = {}
    for event in events:
        agents_by_worker.setdefault(event["worker"], set()).add(event["agent"])
    assert not agents_by_worker["w1"] & agents_by_worker["w2"]
    assert len(_truth(out)) == len(events)
    _check_sessions(out, agents=6)


def test_expired_sessions_become_incidents(tmp_path: Path) -> None:
    code, output, out = _run(tmp_path, name="expire", faults="expire_sessions_every_s = 1.5")
    assert code in (0, 1), output  # a notification published into the gap may be lost
    incidents = [json.loads(line) for line in (out / "incidents.jsonl").read_text().splitlines()]
    rehandshakes = [i for i in incidents if i["kind"] == "rehandshake"]
    assert len(rehandshakes) >= 2
    assert {i["worker"] for i in rehandshakes} == {"local"}
    assert all(i["agent"].startswith("agent") for i in rehandshakes)
    assert Counter(e["outcome"] for e in _events(out))["ok"] > 0
