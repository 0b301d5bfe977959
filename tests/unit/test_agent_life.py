"""The agent's life table: every failure leads back to a defined state, the ladder
reaches operating from logged out, and the back-off is jittered and capped."""

from __future__ import annotations

import random

import pytest

from gwsload.gws.calls import operation_towards
from gwsload.gws.life import (
    BACKOFF_CAP_S,
    LADDER,
    OPERATING,
    TRANSITIONS,
    AgentState,
    Happening,
    backoff_s,
    classify,
    next_state,
)

S, H = AgentState, Happening
FAILURES = (H.SESSION_LOST, H.NO_ANSWER, H.REFUSED, H.CALL_GONE)


def test_the_ladder_climbs_from_logged_out_to_a_call() -> None:
    state, path = S.LOGGED_OUT, [S.LOGGED_OUT]
    while state not in OPERATING:
        state = next_state(state, H.DONE)
        path.append(state)
    assert path == [S.LOGGED_OUT, S.HTTP_SESSION, S.COMETD, S.CONTACT_CENTER, S.READY, S.CALL]
    assert next_state(S.CALL, H.RECORDING_ON) is S.RECORDING
    assert next_state(S.RECORDING, H.RECORDING_OFF) is S.CALL


@pytest.mark.parametrize("state", list(AgentState))
@pytest.mark.parametrize("failure", FAILURES)
def test_every_failure_leads_to_a_state_from_which_operating_is_reachable(
    state: AgentState, failure: Happening
) -> None:
    after = next_state(state, failure)
    seen, frontier = {after}, [after]
    while frontier:  # what the success happenings reach from there
        here = frontier.pop()
        for happening in (H.DONE, H.REACHED):
            there = next_state(here, happening)
            if there not in seen:
                seen.add(there)
                frontier.append(there)
    assert seen & OPERATING, f"{state.name} --{failure.value}--> {after.name} is a dead end"


def test_the_rules_the_real_world_needs() -> None:
    for state in LADDER.keys() - {S.LOGGED_OUT} | OPERATING:
        assert next_state(state, H.SESSION_LOST) is S.LOGGED_OUT  # full re-login
        assert next_state(state, H.NO_ANSWER) is S.UNREACHABLE
    assert next_state(S.UNREACHABLE, H.SESSION_LOST) is S.LOGGED_OUT
    assert next_state(S.UNREACHABLE, H.REACHED) is S.READY  # the call is re-read there
    assert next_state(S.LOGGED_OUT, H.NO_ANSWER) is S.LOGGED_OUT
    assert next_state(S.RECORDING, H.CALL_GONE) is S.READY
    assert next_state(S.COMETD, H.REFUSED) is S.COMETD  # the same step, after a back-off
    assert all((s, H.LOGOUT) in TRANSITIONS for s in AgentState)


def test_failures_are_classified_by_what_the_server_said() -> None:
    assert classify(0, -1, answered=False) is H.NO_ANSWER
    assert classify(401, 20, answered=True) is H.SESSION_LOST
    assert classify(200, 20, answered=True) is H.SESSION_LOST
    assert classify(404, 6, answered=True) is H.CALL_GONE
    assert classify(400, 2, answered=True) is H.REFUSED
    assert classify(503, 4, answered=True) is H.REFUSED


def test_backoff_doubles_with_jitter_and_is_capped_at_ten_seconds() -> None:
    rng = random.Random(7)
    assert backoff_s(0, rng) == 0.0
    first = [backoff_s(1, rng) for _ in range(200)]
    assert 0.25 <= min(first) < max(first) <= 0.5  # jittered: agents do not return together
    assert all(2.0 <= backoff_s(4, rng) <= 4.0 for _ in range(50))
    late = [backoff_s(n, rng) for n in range(6, 60)]
    assert max(late) <= BACKOFF_CAP_S and min(late) >= BACKOFF_CAP_S / 2


@pytest.mark.parametrize(
    ("state", "goal", "operation"),
    [
        (None, "Recording", "StartCallRecording"),
        ("Stopped", "Recording", "StartCallRecording"),
        ("Paused", "Recording", "ResumeCallRecording"),
        ("Recording", "Recording", None),
        ("Recording", "Paused", "PauseCallRecording"),
        ("Stopped", "Paused", None),  # a stopped recording cannot be paused
        ("Paused", "Stopped", "StopCallRecording"),
        ("Stopped", "Stopped", None),
    ],
)
def test_the_next_operation_suits_the_servers_recording_state(
    state: str | None, goal: str, operation: str | None
) -> None:
    assert operation_towards(state, goal) == operation
