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

Runs under gevent: the CometD listener greenlet feeds notifications in, the calling
greenlet sends requests and waits. Outcomes and anomalies go to the ``on_outcome`` /
``on_anomaly`` callbacks as soon as they are final; every REST exchange goes to
``on_request`` (so a Locust user can report it).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, cast

from gevent.event import Event

from gwsload.cometd import CometdClient, Incident
from gwsload.cometd.client import TransportName
from gwsload.errors import ConfigError
from gwsload.gws.calls import CallTable
from gwsload.gws.config import AgentConfig, AgentError
from gwsload.gws.errors import GwsApiError, GwsTransportError
from gwsload.gws.matcher import (
    CALL_STATE_CHANGE_MESSAGE,
    Expectation,
    NotificationMatcher,
)
from gwsload.gws.outcomes import Anomaly, Outcome
from gwsload.gws.protocol import (
    CALLS_PATH,
    ME_PATH,
    VOICE_CHANNEL_PATH,
    call_path,
    dial_path,
    is_csrf_refusal,
    operation_body,
    server_stamp,
)
from gwsload.gws.session import GwsSession, Response

__all__ = ["CALLS_CHANNEL", "DEVICES_CHANNEL", "Agent", "AgentConfig", "AgentError"]

TRANSPORTS = ("long-polling", "websocket")
CALLS_CHANNEL = "/v2/me/calls"
DEVICES_CHANNEL = "/v2/me/devices"

_log = logging.getLogger(__name__)


OutcomeSink = Callable[[Outcome], None]
AnomalySink = Callable[[Anomaly], None]
RequestSink = Callable[[str, "Response | None", "Exception | None"], None]
IncidentSink = Callable[[Incident], None]


class Agent:
    """One agent: a :class:`GwsSession`, a CometD client and a notification matcher.

    Args:
        config: connection and behaviour settings.
        on_outcome: called with each final operation outcome.
        on_anomaly: called with each late / duplicate / unexpected notification.
        on_request: called after every REST exchange with (operation, response or
            None, error or None): lets a Locust user report it.
        on_incident: CometD incidents (reconnects, re-handshakes...).
        wall_offset: ``time.time() - time.perf_counter()``; read once per process
            so all agents share it.
    """

    def __init__(
        self,
        config: AgentConfig,
        *,
        on_outcome: OutcomeSink | None = None,
        on_anomaly: AnomalySink | None = None,
        on_request: RequestSink | None = None,
        on_incident: IncidentSink | None = None,
        wall_offset: float | None = None,
    ) -> None:
        if config.transport not in TRANSPORTS:
            raise ConfigError(
                f"transport must be one of {list(TRANSPORTS)}, got {config.transport!r}"
            )
        self.config = config
        self.session = GwsSession(
            config.base_url,
            config.user,
            config.password,
            origin=config.origin,
            verify_tls=config.verify_tls,
            ca_file=config.ca_file,
            network_timeout=config.request_timeout_s,
        )
        self.matcher = NotificationMatcher(
            agent=config.user,
            timeout_s=config.notification_timeout_s,
            wall_offset=time.time() - time.perf_counter() if wall_offset is None else wall_offset,
        )
        self.cometd = CometdClient(
            self.session.notifications_url,
            transport=cast(TransportName, config.transport),
            headers=self.session.auth_headers(),
            cookies=self.session.cookies,
            verify_tls=config.verify_tls,
            ca_file=config.ca_file,
            on_incident=on_incident,
        )
        self._on_outcome = on_outcome
        self._on_anomaly = on_anomaly
        self._on_request = on_request
        self.user: dict[str, Any] = {}
        self.device_id: str | None = config.device_id
        #: the live calls, as last notified (Released calls are dropped)
        self.calls = CallTable()
        #: the call whose recording is operated
        self.call_id: str | None = None
        #: True once login() completed (Ready)
        self.logged_in = False
        self._contact_center_session = False
        self._listening = False
        self._changed = Event()

    # -- REST ---------------------------------------------------------------------

    def _exchange(self, method: str, path: str, body: bytes | None, operation: str) -> Response:
        try:
            response = self.session.request(method, path, body, operation=operation)
            refused = is_csrf_refusal(response.http_status, response.body, response.excerpt)
            if refused and method != "GET":
                # the HTTP session was renewed (expired, or node failover): learn the new
                # token with a GET and send once more; the refused request changed nothing
                self._report(operation, response, GwsApiError(3, 403, operation, "CSRF"))
                self.session.get(ME_PATH, operation="GetMe")
                response = self.session.request(method, path, body, operation=operation)
        except GwsTransportError as exc:
            self._report(operation, None, exc)
            raise
        error: Exception | None = None
        if not response.ok:
            error = GwsApiError(
                response.status_code, response.http_status, operation, response.error_text()
            )
        self._report(operation, response, error)
        return response

    def _report(self, operation: str, response: Response | None, error: Exception | None) -> None:
        if self._on_request is not None:
            self._on_request(operation, response, error)

    def _call(self, method: str, path: str, operation: str, **params: Any) -> Response:
        body = operation_body(operation, **params) if method != "GET" else None
        return self._exchange(method, path, body, operation).raise_for_status()

    # -- the flow -----------------------------------------------------------------

    def login(self) -> None:
        """GET /me, CometD handshake and subscriptions, StartContactCenterSession,
        recovery of leftover calls, device id, Ready.

        Raises:
            GwsApiError / GwsTransportError: a REST step failed.
            CometdError: the notification channel could not be opened.
            AgentError: no device to dial from.
        """
        me = self._call("GET", ME_PATH, "GetMe")
        user = me.body.get("user")
        self.user = user if isinstance(user, dict) else {}
        if not self._listening:
            # once per agent: after a lost session the client re-subscribes by itself,
            # and a second subscription would deliver every notification twice
            timeout = self.config.cometd_timeout_s
            self.cometd.handshake(timeout=timeout)
            self.cometd.subscribe(CALLS_CHANNEL, self._on_calls_message, timeout=timeout)
            self.cometd.subscribe(DEVICES_CHANNEL, self._on_devices_message, timeout=timeout)
            self._listening = True
        params: dict[str, Any] = {"channels": ["voice"]}
        if self.config.place is not None:
            params["place"] = self.config.place
        self._call("POST", ME_PATH, "StartContactCenterSession", **params)
        self._contact_center_session = True
        self.recover_calls()
        if self.device_id is None:
            self.device_id = self._find_device_id()
        self._call("POST", VOICE_CHANNEL_PATH, "Ready")
        self.logged_in = True

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
            AgentError: no Dialing notification or no Established state in time.
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
        self._wait_for(
            lambda: self.call_state(call_id) == "Established", f"call {call_id} Established"
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

    @property
    def recording_state(self) -> str | None:
        """The recording state of the agent's call, as last notified."""
        return self.calls.recording_state(self.call_id)

    def call_state(self, call_id: str) -> str | None:
        return self.calls.state(call_id)

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
        except (GwsApiError, GwsTransportError) as exc:
            _log.warning("%s: EndContactCenterSession failed: %s", self.config.user, exc)
        finally:
            try:
                self.cometd.disconnect()
            except Exception as exc:  # the session may already be gone on the server
                _log.info("%s: CometD disconnect: %s", self.config.user, exc)
            self.cometd.close()
            self.session.close()

    # -- notifications (listener greenlet) ---------------------------------------

    def _on_calls_message(self, message: Mapping[str, Any]) -> None:
        data = message.get("data")
        if not isinstance(data, dict) or data.get("messageType") != CALL_STATE_CHANGE_MESSAGE:
            return
        received = message.get("_received")
        now = received if isinstance(received, float) else time.perf_counter()
        server_ts, seq = server_stamp(message)
        call = data.get("call")
        if isinstance(call, dict):
            self.calls.update(call)
        for item in self.matcher.on_notification(data, now, server_ts, seq):
            if isinstance(item, Outcome):
                self._emit(item)
            elif self._on_anomaly is not None:
                self._on_anomaly(item)
        self._signal()

    def _on_devices_message(self, message: Mapping[str, Any]) -> None:
        data = message.get("data")
        devices = data.get("devices") if isinstance(data, dict) else None
        if self.device_id is None and isinstance(devices, list) and devices:
            first = devices[0]
            if isinstance(first, dict) and isinstance(first.get("id"), str):
                self.device_id = first["id"]
        self._signal()

    # -- helpers ------------------------------------------------------------------

    def _emit(self, outcome: Outcome | None) -> None:
        if outcome is not None:
            if self._on_outcome is not None:
                self._on_outcome(outcome)
            self._signal()

    def _signal(self) -> None:
        # wake every waiter, then hand out a fresh event for the next change
        changed, self._changed = self._changed, Event()
        changed.set()

    def _wait_for(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.perf_counter() + self.config.call_state_timeout_s
        while not condition():
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                raise AgentError(
                    f"{self.config.user}: no {what} within {self.config.call_state_timeout_s:g} s"
                )
            self._changed.wait(timeout=remaining)

    def __repr__(self) -> str:
        return f"Agent({self.config.user!r}, call={self.call_id!r})"
