"""An agent's life as an explicit state machine: the states, every rule for moving
between them, how a failure is classified, and the back-off. Pure: stdlib only.

Theory of operation. An agent climbs the set-up ladder one step at a time:

* ``LOGGED_OUT``: nothing on the server. Step: ``GET /api/v2/me`` (new cookies, CSRF).
* ``HTTP_SESSION``: an HTTP session. Step: CometD handshake and subscriptions.
* ``COMETD``: notifications flow. Step: ``StartContactCenterSession``.
* ``CONTACT_CENTER``: a voice session. Step: leftover calls, device id, ``Ready``.
* ``READY``: the agent may call. Step: find or dial an Established call.
* ``CALL``: an Established call, recording stopped; ``RECORDING``: recording (or
  paused). Recording operations move between these two.
* ``UNREACHABLE``: the target did not answer (connection refused, reset, timeout).
  Step, after a jittered, capped back-off: probe ``GET /api/v2/me``.

Every failure leads back to a defined state (:data:`TRANSITIONS`): the server lost
the agent (HTTP 401 / statusCode 20, a new ``JSESSIONID`` handed out, a CometD
session that could not be renewed, or a step refused :data:`ESCALATE_AFTER` times
in a row, once until the agent operates again) means a full re-login from
``LOGGED_OUT``; no answer at all means ``UNREACHABLE``, and a probe that finds the
same HTTP session returns to ``READY`` (the call is re-read there); a call the
server no longer has means ``READY``. The driver (:mod:`gwsload.gws.life_driver`)
asks :func:`next_state` and never assigns a state on its own.
"""

from __future__ import annotations

import random
from enum import Enum
from typing import Final

from gwsload.contract.agent_states import PHASES

__all__ = [
    "BACKOFF_BASE_S",
    "BACKOFF_CAP_S",
    "ESCALATE_AFTER",
    "OPERATING",
    "PHASES",
    "TRANSITIONS",
    "AgentState",
    "Happening",
    "backoff_s",
    "classify",
    "next_state",
]


class AgentState(Enum):
    LOGGED_OUT = "logged out"
    HTTP_SESSION = "HTTP session"
    COMETD = "CometD"
    CONTACT_CENTER = "contact-center session"
    READY = "ready"
    CALL = "call"
    RECORDING = "recording"
    UNREACHABLE = "target unreachable"


class Happening(Enum):
    #: the step of the current state succeeded
    DONE = "step done"
    #: the server says the call records (Recording or Paused)
    RECORDING_ON = "recording on"
    #: the server says the call does not record
    RECORDING_OFF = "recording off"
    #: the server no longer has the call (Released, statusCode 6)
    CALL_GONE = "call gone"
    #: the server lost the agent: 401 / statusCode 20, a new JSESSIONID, CometD lost
    SESSION_LOST = "session lost"
    #: no HTTP answer: connection refused or reset, TLS failure, timeout
    NO_ANSWER = "no answer"
    #: the probe after an outage was answered within the same HTTP session
    REACHED = "reached"
    #: a step was refused for another reason (statusCode 2 or 4, a timeout waiting
    #: for a call state...): back off and try the same step again
    REFUSED = "refused"
    #: the agent signs off
    LOGOUT = "logout"


_S = AgentState
_H = Happening

#: the set-up ladder: each state and where its step leads
LADDER: Final[dict[AgentState, AgentState]] = {
    _S.LOGGED_OUT: _S.HTTP_SESSION,
    _S.HTTP_SESSION: _S.COMETD,
    _S.COMETD: _S.CONTACT_CENTER,
    _S.CONTACT_CENTER: _S.READY,
    _S.READY: _S.CALL,
}
#: states in which the agent operates recording
OPERATING: Final = frozenset({_S.CALL, _S.RECORDING})
_LOGGED_IN = [s for s in AgentState if s is not _S.LOGGED_OUT]

#: (state, happening) -> new state. An absent pair is a happening that does not apply.
TRANSITIONS: Final[dict[tuple[AgentState, Happening], AgentState]] = {
    **{(s, _H.DONE): after for s, after in LADDER.items()},
    **{(s, _H.REFUSED): s for s in AgentState},
    **{(s, _H.LOGOUT): _S.LOGGED_OUT for s in AgentState},
    **{(s, _H.SESSION_LOST): _S.LOGGED_OUT for s in _LOGGED_IN},
    (_S.LOGGED_OUT, _H.NO_ANSWER): _S.LOGGED_OUT,
    **{(s, _H.NO_ANSWER): _S.UNREACHABLE for s in _LOGGED_IN},
    (_S.UNREACHABLE, _H.REACHED): _S.READY,
    **{(s, _H.RECORDING_ON): _S.RECORDING for s in OPERATING},
    **{(s, _H.RECORDING_OFF): _S.CALL for s in OPERATING},
    **{(s, _H.CALL_GONE): _S.READY for s in OPERATING},
}

#: a step refused this many times in a row is retried from a full re-login
ESCALATE_AFTER: Final = 3
#: back-off after a failure: base * 2**(failures-1), capped, times a jitter in [0.5, 1]
BACKOFF_BASE_S: Final = 0.5
BACKOFF_CAP_S: Final = 10.0


def next_state(state: AgentState, happening: Happening) -> AgentState:
    """The state after ``happening`` (the same state when it does not apply here)."""
    return TRANSITIONS.get((state, happening), state)


def classify(http_status: int, status_code: int, *, answered: bool) -> Happening:
    """What a failed request means for the agent's life.

    ``answered``: an HTTP response arrived (False: refused, reset, timeout).
    """
    if not answered:
        return _H.NO_ANSWER
    if http_status == 401 or status_code == 20:
        return _H.SESSION_LOST
    if status_code == 6 or http_status == 404:
        return _H.CALL_GONE
    return _H.REFUSED


def backoff_s(failures: int, rng: random.Random) -> float:
    """How long to wait after the ``failures``-th failure in a row (jittered so that
    agents failing together do not all come back in the same instant)."""
    if failures <= 0:
        return 0.0
    ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2.0 ** min(failures - 1, 16))
    return ceiling * rng.uniform(0.5, 1.0)
