"""Fault injection: what the node hands to the CometD endpoint matches its truth log, seeded."""

from __future__ import annotations

import asyncio
import csv
import time
from pathlib import Path
from typing import Any

import pytest
from simhelpers import GwsAgent, RecordingEndpoint, Sim, StartSim

from gwsload.simulator.truth_log import TRUTH_COLUMNS

pytestmark = pytest.mark.asyncio


async def _record_cycles(agent: GwsAgent, call_id: str, cycles: int) -> list[int]:
    """Start/stop recording ``cycles`` times; returns the HTTP statuses."""
    statuses = []
    for i in range(cycles * 2):
        operation = "StartCallRecording" if i % 2 == 0 else "StopCallRecording"
        status, _, _ = await agent.request(
            "POST", f"/api/v2/me/calls/{call_id}", {"operationName": operation}
        )
        statuses.append(status)
    return statuses


async def _drain(sim: Sim) -> None:
    for _ in range(1000):
        if sim.node.publisher.pending == 0:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("publisher did not drain")


def _truth_rows(sim: Sim) -> list[dict[str, str]]:
    assert sim.node.truth is not None
    sim.node.truth.flush()
    with sim.node.truth.path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == TRUTH_COLUMNS
        return list(reader)


def _seq_of(ext: dict[str, Any] | None) -> int:
    assert ext is not None
    seq: int = ext["gwsload"]["seq"]
    return seq


async def _run_drop_scenario(start_sim: StartSim, truth: Path) -> tuple[Sim, RecordingEndpoint]:
    endpoint = RecordingEndpoint()
    sim = await start_sim(drop_share=0.5, seed=7, truth_log=truth, endpoint=endpoint)
    agent = sim.agent()
    call_id = await agent.established_call()
    assert set(await _record_cycles(agent, call_id, 100)) == {200}
    await _drain(sim)
    return sim, endpoint


async def test_drop_share_drops_what_the_truth_log_says(
    start_sim: StartSim, tmp_path: Path
) -> None:
    sim, endpoint = await _run_drop_scenario(start_sim, tmp_path / "truth.csv")
    rows = _truth_rows(sim)
    recording = [r for r in rows if r["notification_type"] == "CallRecordingStateChange"]
    assert len(recording) == 200
    dropped = [r for r in recording if r["action"] == "dropped"]
    assert 60 <= len(dropped) <= 140  # a share of 0.5 over 200, seeded
    # other notifications are never dropped
    assert all(r["action"] == "published" for r in rows if r not in recording)
    delivered = {_seq_of(ext) for _, _, _, ext in endpoint.notified}
    assert delivered == {int(r["seq"]) for r in rows if r["action"] == "published"}
    assert delivered.isdisjoint(int(r["seq"]) for r in dropped)
    # each delivered recording notification is exactly the one the truth log names
    by_seq = {int(r["seq"]): r for r in rows}
    for _, channel, data, ext in endpoint.notified:
        row = by_seq[_seq_of(ext)]
        assert row["notification_type"] == data.get("notificationType", data["messageType"])
        assert channel == ("/v2/me/calls" if "call" in data else "/v2/me/devices")
        if row["recording_state"]:
            assert data["call"]["recordingState"] == row["recording_state"]
        generated_ms = data["metrics"]["eventProcessing"]["serverGenerationTimestamp"]
        # the same instant: whole ms in the notification, the log's 6 decimals rounded
        assert 0 <= float(row["ts"]) * 1000 - generated_ms < 1.001


async def test_same_seed_same_decisions(start_sim: StartSim, tmp_path: Path) -> None:
    first, _ = await _run_drop_scenario(start_sim, tmp_path / "a.csv")
    second, _ = await _run_drop_scenario(start_sim, tmp_path / "b.csv")
    actions = [[(r["seq"], r["action"]) for r in _truth_rows(sim)] for sim in (first, second)]
    assert actions[0] == actions[1]


async def test_duplicate_share_publishes_twice_with_new_sequence_numbers(
    start_sim: StartSim, tmp_path: Path
) -> None:
    endpoint = RecordingEndpoint()
    sim = await start_sim(duplicate_share=1.0, truth_log=tmp_path / "t.csv", endpoint=endpoint)
    agent = sim.agent()
    call_id = await agent.established_call()
    await _record_cycles(agent, call_id, 5)
    await _drain(sim)
    recordings = [
        (data["call"]["recordingState"], _seq_of(ext))
        for _, _, data, ext in endpoint.notified
        if data.get("notificationType") == "CallRecordingStateChange"
    ]
    assert [state for state, _ in recordings] == [
        "Recording",
        "Recording",
        "Stopped",
        "Stopped",
    ] * 5
    assert len({seq for _, seq in recordings}) == 20
    actions = [r["action"] for r in _truth_rows(sim) if r["recording_state"] and r["call_id"]]
    assert actions.count("duplicated") == 10


async def test_delay_share_adds_the_extra_delay(start_sim: StartSim, tmp_path: Path) -> None:
    sim = await start_sim(delay_share=1.0, delay_ms=80.0, truth_log=tmp_path / "t.csv")
    agent = sim.agent()
    call_id = await agent.established_call()
    await _record_cycles(agent, call_id, 2)
    await _drain(sim)
    rows = _truth_rows(sim)
    delays = [
        float(r["delay_ms"]) for r in rows if r["notification_type"] == "CallRecordingStateChange"
    ]
    assert len(delays) == 4 and min(delays) >= 80.0


class _TimedEndpoint(RecordingEndpoint):
    """Also keeps when (wall clock) each notification was handed over."""

    def __init__(self) -> None:
        super().__init__()
        self.at_s: list[float] = []

    def notify(
        self, user_id: str, channel: str, data: dict[str, Any], ext: dict[str, Any] | None = None
    ) -> int:
        self.at_s.append(time.time())
        return super().notify(user_id, channel, data, ext)


async def test_delivery_delay_holds_notifications_after_their_stamp(
    start_sim: StartSim, tmp_path: Path
) -> None:
    endpoint = _TimedEndpoint()
    sim = await start_sim(delivery_delay_ms=60.0, truth_log=tmp_path / "t.csv", endpoint=endpoint)
    agent = sim.agent()
    call_id = await agent.established_call()
    await _record_cycles(agent, call_id, 3)
    await _drain(sim)
    for _ in range(100):  # the last ones are still held by the delivery delay
        if len(endpoint.notified) == len(_truth_rows(sim)):
            break
        await asyncio.sleep(0.01)
    by_seq = {int(r["seq"]): r for r in _truth_rows(sim)}
    assert len(endpoint.notified) == len(by_seq) >= 6
    for (_, _, data, ext), at_s in zip(endpoint.notified, endpoint.at_s, strict=True):
        row = by_seq[_seq_of(ext)]
        generated_ms = data["metrics"]["eventProcessing"]["serverGenerationTimestamp"]
        # the stamp is the truth log's instant (the server's time is unchanged) ...
        assert 0 <= float(row["ts"]) * 1000 - generated_ms < 1.001
        # ... and the hand-over to CometD comes the delivery delay later
        assert at_s * 1000 - generated_ms >= 59.0
    # the modelled delay (accepted -> stamped) is not the delivery delay
    assert all(float(r["delay_ms"]) < 50.0 for r in by_seq.values())


async def test_http_error_share_fails_operations_without_changing_state(
    start_sim: StartSim,
) -> None:
    endpoint = RecordingEndpoint()
    sim = await start_sim(http_error_share=0.5, seed=3, endpoint=endpoint)
    agent = sim.agent()
    call_id = await agent.established_call()
    statuses: list[int] = []
    expected_state = "Stopped"
    for _ in range(60):
        operation = "StartCallRecording" if expected_state == "Stopped" else "StopCallRecording"
        status, body, _ = await agent.request(
            "POST", f"/api/v2/me/calls/{call_id}", {"operationName": operation}
        )
        statuses.append(status)
        if status == 503:
            assert body == {
                "statusCode": 4,
                "statusMessage": "Voice service is not available at this time",
            }
        else:
            assert status == 200
            expected_state = "Recording" if expected_state == "Stopped" else "Stopped"
        _, current, _ = await agent.request("GET", f"/api/v2/me/calls/{call_id}")
        assert current["call"]["recordingState"] == expected_state
    assert 10 <= statuses.count(503) <= 50
    await _drain(sim)
    recording = [
        e for e in endpoint.notified if e[2].get("notificationType") == "CallRecordingStateChange"
    ]
    assert len(recording) == statuses.count(200)


async def test_a_stall_holds_notifications_and_keeps_their_order(start_sim: StartSim) -> None:
    sim = await start_sim()
    agent = sim.agent()
    call_id = await agent.established_call()
    sim.node.publisher.stall(0.15)
    mark = len(sim.published)
    await _record_cycles(agent, call_id, 3)
    await _drain(sim)
    held = sim.published[mark:]
    assert [p.notification.recording_state for p in held] == ["Recording", "Stopped"] * 3
    assert min(p.delay_ms for p in held) > 0.0
    assert max(p.delay_ms for p in held) >= 100.0  # the first was held for most of the stall


async def test_periodic_stalls_and_session_expiry_run(start_sim: StartSim) -> None:
    endpoint = RecordingEndpoint()
    sim = await start_sim(
        stall_every_s=0.05, stall_ms=30.0, expire_sessions_every_s=0.05, endpoint=endpoint
    )
    agent = sim.agent("agent0003")
    await agent.login()
    deadline = asyncio.get_running_loop().time() + 5.0
    while len(endpoint.expired) < 3 and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.02)
    # only agent0003 has a contact-center session, so it is the one that loses its CometD sessions
    assert endpoint.expired[:3] == [agent.agent.user_id if agent.agent else ""] * 3
    assert sim.node.publisher.stalls >= 1


async def test_async_error_share_accepts_then_publishes_an_error_message(
    start_sim: StartSim, tmp_path: Path
) -> None:
    sim = await start_sim(async_error_share=1.0, truth_log=tmp_path / "t.csv")
    agent = sim.agent()
    call_id = await agent.established_call()
    mark = len(sim.published)
    await agent.post_ok(f"/api/v2/me/calls/{call_id}", {"operationName": "StartCallRecording"})
    error = await sim.wait_published(lambda p: p.notification.call_id == call_id, start=mark)
    data = error.notification.data
    assert error.notification.channel == "/v2/me/calls"
    assert data["messageType"] == "ErrorMessage" and data["callId"] == call_id
    assert data["operationName"] == "StartCallRecording" and data["errorMessage"]
    _, current, _ = await agent.request("GET", f"/api/v2/me/calls/{call_id}")
    assert current["call"]["recordingState"] == "Stopped"
    # still only StartCallRecording is allowed: the failed operation changed nothing
    status, body, _ = await agent.request(
        "POST", f"/api/v2/me/calls/{call_id}", {"operationName": "StopCallRecording"}
    )
    assert (status, body["statusCode"]) == (400, 2)
    await _drain(sim)
    rows = _truth_rows(sim)
    assert [r["notification_type"] for r in rows if r["call_id"] == call_id][-1] == "ErrorMessage"


class _FlakyEndpoint(RecordingEndpoint):
    """Fails on its first notification."""

    def notify(
        self, user_id: str, channel: str, data: dict[str, Any], ext: dict[str, Any] | None = None
    ) -> int:
        if not self.notified:
            self.notified.append((user_id, channel, {"failed": True}, ext))
            raise RuntimeError("endpoint bug")
        return super().notify(user_id, channel, data, ext)


async def test_a_failing_delivery_does_not_stop_the_publisher(
    start_sim: StartSim, caplog: pytest.LogCaptureFixture
) -> None:
    endpoint = _FlakyEndpoint()
    sim = await start_sim(endpoint=endpoint)
    agent = sim.agent()
    call_id = await agent.established_call()  # the login notification hits the bug
    await _record_cycles(agent, call_id, 1)
    await _drain(sim)
    assert "endpoint bug" in caplog.text
    states = [d["call"].get("recordingState") for _, _, d, _ in endpoint.notified if "call" in d]
    assert states[-2:] == ["Recording", "Stopped"]
