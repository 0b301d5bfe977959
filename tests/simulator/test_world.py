"""The world model on its own: state machine, exact capabilities, refusals change nothing."""

from __future__ import annotations

import random
from typing import Any

import pytest

from gwsload.simulator.agents import generate_accounts
from gwsload.simulator.world import (
    Agent,
    ApiError,
    CallState,
    RecordingState,
    World,
    capabilities_of,
)

T0 = 1_795_952_117.0
ESTABLISHED = [
    "SingleStepTransfer", "InitiateConference", "Hold", "SingleStepConference",
    "InitiateTransfer", "SendDtmf", "DeleteUserData", "AttachUserData",
    "DeleteUserDataPair", "Hangup", "UpdateUserData",
]  # fmt: skip
HELD = [
    "SingleStepTransfer", "InitiateConference", "Retrieve", "SingleStepConference",
    "InitiateTransfer", "DeleteUserData", "AttachUserData", "DeleteUserDataPair", "Hangup",
    "UpdateUserData",
]  # fmt: skip


def _world() -> tuple[World, Agent]:
    world = World(generate_accounts(3, "pw"), rng=random.Random(1), api_base="http://gws/api/v2")
    agent = world.agents["agent0001"]
    world.start_session(agent, {"channels": ["voice"]}, T0)
    return world, agent


def _established(world: World, agent: Agent) -> str:
    call, _ = world.dial(agent, agent.device_id, {"destination": {"phoneNumber": "15002"}}, T0)
    world.far_end_answers(call.id, T0 + 1)
    return call.id


def _op(world: World, agent: Agent, call_id: str, name: str, now: float = T0 + 2) -> Any:
    return world.call_operation(agent, call_id, {"operationName": name}, now)


def test_exact_capability_lists() -> None:
    assert capabilities_of(CallState.DIALING, None) == [
        "SendDtmf", "DeleteUserData", "AttachUserData", "DeleteUserDataPair", "Hangup",
        "UpdateUserData",
    ]  # fmt: skip
    assert capabilities_of(CallState.ESTABLISHED, None) == ESTABLISHED
    assert capabilities_of(CallState.ESTABLISHED, RecordingState.STOPPED) == [
        *ESTABLISHED, "StartCallRecording",
    ]  # fmt: skip
    assert capabilities_of(CallState.ESTABLISHED, RecordingState.RECORDING) == [
        *ESTABLISHED, "PauseCallRecording", "StopCallRecording",
    ]  # fmt: skip
    assert capabilities_of(CallState.ESTABLISHED, RecordingState.PAUSED) == [
        *ESTABLISHED, "ResumeCallRecording", "StopCallRecording",
    ]  # fmt: skip
    assert capabilities_of(CallState.HELD, None) == HELD
    assert capabilities_of(CallState.RELEASED, RecordingState.RECORDING) == []


def test_recording_cycle_and_user_data() -> None:
    world, agent = _world()
    call_id = _established(world, agent)
    [start] = _op(world, agent, call_id, "StartCallRecording")
    file_name = start.data["call"]["userData"]["GSIP_REC_FN"]
    assert file_name.startswith(f"{call_id}_10001_10001_15002_")
    assert start.recording_state == "Recording" and start.is_recording
    [pause] = _op(world, agent, call_id, "PauseCallRecording")
    assert pause.data["call"]["userData"]["GSIP_RECORD"] == "PAUSED"
    [stop] = _op(world, agent, call_id, "StopCallRecording")
    assert stop.data["call"]["userData"] == {"GSIP_RECORD": "OFF", "GSIP_REC_FN": file_name}
    [again] = _op(world, agent, call_id, "StartCallRecording", T0 + 40)
    assert again.data["call"]["userData"]["GSIP_REC_FN"] == file_name
    assert again.data["call"]["duration"] == "39"  # seconds since established, as a string


@pytest.mark.parametrize(
    "operation", ["StopCallRecording", "ResumeCallRecording", "Retrieve", "Answer", "Nonsense"]
)
def test_a_refused_operation_changes_nothing(operation: str) -> None:
    world, agent = _world()
    call_id = _established(world, agent)
    before = world.call_payload(agent, agent.calls[call_id], T0 + 2)
    with pytest.raises(ApiError) as refused:
        _op(world, agent, call_id, operation)
    assert (refused.value.status_code, refused.value.http_status) == (2, 400)
    assert world.call_payload(agent, agent.calls[call_id], T0 + 2) == before


def test_hangup_while_recording_releases_and_stops_the_recording() -> None:
    world, agent = _world()
    call_id = _established(world, agent)
    _op(world, agent, call_id, "StartCallRecording")
    [released] = _op(world, agent, call_id, "Hangup")
    call = released.data["call"]
    assert (call["state"], call["capabilities"], call["recordingState"]) == (
        "Released",
        [],
        "Stopped",
    )
    assert call["userData"]["GSIP_RECORD"] == "OFF"
    assert call_id not in agent.calls
    with pytest.raises(ApiError) as gone:
        _op(world, agent, call_id, "Hangup")
    assert (gone.value.status_code, gone.value.http_status) == (6, 404)


def test_hangup_while_dialing_means_the_far_end_never_answers() -> None:
    world, agent = _world()
    call, [dialing] = world.dial(agent, agent.device_id, {"destination": {"phoneNumber": "1"}}, T0)
    assert dialing.data["call"]["state"] == "Dialing"
    assert "recordingState" not in dialing.data["call"]
    _op(world, agent, call.id, "Hangup")
    assert world.far_end_answers(call.id, T0 + 1) == []


def test_limits_and_required_state() -> None:
    world, agent = _world()
    idle = world.agents["agent0002"]
    with pytest.raises(ApiError, match="StartContactCenterSession"):
        world.dial(idle, idle.device_id, {"destination": {"phoneNumber": "1"}}, T0)
    for _ in range(16):
        world.dial(agent, agent.device_id, {"destination": {"phoneNumber": "1"}}, T0)
    with pytest.raises(ApiError, match="Too many calls"):
        world.dial(agent, agent.device_id, {"destination": {"phoneNumber": "1"}}, T0)
    assert len({*agent.calls}) == 16 and all(len(call_id) == 32 for call_id in agent.calls)


def test_agent_states_and_device_payload() -> None:
    world, agent = _world()
    [ready] = world.set_user_state(agent, "Ready")
    device = ready.data["devices"][0]
    assert (
        ready.channel == "/v2/me/devices"
        and ready.data["messageType"] == "DeviceStateChangeMessage"
    )
    assert device["userState"]["state"] == "Ready" and device["deviceState"] == "Active"
    [acw] = world.set_user_state(agent, "AfterCallWork")
    assert acw.data["devices"][0]["userState"]["workMode"] == "AfterCallWork"
    with pytest.raises(ApiError) as bad:
        world.set_user_state(agent, "Sleeping")
    assert bad.value.status_code == 10
    world.end_session(agent)
    assert world.device_payload(agent)["deviceState"] == "Inactive"


def test_ids_are_stable_per_username_and_seeded_per_call() -> None:
    first, agent_a = _world()
    second, agent_b = _world()
    assert agent_a.user_id == agent_b.user_id and agent_a.device_id == agent_b.device_id
    assert _established(first, agent_a) == _established(second, agent_b)


def test_a_call_between_two_agents_rings_and_is_answered() -> None:
    world, caller = _world()
    callee = world.agents["agent0002"]
    world.start_session(callee, {"channels": ["voice"]}, T0)
    call, [dialing, ringing] = world.dial(
        caller, caller.device_id, {"destination": {"phoneNumber": callee.dn}}, T0
    )
    assert dialing.agent == "agent0001" and ringing.agent == "agent0002"
    inbound = ringing.data["call"]
    assert (inbound["state"], inbound["callType"]) == ("Ringing", "Internal")
    assert inbound["participants"][0]["phoneNumber"] == caller.dn and inbound["dnis"] == callee.dn
    assert inbound["capabilities"] == capabilities_of(CallState.RINGING, None)
    assert "Answer" in inbound["capabilities"] and "recordingState" not in inbound
    assert call.peer_id == inbound["id"]
    # the caller cannot answer its own outbound leg
    with pytest.raises(ApiError):
        _op(world, caller, call.id, "Answer")
    answered = _op(world, callee, inbound["id"], "Answer")
    assert [(n.agent, n.data["call"]["state"]) for n in answered] == [
        ("agent0002", "Established"), ("agent0001", "Established"),
    ]  # fmt: skip
    # each leg records on its own
    _op(world, callee, inbound["id"], "StartCallRecording")
    assert caller.calls[call.id].recording is RecordingState.STOPPED
    released = _op(world, caller, call.id, "Hangup")
    assert [(n.agent, n.data["call"]["state"]) for n in released] == [
        ("agent0001", "Released"), ("agent0002", "Released"),
    ]  # fmt: skip
    assert released[1].data["call"]["recordingState"] == "Stopped"
    assert caller.calls == {} and callee.calls == {}


def test_dialling_an_agent_without_a_session_is_answered_by_the_far_end() -> None:
    world, caller = _world()
    call, notifications = world.dial(
        caller, caller.device_id, {"destination": {"phoneNumber": "10003"}}, T0
    )
    assert len(notifications) == 1 and call.peer_id is None
    assert [n.data["call"]["state"] for n in world.far_end_answers(call.id, T0)] == ["Established"]
