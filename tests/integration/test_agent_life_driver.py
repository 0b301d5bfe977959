"""AgentLife against the real simulator: the ladder to a call, a voice service that is
down (a refused step backs off, escalates to one full re-login per streak and keeps
its reason), and the call re-read after an operation that did not end ok."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator

import pytest

from gwsload.gws.agent import Agent, AgentConfig
from gwsload.gws.life import BACKOFF_BASE_S, BACKOFF_CAP_S, AgentState
from gwsload.gws.life_driver import AgentLife
from gwsload.gws.outcomes import Outcome
from gwsload.simulator.process import SimulatorProcess

pytestmark = pytest.mark.gevent

Incidents = list[tuple[str, str]]


def life_of(url: str, user: str, incidents: Incidents, outcomes: list[Outcome]) -> AgentLife:
    agent = Agent(
        AgentConfig(base_url=url, user=user, password="gwsload", notification_timeout_s=1.0),
        on_outcome=outcomes.append,
    )
    return AgentLife(
        agent, rng=random.Random(3), on_incident=lambda _ts, k, d, _ms: incidents.append((k, d))
    )


@pytest.fixture(scope="module")
def sim() -> Iterator[str]:
    args = ["--agents", "4", "--answer-delay-ms", "20", "--drop-share", "0.5", "--seed", "5"]
    with SimulatorProcess(args) as s:
        yield s.url


def test_the_ladder_reaches_a_call_and_a_lost_notification_leads_to_a_reread(sim: str) -> None:
    incidents: Incidents = []
    outcomes: list[Outcome] = []
    life = life_of(sim, "agent0001", incidents, outcomes)
    seen = [life.state]
    try:
        while not life.operating:
            assert life.step() == 0.0
            seen.append(life.state)
        assert [s.name for s in seen] == [
            "LOGGED_OUT", "HTTP_SESSION", "COMETD", "CONTACT_CENTER", "READY", "CALL"
        ]  # fmt: skip
        assert life.phase == "operating" and incidents == []
        # half the notifications are dropped: a lost Start still started the recording,
        # and the re-read call says so (the next operation is a Stop, never a refused Start)
        for _ in range(12):
            goal = "Stopped" if life.state is AgentState.RECORDING else "Recording"
            operation = "StopCallRecording" if goal == "Stopped" else "StartCallRecording"
            exp = life.agent.record(operation)
            assert exp.outcome is not None
            life.after(exp.outcome)
            assert life.operating
        kinds = [o.kind for o in outcomes]
        assert "lost" in kinds and set(kinds) <= {"ok", "lost"}, kinds
    finally:
        life.agent.logout()
        life.logged_out()
    assert life.state is AgentState.LOGGED_OUT


def test_a_step_refused_again_and_again_relogs_in_once_and_keeps_backing_off() -> None:
    incidents: Incidents = []
    with SimulatorProcess(["--agents", "2", "--voice-down"]) as down:
        life = life_of(down.url, "agent0002", incidents, [])
        delays = []
        try:
            deadline = time.monotonic() + 20
            while len(delays) < 7 and time.monotonic() < deadline:
                delay = life.step()
                if delay:
                    delays.append(delay)
                    time.sleep(min(delay, 0.05))  # the delays are checked, not waited out
        finally:
            life.agent.logout()
    assert life.phase == "failing"
    assert life.reason == "StartContactCenterSession: HTTP 503 statusCode 4"
    kinds = [k for k, _ in incidents]
    assert kinds.count("relogin") == 1, incidents  # once per streak, not every 3 refusals
    assert incidents.count(("setup_error", life.reason)) == 1
    assert life.failures == 7 and len(delays) == 7
    # the back-off grows with the streak (jitter: within [0.5, 1] of its ceiling)
    ceilings = [min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (n - 1)) for n in range(1, 8)]
    assert all(0.5 * c <= d <= c for d, c in zip(delays, ceilings, strict=True)), delays


def test_a_cometd_session_that_cannot_be_renewed_means_a_full_relogin(sim: str) -> None:
    incidents: Incidents = []
    outcomes: list[Outcome] = []
    life = life_of(sim, "agent0003", incidents, outcomes)
    try:
        while not life.operating:
            assert life.step() == 0.0
        first_client, first_cookie = life.agent.cometd, life.agent.session.cookies.header()
        # the client gave up (as after a re-handshake refused for good): no notifications
        first_client.close()
        life.check()
        assert life.state is AgentState.LOGGED_OUT
        assert incidents == [("relogin", "the CometD session could not be renewed")]
        while not life.operating:
            assert life.step() == 0.0
        client = life.agent.cometd
        assert client is not first_client
        # the subscriptions are acknowledged before the first /meta/connect's reply
        # (its own connection) is in: wait for it, bounded
        deadline = time.monotonic() + 5
        while not client.connected and time.monotonic() < deadline:
            time.sleep(0.01)
        assert client.connected, client.state
        assert life.agent.session.cookies.header() != first_cookie  # new HTTP session
        exp = life.agent.record("StartCallRecording")
        assert exp.outcome is not None and exp.outcome.kind in ("ok", "lost")
        assert life.logins == 2
    finally:
        life.agent.logout()
        life.logged_out()
