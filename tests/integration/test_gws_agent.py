"""The agent flow end to end against the real simulator, over both CometD transports:
login, call set-up, recording cycles matched with their notifications, recovery of a
leftover call, and the fault outcomes (lost, late, duplicate)."""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Iterator

import pytest

from gwsload.cometd import Incident
from gwsload.gws.agent import Agent, AgentConfig
from gwsload.gws.outcomes import Anomaly, Outcome
from gwsload.gws.session import Response
from gwsload.simulator.process import SimulatorProcess

pytestmark = pytest.mark.gevent

TRANSPORTS = ["long-polling", "websocket"]


class Collected:
    def __init__(self) -> None:
        self.outcomes: list[Outcome] = []
        self.anomalies: list[Anomaly] = []
        self.requests: list[tuple[str, int]] = []

    def on_request(self, operation: str, response: Response | None, _: Exception | None) -> None:
        self.requests.append((operation, response.http_status if response else 0))

    def agent(self, url: str, user: str, transport: str, **options: float | str) -> Agent:
        config = AgentConfig(base_url=url, user=user, password="gwsload", transport=transport,
                             **options)  # type: ignore[arg-type]  # fmt: skip
        return Agent(
            config,
            on_outcome=self.outcomes.append,
            on_anomaly=self.anomalies.append,
            on_request=self.on_request,
        )

    def kinds(self) -> Counter[str]:
        return Counter(o.kind for o in self.outcomes) + Counter(a.kind for a in self.anomalies)


@pytest.fixture(scope="module")
def sim() -> Iterator[str]:
    args = ["--websocket", "--agents", "20", "--latency-ms", "2", "--answer-delay-ms", "50"]
    with SimulatorProcess(args) as s:
        yield s.url


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_recording_cycles_all_match(sim: str, transport: str) -> None:
    got = Collected()
    user = "agent0001" if transport == "long-polling" else "agent0002"
    agent = got.agent(sim, user, transport)
    try:
        agent.login()
        call_id = agent.establish_call()
        assert agent.call_state(call_id) == "Established"
        for _ in range(50):
            agent.record("StartCallRecording")
            assert agent.recording_state == "Recording"
            agent.record("StopCallRecording")
        agent.record("StartCallRecording")
        agent.record("PauseCallRecording")
        assert agent.recording_state == "Paused"
        agent.record("ResumeCallRecording")
        agent.record("StopCallRecording")
        agent.hangup()
        assert agent.call_id is None and call_id not in agent.calls
    finally:
        agent.logout()
    assert got.kinds() == Counter(ok=104)
    ops = [o.operation for o in got.outcomes]
    assert ops[:2] == ["StartCallRecording", "StopCallRecording"]
    for o in got.outcomes:
        assert o.call_id == call_id and o.agent == user
        assert 0 < o.response_ms < 5000 and 0 < o.notify_ms < 5000
        assert o.server_seq > 0 and not math.isnan(o.publish_lag_ms)
    seqs = [o.server_seq for o in got.outcomes]
    assert seqs == sorted(seqs)
    names = [name for name, _ in got.requests]
    assert names[:4] == ["GetMe", "CometdHandshake", "StartContactCenterSession", "GetCalls"]
    assert {"Ready", "Dial", "Hangup", "EndContactCenterSession"} <= set(names)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_leftover_call_is_recovered(sim: str, transport: str) -> None:
    got = Collected()
    user = "agent0003" if transport == "long-polling" else "agent0004"
    first = got.agent(sim, user, transport)
    first.login()
    call_id = first.establish_call()
    first.record("StartCallRecording")
    # the load generator dies: no hangup, no logout; only its sockets go away
    first.cometd.close()
    first.session.close()

    second = got.agent(sim, user, transport)
    try:
        second.login()
        assert second.call_id == call_id
        assert second.recording_state == "Recording"  # read from GET /me/calls
        assert second.establish_call() == call_id  # reused, not dialled again
        second.record("StopCallRecording")
        second.hangup()
    finally:
        second.logout()
    assert [o.kind for o in got.outcomes] == ["ok", "ok"]
    assert "Dial" not in [name for name, _ in got.requests[got.requests.index(("GetMe", 200), 1) :]]


def test_dropped_notifications_are_lost_and_delayed_ones_late() -> None:
    args = ["--websocket", "--agents", "2", "--latency-ms", "1", "--answer-delay-ms", "20",
            "--seed", "7",
            "--drop-share", "0.3", "--delay-share", "0.2", "--delay-ms", "600"]  # fmt: skip
    got = Collected()
    with SimulatorProcess(args) as s:
        agent = got.agent(s.url, "agent0001", "long-polling", notification_timeout_s=0.3)
        try:
            agent.login()
            agent.establish_call()
            for _ in range(15):
                agent.record("StartCallRecording")
                agent.record("StopCallRecording")
            agent.expire()
        finally:
            agent.logout()
    kinds = got.kinds()
    assert kinds["ok"] + kinds["lost"] + kinds["api_error"] == 30
    assert kinds["lost"] > 0 and kinds["late"] > 0
    assert kinds["unexpected"] == 0
    late = [a for a in got.anomalies if a.kind == "late"]
    assert all(a.age_ms > 300 for a in late)


def test_duplicated_notifications_are_reported() -> None:
    args = ["--websocket", "--agents", "1", "--latency-ms", "1", "--answer-delay-ms", "20",
            "--duplicate-share", "1.0"]  # fmt: skip
    got = Collected()
    with SimulatorProcess(args) as s:
        agent = got.agent(s.url, "agent0001", "websocket")
        try:
            agent.login()
            agent.establish_call()
            for _ in range(5):
                agent.record("StartCallRecording")
                agent.record("StopCallRecording")
            agent.hangup()
        finally:
            agent.logout()
    assert got.kinds() == Counter(ok=10, duplicate=10)
    assert {a.operation for a in got.anomalies} == {"StartCallRecording", "StopCallRecording"}


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_csrf_and_origin_protected_node(transport: str) -> None:
    origin = "http://desktop.example:8090"
    args = ["--websocket", "--agents", "1", "--latency-ms", "1", "--answer-delay-ms", "20",
            "--csrf", "--require-origin", origin]  # fmt: skip
    got = Collected()
    with SimulatorProcess(args) as s:
        agent = got.agent(s.url, "agent0001", transport, origin=origin)
        try:
            agent.login()
            agent.establish_call()
            agent.record("StartCallRecording")
            agent.session.csrf = None  # as after a renewed HTTP session: refused, then refreshed
            agent.record("StopCallRecording")
            agent.hangup()
        finally:
            agent.logout()
    assert [o.kind for o in got.outcomes] == ["ok", "ok"]
    assert ("StopCallRecording", 403) in got.requests  # the refusal was seen and reported
    assert got.outcomes[1].http_status == 200


def test_agent_keeps_working_through_cometd_session_expiry() -> None:
    args = ["--websocket", "--agents", "1", "--latency-ms", "1", "--answer-delay-ms", "20",
            "--expire-sessions-every-s", "0.7"]  # fmt: skip
    got = Collected()
    incidents: list[Incident] = []
    with SimulatorProcess(args) as s:
        config = AgentConfig(base_url=s.url, user="agent0001", password="gwsload",
                             notification_timeout_s=1.0)  # fmt: skip
        agent = Agent(config, on_outcome=got.outcomes.append, on_anomaly=got.anomalies.append,
                      on_incident=incidents.append)  # fmt: skip
        try:
            agent.login()
            agent.establish_call()
            deadline = time.monotonic() + 3.0
            while time.monotonic() < deadline:
                agent.record("StartCallRecording")
                agent.record("StopCallRecording")
            for _ in range(3):  # the channel is back: these must match
                agent.record("StartCallRecording")
                agent.record("StopCallRecording")
        finally:
            agent.logout()
    assert any(i.kind == "rehandshake" for i in incidents)
    assert set(got.kinds()) <= {"ok", "lost", "late", "unexpected"}
    assert [o.kind for o in got.outcomes[-6:]] == ["ok"] * 6


def test_refused_operation_is_an_error_outcome_with_its_status_code(sim: str) -> None:
    got = Collected()
    agent = got.agent(sim, "agent0005", "long-polling")
    try:
        agent.login()
        agent.establish_call()
        exp = agent.record("StopCallRecording")  # not recording: GWS refuses it
        agent.record("StartCallRecording")
        agent.hangup()
    finally:
        agent.logout()
    refused = exp.outcome
    # a GWS error body (statusCode 2, with HTTP 400) is an API error
    assert refused is not None and refused.kind == "api_error"
    assert (refused.http_status, refused.status_code) == (400, 2)
    assert "parameter not valid for the current state" in refused.error
    assert math.isnan(refused.notify_ms) and refused.response_ms > 0
    assert [o.kind for o in got.outcomes] == ["api_error", "ok"]
    assert got.anomalies == []
