"""Every error path of the REST API answers the way GWS does, never with a stack trace."""

from __future__ import annotations

from typing import Any, NoReturn

import pytest
from simhelpers import StartSim

pytestmark = pytest.mark.asyncio


async def test_unauthenticated_requests_get_status_20(start_sim: StartSim) -> None:
    sim = await start_sim()
    nobody = sim.agent()
    status, body, headers = await nobody.request("GET", "/api/v2/me", auth=False)
    assert (status, body) == (401, {"statusCode": 20, "statusMessage": "Access denied"})
    assert headers["WWW-Authenticate"].startswith("Basic")
    wrong = sim.agent("agent0001", "not-the-password")
    status, body, _ = await wrong.request("GET", "/api/v2/me")
    assert (status, body["statusCode"]) == (401, 20)
    stranger = sim.agent("nobody", "gwsload")
    status, body, _ = await stranger.request(
        "POST", "/api/v2/me/calls/X", {"operationName": "Hangup"}
    )
    assert (status, body["statusCode"]) == (401, 20)
    status, body, _ = await nobody.request(
        "GET", "/api/v2/me", auth=False, headers={"Authorization": "Basic %%%not-base64"}
    )
    assert (status, body["statusCode"]) == (401, 20)
    # the CometD path is protected as well
    status, body, _ = await nobody.request("POST", "/api/v2/notifications", [], auth=False)
    assert (status, body["statusCode"]) == (401, 20)


async def test_missing_operation_and_bad_bodies(start_sim: StartSim) -> None:
    sim = await start_sim()
    agent = sim.agent()
    call_id = await agent.established_call()
    path = f"/api/v2/me/calls/{call_id}"
    cases: list[tuple[dict[str, Any], bytes | None, int]] = [
        ({}, None, 1),  # no operationName
        ({}, b"", 1),  # no body at all
        ({}, b"{not json", 10),
        ({}, b"[1, 2]", 10),
        ({"operationName": 42}, None, 10),
    ]
    for body, raw, code in cases:
        status, reply, _ = await agent.request(
            "POST", path, body if raw is None else None, data=raw
        )
        assert (status, reply["statusCode"]) == (400, code), (body, raw, reply)
        assert reply["statusMessage"]
    device_id = agent.agent.device_id if agent.agent else ""
    status, reply, _ = await agent.request(
        "POST", f"/api/v2/me/devices/{device_id}/calls", {"operationName": "Dial"}
    )
    assert (status, reply["statusCode"]) == (400, 1)
    assert "destination" in reply["statusMessage"]


async def test_operation_outside_capabilities_is_status_2_and_changes_nothing(
    start_sim: StartSim,
) -> None:
    sim = await start_sim()
    agent = sim.agent()
    call_id = await agent.established_call()
    before = len(sim.published)
    for operation in ("StopCallRecording", "PauseCallRecording", "Retrieve", "Answer", "Bogus"):
        status, reply, _ = await agent.request(
            "POST", f"/api/v2/me/calls/{call_id}", {"operationName": operation}
        )
        assert (status, reply["statusCode"]) == (400, 2), operation
        assert operation in reply["statusMessage"]
    status, body, _ = await agent.request("GET", f"/api/v2/me/calls/{call_id}")
    assert body["call"]["recordingState"] == "Stopped"
    assert len(sim.published) == before


async def test_unknown_call_and_unknown_paths_are_status_6(start_sim: StartSim) -> None:
    sim = await start_sim()
    agent = sim.agent()
    await agent.login()
    status, reply, _ = await agent.request(
        "POST", "/api/v2/me/calls/NOSUCHCALL", {"operationName": "StartCallRecording"}
    )
    assert (status, reply["statusCode"]) == (404, 6)
    status, reply, _ = await agent.request("GET", "/api/v2/me/calls/NOSUCHCALL")
    assert (status, reply["statusCode"]) == (404, 6)
    status, reply, _ = await agent.request("GET", "/api/v2/no/such/thing")
    assert (status, reply["statusCode"]) == (404, 6)
    status, reply, _ = await agent.request(
        "POST", "/api/v2/me/devices/not-my-device/calls",
        {"operationName": "Dial", "destination": {"phoneNumber": "1"}},
    )  # fmt: skip
    assert (status, reply["statusCode"]) == (404, 6)


async def test_calls_of_another_agent_are_not_found(start_sim: StartSim) -> None:
    sim = await start_sim()
    owner = sim.agent("agent0001")
    call_id = await owner.established_call()
    other = sim.agent("agent0002")
    status, reply, _ = await other.request(
        "POST", f"/api/v2/me/calls/{call_id}", {"operationName": "Hangup"}
    )
    assert (status, reply["statusCode"]) == (404, 6)


async def test_voice_operations_need_a_contact_center_session(start_sim: StartSim) -> None:
    sim = await start_sim()
    agent = sim.agent()
    status, reply, _ = await agent.request(
        "POST", "/api/v2/me/channels/voice", {"operationName": "Ready"}
    )
    assert (status, reply["statusCode"]) == (400, 2)
    assert "StartContactCenterSession" in reply["statusMessage"]
    status, reply, _ = await agent.request(
        "POST", "/api/v2/me", {"operationName": "StartContactCenterSession"}
    )
    assert (status, reply["statusCode"]) == (400, 1)
    status, reply, _ = await agent.request("POST", "/api/v2/me", {"operationName": "Dance"})
    assert (status, reply["statusCode"]) == (400, 10)


async def test_voice_service_down_gives_503_status_4(start_sim: StartSim) -> None:
    sim = await start_sim()
    agent = sim.agent()
    call_id = await agent.established_call()
    sim.node.world.voice_available = False
    status, reply, _ = await agent.request(
        "POST", f"/api/v2/me/calls/{call_id}", {"operationName": "StartCallRecording"}
    )
    assert status == 503
    assert reply == {
        "statusCode": 4,
        "statusMessage": "Voice service is not available at this time",
    }
    status, reply, _ = await agent.request("GET", f"/api/v2/me/calls/{call_id}")
    assert status == 200 and reply["call"]["recordingState"] == "Stopped"
    sim.node.world.voice_available = True
    await agent.post_ok(f"/api/v2/me/calls/{call_id}", {"operationName": "StartCallRecording"})


async def test_voice_down_option_refuses_login(start_sim: StartSim) -> None:
    sim = await start_sim(voice_down=True)
    agent = sim.agent()
    status, reply, _ = await agent.request(
        "POST", "/api/v2/me", {"operationName": "StartContactCenterSession", "channels": ["voice"]}
    )
    assert (status, reply["statusCode"]) == (503, 4)


async def test_an_unexpected_exception_becomes_500_status_4(
    start_sim: StartSim, caplog: pytest.LogCaptureFixture
) -> None:
    sim = await start_sim()
    agent = sim.agent()
    call_id = await agent.established_call()

    def broken(*args: object, **kwargs: object) -> NoReturn:
        raise RuntimeError("boom")

    sim.node.world.call_operation = broken  # type: ignore[method-assign]
    status, reply, _ = await agent.request(
        "POST", f"/api/v2/me/calls/{call_id}", {"operationName": "StartCallRecording"}
    )
    assert (status, reply) == (500, {"statusCode": 4, "statusMessage": "Internal server error"})
    assert "boom" in caplog.text
