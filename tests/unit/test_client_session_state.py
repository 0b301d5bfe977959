"""The client state table: every state reachable, calls legal where documented."""

from __future__ import annotations

import pytest

from gwsload.bayeux import LocalProtocolError
from gwsload.bayeux._state import TRANSITIONS, ClientState, Trigger, next_state


def test_every_state_is_reachable_from_disconnected() -> None:
    seen = {ClientState.DISCONNECTED}
    frontier = [ClientState.DISCONNECTED]
    while frontier:
        state = frontier.pop()
        for (source, _), target in TRANSITIONS.items():
            if source is state and target not in seen:
                seen.add(target)
                frontier.append(target)
    assert seen == set(ClientState)


def test_every_state_can_get_back_to_disconnected() -> None:
    for state in ClientState:
        assert TRANSITIONS[(state, Trigger.CALL_CLOSE)] is ClientState.DISCONNECTED


@pytest.mark.parametrize("state", [ClientState.DISCONNECTED, ClientState.DISCONNECTING])
def test_messages_are_illegal_without_a_session(state: ClientState) -> None:
    with pytest.raises(LocalProtocolError, match=f"in state {state.name}"):
        next_state(state, Trigger.CALL_MESSAGE)


def test_happenings_that_do_not_apply_are_ignored_not_raised() -> None:
    assert next_state(ClientState.DISCONNECTED, Trigger.CONNECT_SUCCEEDED) is None
    assert next_state(ClientState.HANDSHAKING, Trigger.SESSION_LOST) is None


def test_table_printout_names_each_rule_once() -> None:
    lines = sorted(f"{s.name:13} --{t.value}--> {n.name}" for (s, t), n in TRANSITIONS.items())
    assert len(lines) == len(set(lines)) == len(TRANSITIONS)
    assert "HANDSHAKING   --handshake accepted--> CONNECTING" in lines
