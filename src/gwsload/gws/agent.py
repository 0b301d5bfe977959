"""A contact-center agent driving GWS: log in, hold a call, operate its recording.

The flow GWS clients follow (gws-api.md §1.6), in order, so that no notification is
missed:

1. ``GET /api/v2/me`` (Basic auth; yields ``JSESSIONID`` and the CSRF token);
2. CometD handshake and subscriptions to ``/v2/me/calls`` and ``/v2/me/devices``;
3. ``StartContactCenterSession`` (voice), then recovery of calls left over from an
   earlier run (``GET /api/v2/me/calls?fields=*``) and the device id;
4. ``Ready``; ``Dial`` a destination, learning the call id from the ``Dialing``
   ``StatusChange`` notification (the Dial response carries none), then waiting for
   ``Established``;
5. recording operations, each paired with its notification by the
   :class:`~gwsload.gws.matcher.NotificationMatcher`;
6. ``Hangup`` (waits for ``Released``), ``EndContactCenterSession``, CometD disconnect.

Each step is a method of its own, so that :mod:`gwsload.gws.life_driver` can climb
them one at a time and go back after a failure; :meth:`Agent.login` runs them in
order. Runs under gevent: the CometD listener greenlet feeds notifications in, the calling
greenlet sends requests and waits. Outcomes and anomalies go to the ``on_outcome`` /
``on_anomaly`` callbacks as soon as they are final; every REST exchange goes to
``on_request`` (so a Locust user can report it).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from gwsload.bayeux import ClientState
from gwsload.contract.operations import COMETD_HANDSHAKE
from gwsload.gws.agent_core import AgentCore
from gwsload.gws.calls import CallTable
from gwsload.gws.config import AgentConfig, AgentError
from gwsload.gws.errors import GwsError, GwsTransportError
from gwsload.gws.matcher import Expectation
from gwsload.gws.protocol import (
    CALLS_PATH,
    ME_PATH,
    VOICE_CHANNEL_PATH,
    call_path,
    dial_path,
    operation_body,
)
from gwsload.gws.session import Response

__all__ = ["CALLS_CHANNEL", "DEVICES_CHANNEL", "Agent", "AgentConfig", "AgentError"]

CALLS_CHANNEL = "/v2/me/calls"
DEVICES_CHANNEL = "/v2/me/devices"
SESSION_COOKIE = "JSESSIONID"

_log = logging.getLogger(__name__)


class Agent(AgentCore):
    """One agent: the flow over :class:`~gwsload.gws.agent_core.AgentCore` (whose
    docstring lists the constructor's arguments)."""

    def login(self) -> None:
        """GET /me, CometD handshake and subscriptions, StartContactCenterSession,
        recovery of leftover calls, device id, Ready: the set-up steps in order.

        Raises:
            GwsApiError / GwsTransportError: a REST step failed.
            CometdError: the notification channel could not be opened.
            AgentError: no device to dial from.
        """
        self.open_http_session()
        self.open_notifications()
        self.start_contact_center_session()
        self.get_ready()

    def open_http_session(self, *, fresh: bool = False) -> None:
        """``GET /api/v2/me``. ``fresh``: forget cookies, CSRF token and calls first (a
        full re-login after the server lost this agent)."""
        if fresh:
            self.logged_in = False
            self._contact_center_session = False
            # the old CometD client belongs to the lost login: it listens no more (the
            # next step opens a new one)
            self._listening = False
            self.cometd.close()
            self.session.cookies.clear()
            self.session.csrf = None
            self.calls = CallTable()
            self.call_id = None
        self._call("GET", ME_PATH, "GetMe")  # its body (the user's settings) is not kept
        self._session_cookie = self.session.cookies.get(SESSION_COOKIE)

    def open_notifications(self) -> None:
        """CometD handshake and subscriptions to the calls and devices channels; a new
        CometD client when one was opened before (its session is not trusted)."""
        if self._cometd_used:
            # within one client a lost session is renewed by the client itself, with
            # its subscriptions; a new client is for a (re-)login after a failure
            self._listening = False
            self.cometd.close()
            self.cometd = self._new_cometd()
        self._cometd_used = True
        timeout = self.config.cometd_timeout_s
        self._handshake(timeout)
        self.cometd.subscribe(CALLS_CHANNEL, self._on_calls_message, timeout=timeout)
        self.cometd.subscribe(DEVICES_CHANNEL, self._on_devices_message, timeout=timeout)
        self._listening = True

    def _handshake(self, timeout: float) -> None:
        """The CometD handshake, reported like a REST step (its time, or its error)."""
        t_sent = time.perf_counter()
        try:
            self.cometd.handshake(timeout=timeout)
        except Exception as exc:
            self._report(COMETD_HANDSHAKE, None, exc)
            raise
        done = Response(COMETD_HANDSHAKE, 200, {"statusCode": 0}, "", t_sent, time.perf_counter())
        self._report(COMETD_HANDSHAKE, done, None)

    def start_contact_center_session(self) -> None:
        params: dict[str, Any] = {"channels": ["voice"]}
        if self.config.place is not None:
            params["place"] = self.config.place
        self._call("POST", ME_PATH, "StartContactCenterSession", **params)
        self._contact_center_session = True

    def get_ready(self) -> None:
        """Leftover calls, the device id, ``Ready``."""
        self.recover_calls()
        if self.device_id is None:
            self.device_id = self._find_device_id()
        self._call("POST", VOICE_CHANNEL_PATH, "Ready")
        self.logged_in = True
        # a server may rotate the session id while the login goes on: the login's
        # session is the one it ended with
        self._session_cookie = self.session.cookies.get(SESSION_COOKIE)

    def session_lost(self) -> str:
        """Why the server no longer knows this agent's login ('' while it does): it
        handed out a new ``JSESSIONID`` (to this client or its CometD client), or the
        CometD session could not be renewed."""
        if self._session_cookie is not None:
            now = self.session.cookies.get(SESSION_COOKIE)
            if now != self._session_cookie:
                return "the server started a new HTTP session"
        if self._listening and self.cometd.state is ClientState.DISCONNECTED:
            return "the CometD session could not be renewed"
        return ""

    def probe(self) -> None:
        """``GET /api/v2/me``: is the target back, and does it still know this login?"""
        self._call("GET", ME_PATH, "GetMe")

    def refresh_call(self, call_id: str | None = None) -> dict[str, Any] | None:
        """Re-read a call (default: the agent's) with ``GET /api/v2/me/calls/{id}`` and
        take it as the truth; None when the server no longer has it.

        Raises:
            GwsApiError / GwsTransportError: the GET failed (other than 404).
        """
        target = call_id or self.call_id
        if target is None:
            return None
        response = self._exchange("GET", call_path(target), None, "GetCall")
        if response.http_status == 404 or response.status_code == 6:
            self.calls.drop(target)
            if target == self.call_id:
                self.call_id = None
            return None
        response.raise_for_status()
        call = response.body.get("call")
        if not isinstance(call, dict):
            return None
        self.calls.update(call)
        if call.get("state") == "Released" and target == self.call_id:
            self.call_id = None
        return call if call.get("state") != "Released" else None

    def _find_device_id(self) -> str:
        response = self._call("GET", f"{ME_PATH}/devices?fields=*", "GetDevices")
        devices = response.body.get("devices")
        if isinstance(devices, list):
            for device in devices:
                if isinstance(device, dict) and isinstance(device.get("id"), str):
                    return str(device["id"])
        raise AgentError(f"{self.config.user}: GWS lists no device for this agent")

    def recover_calls(self) -> list[dict[str, Any]]:
        """Read calls left over from an earlier run (GET /me/calls?fields=*): reuse an
        Established one as the agent's call, hang up the others when configured."""
        response = self._call("GET", f"{CALLS_PATH}?fields=*", "GetCalls")
        raw = response.body.get("calls")
        calls = [c for c in raw if isinstance(c, dict)] if isinstance(raw, list) else []
        self.calls.recover(calls)
        reusable = [c for c in calls if c.get("state") == "Established"]
        if reusable and self.call_id is None:
            self.call_id = str(reusable[0]["id"])
        if self.config.hangup_leftovers:
            for call in calls:
                call_id = call.get("id")
                if (
                    isinstance(call_id, str)
                    and call_id != self.call_id
                    and "Hangup" in (call.get("capabilities") or [])
                ):
                    self.hangup(call_id)
        return calls

    def establish_call(self) -> str:
        """Make sure the agent has an Established call (Dial when it has none) and
        return its id.

        Raises:
            AgentError: no Dialing notification or no Established state in time, or
                the call released unanswered (the agent's life redials after its back-off).
        """
        if self.call_id is not None and self.call_state(self.call_id) == "Established":
            return self.call_id
        if self.device_id is None:
            raise AgentError(f"{self.config.user}: establish_call() before login()")
        self.calls.watch_dial()
        try:
            self._call(
                "POST",
                dial_path(self.device_id),
                "Dial",
                destination={"phoneNumber": self.config.destination},
            )
            self._wait_for(
                lambda: self.calls.dialed() is not None, "a Dialing notification after Dial"
            )
        finally:
            self.calls.stop_watching_dial()
        call_id = self.calls.dialed() or ""
        self.call_id = call_id
        # Released (dropped from the table) ends the wait too: busy, or nobody answered
        self._wait_for(
            lambda: self.call_state(call_id) in ("Established", None),
            "Established state of the dialled call",
        )
        if self.call_state(call_id) is None:
            self.call_id = None
            raise AgentError(
                f"{self.config.user}: the dialled call was released before it was answered "
                "(destination busy or not answering)"
            )
        return call_id

    def record(
        self,
        operation: str,
        *,
        call_id: str | None = None,
        t_intended: float | None = None,
        wait: bool = True,
    ) -> Expectation:
        """Send one recording operation (StartCallRecording, StopCallRecording,
        PauseCallRecording, ResumeCallRecording) and pair it with its notification.

        The expectation is registered before the request is written. With ``wait``,
        returns once the outcome is final (at most the notification timeout after the
        response); otherwise right after the HTTP response, and the outcome arrives
        through ``on_outcome``. Never raises for HTTP, API or transport errors: they
        are outcomes.
        """
        target = call_id or self.call_id
        if target is None:
            raise AgentError(f"{self.config.user}: no call to record; call establish_call()")
        exp = self.matcher.expect_recording(
            target, operation, now=time.perf_counter(), t_intended=t_intended
        )
        try:
            body = operation_body(operation)
            response = self._exchange("POST", call_path(target), body, operation)
        except GwsTransportError as exc:
            outcome = self.matcher.on_transport_error(exp, time.perf_counter(), exc.detail)
            self._emit(outcome)
            return exp
        outcome = self.matcher.on_response(
            exp,
            response.t_response,
            response.http_status,
            response.status_code,
            t_sent=response.t_sent,
            error=response.error_text(),
            node=response.node,
        )
        self._emit(outcome)
        if wait:
            self.wait_final(exp)
        return exp

    def wait_final(self, exp: Expectation) -> None:
        """Wait until ``exp`` is final, declaring it lost at its deadline."""
        while not exp.done:
            changed = self._changed
            deadline = exp.deadline if exp.t_response is not None else None
            remaining = None if deadline is None else deadline - time.perf_counter()
            if remaining is not None and remaining <= 0:
                self.expire()
                continue
            changed.wait(timeout=remaining if remaining is not None else 1.0)

    def expire(self) -> None:
        """Declare lost what timed out (call now and then in open workloads)."""
        for outcome in self.matcher.expire(time.perf_counter()):
            self._emit(outcome)

    def hangup(self, call_id: str | None = None) -> None:
        """Hang up a call (default: the agent's call) and wait for Released."""
        target = call_id or self.call_id
        if target is None:
            return
        self._call("POST", call_path(target), "Hangup")
        self._wait_for(lambda: target not in self.calls, f"call {target} Released")
        if target == self.call_id:
            self.call_id = None

    def logout(self) -> None:
        """EndContactCenterSession (best effort), then close CometD and HTTP. Safe to
        call more than once and after a failed login."""
        try:
            self.logged_in = False
            if self._contact_center_session:
                self._contact_center_session = False
                self._call("POST", ME_PATH, "EndContactCenterSession")
        except GwsError as exc:
            _log.warning("%s: EndContactCenterSession failed: %s", self.config.user, exc)
        finally:
            try:
                self.cometd.disconnect()
            except Exception as exc:  # the session may already be gone on the server
                _log.info("%s: CometD disconnect: %s", self.config.user, exc)
            self.cometd.close()
            self.session.close()

    def __repr__(self) -> str:
        return f"Agent({self.config.user!r}, call={self.call_id!r})"
