"""Drives one :class:`~gwsload.gws.agent.Agent` through its life (:mod:`gwsload.gws.life`).

:meth:`AgentLife.step` takes one step up the set-up ladder (or the probe after an
outage) and returns how long to back off before the next one; :meth:`AgentLife.after`
takes each recording outcome and, after any that is not ``ok``, re-reads the call
(``GET /api/v2/me/calls/{id}``) so the next operation starts from the server's real
recording state. Every failure is turned into a :class:`~gwsload.gws.life.Happening`
and the new state comes from :func:`~gwsload.gws.life.next_state`.

What it reports (through ``on_incident(ts, kind, detail, duration_ms)``):

* ``target_unreachable``: one span per agent and outage, from the first request that
  got no answer to the first that did (``duration_ms``);
* ``relogin``: a full re-login began, and why (401, a new HTTP session...);
* ``setup_error``: a set-up step failed (the first failure of a streak, and each
  change of reason), e.g. ``login: HTTP 401 statusCode 20``.

:attr:`AgentLife.phase` says whether the agent is operating, setting up or failing
(with :attr:`AgentLife.reason`), for the progress line.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable

from gwsload.cometd import CometdError
from gwsload.gws.agent import Agent
from gwsload.gws.calls import RECORDING_ON
from gwsload.gws.errors import GwsApiError, GwsError, GwsTransportError
from gwsload.gws.life import (
    ESCALATE_AFTER,
    OPERATING,
    AgentState,
    Happening,
    backoff_s,
    classify,
    next_state,
)
from gwsload.gws.outcomes import Outcome

__all__ = ["AgentLife", "IncidentSink", "reason_of"]

#: (ts UNIX s, kind, detail, duration_ms)
IncidentSink = Callable[[float, str, str, "float | None"], None]

_S = AgentState
_H = Happening
_log = logging.getLogger(__name__)
_URL = re.compile(r"\s*\b(?:at|with|to|from)?\s*\b(?:https?|wss?)://\S+")

#: the step each state takes, as named in reasons
STEP_NAMES: dict[AgentState, str] = {
    _S.LOGGED_OUT: "login",
    _S.HTTP_SESSION: "CometD handshake",
    _S.COMETD: "StartContactCenterSession",
    _S.CONTACT_CENTER: "Ready",
    _S.READY: "call setup",
    _S.CALL: "call",
    _S.RECORDING: "call",
    _S.UNREACHABLE: "target unreachable",
}


def reason_of(exc: Exception) -> str:
    """A short cause: ``HTTP 401 statusCode 20``, ``ConnectionRefusedError``... (the
    progress line counts agents by it: no addresses or numbers that differ)"""
    if isinstance(exc, GwsApiError):
        return f"HTTP {exc.http_status} statusCode {exc.status_code}"
    if isinstance(exc, GwsTransportError):
        return exc.detail.split(":", 1)[0] or "no response"
    if not isinstance(exc, GwsError | CometdError):
        return f"{type(exc).__name__}: {exc}"[:120]
    text = str(exc)
    user, sep, rest = text.partition(": ")
    text = rest if sep and " " not in user else text
    return _URL.sub("", text)[:120]  # (the run knows its target: the URL is noise)


class AgentLife:
    """The life of one agent (see module doc). Not thread-safe: one greenlet drives it."""

    def __init__(
        self,
        agent: Agent,
        *,
        rng: random.Random | None = None,
        on_incident: IncidentSink | None = None,
    ) -> None:
        self.agent = agent
        self.state = _S.LOGGED_OUT
        #: failures since the agent last operated (they set the back-off)
        self.failures = 0
        #: the last failure since the agent last operated ('' when none)
        self.reason = ""
        #: refusals of the current step in a row
        self.refusals = 0
        #: full logins begun (the first one included)
        self.logins = 0
        self._rng = rng or random.Random()
        self._on_incident = on_incident
        self._outage: tuple[float, str] | None = None
        self._reported = ""
        self._escalated = False

    @property
    def operating(self) -> bool:
        return self.state in OPERATING

    @property
    def phase(self) -> str:
        if self.operating:
            return "operating"
        return "failing" if self.reason else "setting_up"

    # -- climbing -------------------------------------------------------------------

    def step(self) -> float:
        """Take the current state's step; the back-off to wait before the next (s)."""
        state = self.state
        lost = self.agent.session_lost() if state not in (_S.LOGGED_OUT, _S.UNREACHABLE) else ""
        if lost:
            self._apply(_H.SESSION_LOST, lost)
            # a re-login that does not cure the loss must not become a busy loop
            self.failures += 1
            self.reason = f"{STEP_NAMES[state]}: {lost}"
            return 0.0 if self.failures == 1 else backoff_s(self.failures, self._rng)
        try:
            happening = self._take_step(state)
        except (GwsError, CometdError) as exc:
            return self._failed(exc)
        except Exception as exc:  # a bug or an answer nobody foresaw: fail the step, loudly
            _log.exception("%s: %s failed", self.agent.config.user, STEP_NAMES[state])
            return self._failed(exc)
        return self._apply(happening, "")

    def _take_step(self, state: AgentState) -> Happening:
        agent = self.agent
        if state is _S.LOGGED_OUT:
            self.logins += 1
            agent.open_http_session(fresh=self.logins > 1)
        elif state is _S.HTTP_SESSION:
            agent.open_notifications()
        elif state is _S.COMETD:
            agent.start_contact_center_session()
        elif state is _S.CONTACT_CENTER:
            agent.get_ready()
        elif state is _S.READY:
            if agent.call_id is not None:
                agent.refresh_call()  # after an outage or a refusal: is it still there?
            agent.establish_call()
            self._arrived()
            return _H.DONE
        elif state is _S.UNREACHABLE:
            agent.probe()
            self._arrived()
            lost = agent.session_lost()
            if lost:
                self._relogin(lost)
                return _H.SESSION_LOST
            return _H.REACHED
        else:  # operating: nothing to climb; check the call
            return self._resync()
        self._arrived()
        return _H.DONE

    def _apply(self, happening: Happening, why: str) -> float:
        state = self.state
        if happening is _H.SESSION_LOST and state is not _S.UNREACHABLE:
            self._relogin(why)
        self.state = next_state(state, happening)
        if happening in (_H.DONE, _H.REACHED):
            self.refusals = 0
        # a call found or dialled may already record (a leftover call)
        if self.state is _S.CALL and self.agent.recording_state in RECORDING_ON:
            self.state = next_state(self.state, _H.RECORDING_ON)
        if self.operating:
            # a streak ends only here: an agent failing again and again on its way
            # (a relogin that does not help) keeps its back-off and reports once
            self.failures = self.refusals = 0
            self.reason = self._reported = ""
            self._escalated = False
        return 0.0

    def _failed(self, exc: Exception) -> float:
        state = self.state
        if isinstance(exc, GwsApiError):
            happening = classify(exc.http_status, exc.status_code, answered=True)
        elif isinstance(exc, GwsTransportError):
            happening = _H.NO_ANSWER
        else:
            happening = _H.REFUSED
        if happening is _H.CALL_GONE and state not in OPERATING:
            happening = _H.REFUSED
        reason = reason_of(exc)
        if happening is _H.SESSION_LOST and state is not _S.LOGGED_OUT:
            self._relogin(f"{STEP_NAMES[state]}: {reason}")
        if happening is _H.NO_ANSWER:
            self._unreachable(reason)
        elif isinstance(exc, GwsApiError):
            self._arrived()  # (a CometD failure may be the outage itself: not an answer)
        self.failures += 1
        self.refusals = self.refusals + 1 if happening is _H.REFUSED else 0
        escalate = self.refusals >= ESCALATE_AFTER and state is not _S.LOGGED_OUT
        if happening is _H.REFUSED and escalate and not self._escalated:
            # a step refused again and again: start afresh, once per streak (when that
            # does not help either, the step is retried at the capped back-off)
            self._escalated = True
            happening = _H.SESSION_LOST
            self._relogin(f"{STEP_NAMES[state]} refused {self.refusals} times: {reason}")
            self.refusals = 0
        self.reason = f"{STEP_NAMES[state]}: {reason}"
        if happening is not _H.NO_ANSWER and self.reason != self._reported:
            self._reported = self.reason
            self._incident(time.time(), "setup_error", self.reason, None)
        self.state = next_state(state, happening)
        if happening is _H.SESSION_LOST and self.failures == 1:
            return 0.0  # the first re-login goes at once
        return backoff_s(self.failures, self._rng)

    # -- operating ------------------------------------------------------------------

    def check(self) -> None:
        """While operating: has the server lost this login (a new JSESSIONID, a CometD
        session that could not be renewed)? Then a full re-login comes next. Cheap:
        call it before each cycle, since an agent whose notifications stopped would
        otherwise only see lost operations."""
        if self.operating:
            lost = self.agent.session_lost()
            if lost:
                self._apply(_H.SESSION_LOST, lost)

    def after(self, outcome: Outcome) -> None:
        """Take a recording operation's outcome; after a non-ok one, re-read the call."""
        if outcome.kind != "ok" and self.agent.session_lost():
            self._apply(_H.SESSION_LOST, self.agent.session_lost())
            return
        if outcome.kind == "ok":
            on = outcome.expected_state in RECORDING_ON
            self.state = next_state(self.state, _H.RECORDING_ON if on else _H.RECORDING_OFF)
            return
        if outcome.kind == "transport_error":
            self._unreachable(outcome.error.split(":", 1)[0] or "no response", ts=outcome.ts)
            self.state = next_state(self.state, _H.NO_ANSWER)
            return
        answered = classify(outcome.http_status, outcome.status_code, answered=True)
        if outcome.kind in ("api_error", "http_error") and answered is _H.SESSION_LOST:
            self._apply(_H.SESSION_LOST, f"{outcome.operation}: {outcome.error}")
            return
        try:
            happening = self._resync()
        except GwsError as exc:
            self._failed(exc)
            return
        self.state = next_state(self.state, happening)

    def _resync(self) -> Happening:
        """Re-read the agent's call: gone, recording, or not recording."""
        call = self.agent.refresh_call()
        if call is None or call.get("state") != "Established":
            return _H.CALL_GONE
        return _H.RECORDING_ON if call.get("recordingState") in RECORDING_ON else _H.RECORDING_OFF

    def logged_out(self) -> None:
        """The agent signed off."""
        self.state = next_state(self.state, _H.LOGOUT)
        self._arrived(closing=True)

    # -- incidents ------------------------------------------------------------------

    def _relogin(self, why: str) -> None:
        self._incident(time.time(), "relogin", why, None)

    def _unreachable(self, reason: str, *, ts: float | None = None) -> None:
        if self._outage is None:
            self._outage = (time.time() if ts is None else ts, reason)

    def _arrived(self, *, closing: bool = False) -> None:
        """An answer came (or the agent leaves): close the outage span, if one is open."""
        outage, self._outage = self._outage, None
        if outage is not None:
            started, reason = outage
            detail = f"{reason} (not answered before the agent left)" if closing else reason
            self._incident(started, "target_unreachable", detail, (time.time() - started) * 1e3)

    def _incident(self, ts: float, kind: str, detail: str, duration_ms: float | None) -> None:
        if self._on_incident is not None:
            self._on_incident(ts, kind, detail, duration_ms)
