"""The failures real deployments show, each seeded and each counted in the truth log:
recording unavailable for a share of agents, dial destinations busy or not answering,
throttled recording operations (HTTP 429/503 with Retry-After)."""

from __future__ import annotations

import asyncio
import csv
from collections import Counter
from pathlib import Path

import pytest
from simhelpers import Sim, StartSim

from gwsload.errors import ConfigError
from gwsload.simulator.options import SimulatorOptions

AGENTS = 40


def _truth(sim: Sim) -> list[dict[str, str]]:
    assert sim.node.truth is not None
    sim.node.truth.flush()
    with sim.node.truth.path.open(newline="") as handle:
        return list(csv.DictReader(handle))


async def _try_start(sim: Sim, username: str) -> tuple[int, dict[str, object], list[str]]:
    """Establish a call and ask to record it: (HTTP status, body, the call's capabilities)."""
    agent = sim.agent(username)
    call_id = await agent.established_call()
    _, payload, _ = await agent.request("GET", f"/api/v2/me/calls/{call_id}")
    capabilities: list[str] = payload["call"]["capabilities"]
    status, body, _ = await agent.request(
        "POST", f"/api/v2/me/calls/{call_id}", {"operationName": "StartCallRecording"}
    )
    return status, body, capabilities


@pytest.mark.asyncio
@pytest.mark.parametrize("refusal", ["refuse", "error"])
async def test_recording_unavailable_for_a_seeded_share_of_agents(
    start_sim: StartSim, tmp_path: Path, refusal: str
) -> None:
    sim = await start_sim(
        agents=AGENTS,
        recording_unavailable_share=0.3,
        recording_unavailable_refusal=refusal,
        seed=11,
        truth_log=tmp_path / "truth.csv",
    )
    unavailable = {a.username for a in sim.node.world.agents.values() if not a.recording_available}
    assert 4 <= len(unavailable) <= 20  # a share of 0.3 over 40 agents, seeded
    for number in range(1, AGENTS + 1):
        username = f"agent{number:04d}"
        status, body, capabilities = await _try_start(sim, username)
        features = (await sim.agent(username).request("GET", "/api/v2/me?subresources=features"))[1]
        if username not in unavailable:
            assert (status, body) == (200, {"statusCode": 0})
            assert "StartCallRecording" in capabilities
            assert "api-voice-recording" in features["user"]["features"]
            continue
        assert "StartCallRecording" not in capabilities
        assert "api-voice-recording" not in features["user"]["features"]
        if refusal == "refuse":  # refused as GWS refuses an operation outside the capabilities
            assert status == 400 and body["statusCode"] == 2
        else:  # accepted, then failed by an ErrorMessage on the call's channel
            assert (status, body) == (200, {"statusCode": 0})
            await sim.wait_published(
                lambda p, u=username: (
                    p.notification.agent == u and p.notification.notification_type == "ErrorMessage"
                )
            )
    rows = _truth(sim)
    action = "recording_refused" if refusal == "refuse" else "recording_failed"
    assert {r["agent"] for r in rows if r["action"] == action} == unavailable
    errors = {r["agent"] for r in rows if r["notification_type"] == "ErrorMessage"}
    assert errors == (unavailable if refusal == "error" else set())


@pytest.mark.asyncio
async def test_same_seed_same_agents_without_recording(start_sim: StartSim) -> None:
    first = await start_sim(agents=AGENTS, recording_unavailable_share=0.5, seed=3)
    second = await start_sim(agents=AGENTS, recording_unavailable_share=0.5, seed=3)

    def without(sim: Sim) -> set[str]:
        return {a.username for a in sim.node.world.agents.values() if not a.recording_available}

    assert without(first) == without(second) and without(first)


@pytest.mark.asyncio
async def test_dial_busy_and_no_answer_release_the_call_as_the_truth_log_says(
    start_sim: StartSim, tmp_path: Path
) -> None:
    sim = await start_sim(
        agents=1,
        answer_delay_ms=5.0,
        dial_busy_share=0.3,
        dial_no_answer_share=0.2,
        dial_no_answer_ms=30.0,
        seed=5,
        truth_log=tmp_path / "truth.csv",
    )
    agent = sim.agent()
    device_id = await agent.login()
    ends: Counter[str] = Counter()
    for _ in range(40):
        call_id = await agent.dial(device_id)
        final = await sim.wait_published(
            lambda p, c=call_id: (
                p.notification.call_id == c
                and p.notification.data["call"]["state"] in ("Established", "Released")
            )
        )
        state = final.notification.data["call"]["state"]
        ends[state] += 1
        if state == "Established":
            await agent.post_ok(f"/api/v2/me/calls/{call_id}", {"operationName": "Hangup"})
            await sim.wait_published(
                lambda p, c=call_id: (
                    p.notification.call_id == c
                    and p.notification.data["call"]["state"] == "Released"
                )
            )
    faults = Counter(r["action"] for r in _truth(sim) if r["notification_type"] == "Dial")
    assert faults["busy"] > 0 and faults["no_answer"] > 0
    assert ends["Released"] == faults["busy"] + faults["no_answer"]
    assert ends["Established"] == 40 - ends["Released"]


@pytest.mark.asyncio
async def test_throttled_recording_operations_get_retry_after(
    start_sim: StartSim, tmp_path: Path
) -> None:
    sim = await start_sim(
        throttle_share=0.25,
        throttle_status=503,
        throttle_retry_after_s=2,
        seed=9,
        truth_log=tmp_path / "truth.csv",
    )
    agent = sim.agent()
    call_id = await agent.established_call()
    throttled = 0
    recording = False
    for _ in range(80):
        operation = "StopCallRecording" if recording else "StartCallRecording"
        status, body, headers = await agent.request(
            "POST", f"/api/v2/me/calls/{call_id}", {"operationName": operation}
        )
        if status == 503:
            throttled += 1
            assert headers["Retry-After"] == "2" and body is None  # nothing changed
        else:
            assert status == 200, body
            recording = not recording
        await asyncio.sleep(0)
    rows = [r for r in _truth(sim) if r["action"] == "throttled"]
    assert 8 <= throttled <= 35 and len(rows) == throttled
    assert {r["notification_type"] for r in rows} <= {"StartCallRecording", "StopCallRecording"}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"throttle_status": 500}, "--throttle-status must be one of [429, 503]"),
        ({"dial_busy_share": 0.6, "dial_no_answer_share": 0.6}, "--dial-no-answer-share must be"),
        ({"recording_unavailable_refusal": "x"}, "--recording-unavailable-refusal must be one of"),
    ],
)
def test_bad_realism_options(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        SimulatorOptions(**overrides).check()  # type: ignore[arg-type]
    assert str(error.value).startswith(message)
