"""The whole agent flow over real HTTP, checked against the notifications the node publishes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from simhelpers import Sim, StartSim

from gwsload.simulator.world import CallState, RecordingState, capabilities_of

ESTABLISHED_BASE = [
    "SingleStepTransfer", "InitiateConference", "Hold", "SingleStepConference",
    "InitiateTransfer", "SendDtmf", "DeleteUserData", "AttachUserData",
    "DeleteUserDataPair", "Hangup", "UpdateUserData",
]  # fmt: skip

pytestmark = pytest.mark.asyncio


async def _next_call_notification(sim: Sim, start: int, call_id: str) -> dict[str, Any]:
    published = await sim.wait_published(lambda p: p.notification.call_id == call_id, start=start)
    assert published.notification.channel == "/v2/me/calls"
    data: dict[str, Any] = published.notification.data
    return data


async def test_full_agent_flow(start_sim: StartSim) -> None:
    sim = await start_sim(agents=3, answer_delay_ms=30)
    agent = sim.agent("agent0002")

    status, me, _ = await agent.request("GET", "/api/v2/me?subresources=*")
    assert status == 200 and me["statusCode"] == 0
    assert me["user"]["userName"] == "agent0002"
    assert len(me["user"]["id"]) == 32 and me["user"]["roles"] == ["ROLE_AGENT"]
    assert me["user"]["devices"][0]["deviceState"] == "Inactive"

    mark = len(sim.published)
    device_id = await agent.login()
    login = await sim.wait_published(
        lambda p: p.notification.channel == "/v2/me/devices", start=mark
    )
    assert login.notification.data["messageType"] == "DeviceStateChangeMessage"
    assert login.notification.data["devices"][0]["deviceState"] == "Active"

    mark = len(sim.published)
    await agent.post_ok("/api/v2/me/channels/voice", {"operationName": "Ready"})
    ready = await sim.wait_published(
        lambda p: p.notification.channel == "/v2/me/devices", start=mark
    )
    assert ready.notification.data["devices"][0]["userState"] == {
        "id": "9430250E-0A1B-421F-B372-F29E69366DED", "displayName": "Ready", "state": "Ready",
    }  # fmt: skip
    assert ready.notification.data["devices"][0]["phoneNumber"] == "10002"

    mark = len(sim.published)
    call_id = await agent.dial(device_id, "15002")
    dialing = await _next_call_notification(sim, mark, call_id)
    assert dialing["notificationType"] == "StatusChange"
    assert dialing["messageType"] == "CallStateChangeMessage"
    assert dialing["phoneNumber"] == "10002"
    assert dialing["call"]["state"] == "Dialing"
    assert dialing["call"]["callType"] == "Internal"
    assert dialing["call"]["capabilities"] == [
        "SendDtmf", "DeleteUserData", "AttachUserData", "DeleteUserDataPair", "Hangup",
        "UpdateUserData",
    ]  # fmt: skip
    assert "recordingState" not in dialing["call"] and "userData" not in dialing["call"]

    established = await sim.wait_published(
        lambda p: (
            p.notification.call_id == call_id
            and p.notification.data["call"]["state"] == "Established"
        )
    )
    call = established.notification.data["call"]
    assert call["capabilities"] == [*ESTABLISHED_BASE, "StartCallRecording"]
    assert call["recordingState"] == "Stopped"
    assert call["duration"] == "0" and isinstance(call["duration"], str)
    assert (
        call["uri"].endswith(f"/api/v2/me/calls/{call_id}") and call["path"] == f"/calls/{call_id}"
    )

    expected = [
        ("StartCallRecording", "Recording", "ON", ["PauseCallRecording", "StopCallRecording"]),
        ("PauseCallRecording", "Paused", "PAUSED", ["ResumeCallRecording", "StopCallRecording"]),
        ("ResumeCallRecording", "Recording", "ON", ["PauseCallRecording", "StopCallRecording"]),
        ("StopCallRecording", "Stopped", "OFF", ["StartCallRecording"]),
    ]
    for operation, state, gsip, recording_caps in expected:
        mark = len(sim.published)
        await agent.post_ok(f"/api/v2/me/calls/{call_id}", {"operationName": operation})
        data = await _next_call_notification(sim, mark, call_id)
        assert data["notificationType"] == "CallRecordingStateChange", operation
        assert data["call"]["state"] == "Established"
        assert data["call"]["recordingState"] == state
        assert data["call"]["userData"]["GSIP_RECORD"] == gsip
        assert data["call"]["userData"]["GSIP_REC_FN"].startswith(f"{call_id}_10002_")
        assert data["call"]["capabilities"] == [*ESTABLISHED_BASE, *recording_caps]

    status, single, _ = await agent.request("GET", f"/api/v2/me/calls/{call_id}")
    assert status == 200 and single["call"]["recordingState"] == "Stopped"

    mark = len(sim.published)
    await agent.post_ok(f"/api/v2/me/calls/{call_id}", {"operationName": "Hold"})
    held = await _next_call_notification(sim, mark, call_id)
    assert held["call"]["state"] == "Held"
    assert held["call"]["capabilities"] == capabilities_of(CallState.HELD, RecordingState.STOPPED)
    assert "Retrieve" in held["call"]["capabilities"] and "Hold" not in held["call"]["capabilities"]
    await agent.post_ok(f"/api/v2/me/calls/{call_id}", {"operationName": "Retrieve"})

    mark = len(sim.published)
    await agent.post_ok(f"/api/v2/me/calls/{call_id}", {"operationName": "Hangup"})
    released = await sim.wait_published(
        lambda p: (
            p.notification.call_id == call_id and p.notification.data["call"]["state"] == "Released"
        ),
        start=mark,
    )
    assert released.notification.data["call"]["capabilities"] == []
    status, body, _ = await agent.request("GET", "/api/v2/me/calls")
    assert (status, body) == (200, {"statusCode": 0, "uris": []})

    await agent.post_ok("/api/v2/me", {"operationName": "EndContactCenterSession"})
    # the HTTP session is gone: the cookie alone no longer authenticates
    status, body, _ = await agent.request("GET", "/api/v2/me", auth=False)
    assert (status, body["statusCode"]) == (401, 20)


async def test_notifications_carry_publish_stamps_in_order(start_sim: StartSim) -> None:
    sim = await start_sim(latency_model="lognormal", latency_ms=2.0, latency_p99_ms=20.0)
    agent = sim.agent()
    call_id = await agent.established_call()
    for _ in range(10):
        await agent.post_ok(f"/api/v2/me/calls/{call_id}", {"operationName": "StartCallRecording"})
        await agent.post_ok(f"/api/v2/me/calls/{call_id}", {"operationName": "StopCallRecording"})
    await sim.wait_published(
        lambda p: p.seq == len(sim.published) and sim.node.publisher.pending == 0
    )
    recording = [p for p in sim.published if p.notification.is_recording]
    # one agent's notifications never overtake each other, whatever latency each one drew
    assert [p.notification.recording_state for p in recording] == ["Recording", "Stopped"] * 10
    seqs = [p.seq for p in sim.published]
    assert seqs == sorted(seqs) == list(range(1, len(seqs) + 1))
    stamps = [p.ts for p in sim.published]
    assert stamps == sorted(stamps)


async def test_calls_listing_and_device_listing(start_sim: StartSim) -> None:
    sim = await start_sim()
    agent = sim.agent()
    call_id = await agent.established_call()
    status, body, _ = await agent.request("GET", "/api/v2/me/calls")
    assert status == 200 and body["uris"] == [f"{sim.url}/api/v2/me/calls/{call_id}"]
    status, body, _ = await agent.request("GET", "/api/v2/me/calls?fields=*")
    assert [c["id"] for c in body["calls"]] == [call_id]
    assert body["calls"][0]["state"] == "Established"
    status, body, _ = await agent.request("GET", "/api/v2/me/devices")
    assert status == 200 and body["uris"][0].startswith(f"{sim.url}/api/v2/devices/")
    status, body, _ = await agent.request("GET", "/api/v2/diagnostics/version", auth=False)
    assert (status, body) == (200, {"statusCode": 0, "version": "8.5.200.50"})


async def test_user_data_operations_notify_attached_data_changed(start_sim: StartSim) -> None:
    sim = await start_sim()
    agent = sim.agent()
    call_id = await agent.established_call()
    mark = len(sim.published)
    await agent.post_ok(
        f"/api/v2/me/calls/{call_id}", {"operationName": "AttachUserData", "userData": {"k": "v"}}
    )
    data = await _next_call_notification(sim, mark, call_id)
    assert data["notificationType"] == "AttachedDataChanged"
    assert data["call"]["userData"] == {"k": "v"}


async def test_agent_to_agent_call_over_http(start_sim: StartSim) -> None:
    sim = await start_sim()
    caller, callee = sim.agent("agent0001"), sim.agent("agent0002")
    await callee.login()
    device_id = await caller.login()
    call_id = await caller.dial(device_id, "10002")
    ringing = await sim.wait_published(
        lambda p: (
            p.notification.agent == "agent0002"
            and p.notification.data.get("call", {}).get("state") == "Ringing"
        )
    )
    inbound_id = ringing.notification.call_id
    await asyncio.sleep(0.1)  # longer than the answer delay: nobody answers for a simulated agent
    _, body, _ = await caller.request("GET", f"/api/v2/me/calls/{call_id}")
    assert body["call"]["state"] == "Dialing"
    mark = len(sim.published)
    await callee.post_ok(f"/api/v2/me/calls/{inbound_id}", {"operationName": "Answer"})
    await sim.wait_published(
        lambda p: (
            p.notification.call_id == call_id
            and p.notification.data["call"]["state"] == "Established"
        ),
        start=mark,
    )
    await callee.post_ok(f"/api/v2/me/calls/{inbound_id}", {"operationName": "Hangup"})
    released = await sim.wait_published(
        lambda p: (
            p.notification.call_id == call_id and p.notification.data["call"]["state"] == "Released"
        ),
        start=mark,
    )
    assert released.notification.agent == "agent0001"
