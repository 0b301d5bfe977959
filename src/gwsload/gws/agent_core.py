"""The part of an agent that holds its connections and its view of the server.

:class:`AgentCore` owns the agent's HTTP session, its CometD client (sharing one
cookie jar), the call table kept from notifications and GETs, and the notification
matcher; it sends REST requests (reporting each to ``on_request``, learning a renewed
CSRF token once) and takes the notifications the CometD listener greenlet delivers.
The flow built on it (log in, call, record, log out) is :mod:`gwsload.gws.agent`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, cast

import gevent
from gevent.event import Event

from gwsload.cometd import CometdClient, Incident, SharedConnections
from gwsload.cometd.client import TransportName
from gwsload.contract.operations import TRANSPORTS
from gwsload.contract.status import THROTTLE_HTTP_STATUSES
from gwsload.gws.calls import CallTable
from gwsload.gws.config import AgentConfig, AgentError
from gwsload.gws.errors import GwsApiError, GwsSettingError, GwsTransportError
from gwsload.gws.matcher import CALL_STATE_CHANGE_MESSAGE, ERROR_MESSAGE, NotificationMatcher
from gwsload.gws.outcomes import Anomaly, Outcome
from gwsload.gws.protocol import ME_PATH, is_csrf_refusal, operation_body, server_stamp
from gwsload.gws.session import GwsSession, Response

#: longest Retry-After honoured (a longer one is a server outage: the life's back-off rules)
MAX_RETRY_AFTER_S = 60.0

__all__ = ["AgentCore"]


OutcomeSink = Callable[[Outcome], None]
AnomalySink = Callable[[Anomaly], None]
RequestSink = Callable[[str, "Response | None", "Exception | None"], None]
IncidentSink = Callable[[Incident], None]


class AgentCore:
    """One agent's connections and views: a :class:`GwsSession`, a CometD client, the
    call table and the notification matcher; the flow is :class:`~gwsload.gws.agent.Agent`.

    Args:
        config: connection and behaviour settings.
        on_outcome: called with each final operation outcome.
        on_anomaly: called with each late / duplicate / unexpected notification.
        on_request: called after every REST exchange with (operation, response or
            None, error or None): lets a Locust user report it.
        on_incident: CometD incidents (reconnects, re-handshakes...).
        wall_offset: ``time.time() - time.perf_counter()``; read once per process
            so all agents share it.
        connections: the process's shared connection pools (REST and CometD requests
            other than the held connect); None: connections of this agent's own.
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
        connections: SharedConnections | None = None,
    ) -> None:
        if config.transport not in TRANSPORTS:
            raise GwsSettingError(
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
            connections=connections,
        )
        self._connections = connections
        self.matcher = NotificationMatcher(
            agent=config.user,
            timeout_s=config.notification_timeout_s,
            wall_offset=time.time() - time.perf_counter() if wall_offset is None else wall_offset,
        )
        self._on_incident = on_incident
        self.cometd = self._new_cometd()
        self._on_outcome = on_outcome
        self._on_anomaly = on_anomaly
        self._on_request = on_request
        #: a throttling server's Retry-After: no request of this agent before this
        #: monotonic time (the operation it refused is an outcome; the wait delays the next)
        self._quiet_until = 0.0
        self.device_id: str | None = config.device_id
        #: the live calls, as last notified (Released calls are dropped)
        self.calls = CallTable()
        #: the call whose recording is operated
        self.call_id: str | None = None
        #: True once login() completed (Ready)
        self.logged_in = False
        self._contact_center_session = False
        self._listening = False
        self._cometd_used = False
        #: the JSESSIONID of the current login (a different one means the server lost it)
        self._session_cookie: str | None = None
        self._changed = Event()

    def _new_cometd(self) -> CometdClient:
        return CometdClient(
            self.session.notifications_url,
            transport=cast(TransportName, self.config.transport),
            headers=self.session.auth_headers(),
            cookies=self.session.cookies,
            verify_tls=self.config.verify_tls,
            ca_file=self.config.ca_file,
            on_incident=self._on_incident,
            connections=self._connections,
        )

    # -- REST ---------------------------------------------------------------------

    def _exchange(self, method: str, path: str, body: bytes | None, operation: str) -> Response:
        quiet_s = self._quiet_until - time.monotonic()
        if quiet_s > 0:
            gevent.sleep(quiet_s)
        try:
            response = self.session.request(method, path, body, operation=operation)
            if (
                response.retry_after_s is not None
                and response.http_status in THROTTLE_HTTP_STATUSES
            ):
                wait_s = min(response.retry_after_s, MAX_RETRY_AFTER_S)
                self._quiet_until = time.monotonic() + wait_s
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

    @property
    def recording_state(self) -> str | None:
        """The recording state of the agent's call, as last notified."""
        return self.calls.recording_state(self.call_id)

    def call_state(self, call_id: str) -> str | None:
        return self.calls.state(call_id)

    # -- notifications (listener greenlet) ---------------------------------------

    def _on_calls_message(self, message: Mapping[str, Any]) -> None:
        data = message.get("data")
        if not isinstance(data, dict):
            return
        received = message.get("_received")
        now = received if isinstance(received, float) else time.perf_counter()
        if data.get("messageType") == ERROR_MESSAGE:
            # an accepted operation failed behind GWS: it ends now, with the server's text
            self._emit(self.matcher.on_error_message(data, now))
            return
        if data.get("messageType") != CALL_STATE_CHANGE_MESSAGE:
            return
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
