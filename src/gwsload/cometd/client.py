"""CometdClient: the gevent driver of the sans-IO Bayeux client session.

The :class:`~gwsload.bayeux.ClientSession` decides everything (what to
send, when, what a reply means); this module only moves bytes through a
transport, keeps one timer armed at ``session.get_timer()``, lets callers wait
for their replies, and calls the subscribers. One method, ``_pump``, runs the
session (timers, then due batches); it runs after every call, every received
payload, every failure and every timer, and never in two greenlets at once (a
second caller leaves the work to the one inside, which loops once more).

Deliveries are the hot path: the payload is parsed once, stamped with
``time.perf_counter()`` in ``message["_received"]``, and handed to the
callbacks of the channel (and of matching wildcard subscriptions) in the
greenlet that read it: the listener (long-polling /meta/connect, or the
websocket reader). A CometD server may also put events on the response to a
publish or subscribe; those run in the greenlet that sent it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Literal

import gevent
from gevent.event import AsyncResult

from gwsload.bayeux import (
    DEFAULT_CONNECT_HOLD_MS,
    DEFAULT_MAX_NETWORK_DELAY,
    Batch,
    ClientSession,
    ClientState,
    Connected,
    Delivery,
    Disconnected,
    Event,
    HandshakeAccepted,
    HandshakeRejected,
    Lane,
    LocalProtocolError,
    PublishAccepted,
    PublishRejected,
    ReconnectAdvised,
    RemoteProtocolError,
    RequestTimedOut,
    SubscribeAccepted,
    SubscribeRejected,
    UnsubscribeAccepted,
    UnsubscribeRejected,
    is_wildcard,
    patterns_matching,
)
from gwsload.cometd.errors import CometdError, CometdSettingError, TransportError
from gwsload.cometd.incident import Incident, IncidentKind
from gwsload.cometd.transports.base import Transport
from gwsload.cometd.transports.long_polling import LongPollingTransport
from gwsload.cometd.transports.shared import SharedConnections
from gwsload.cometd.transports.websocket import WebSocketTransport
from gwsload.contract.operations import TRANSPORTS
from gwsload.cookies import CookieJar

__all__ = ["Callback", "CometdClient", "TransportName"]

logger = logging.getLogger(__name__)

Callback = Callable[[dict[str, Any]], None]
#: the transports' names for type checkers: a Literal cannot be built from the
#: contract's TRANSPORTS, so a unit test holds the two equal
TransportName = Literal["long-polling", "websocket"]

#: a /meta/connect leaving this many seconds after it was due is a listener gap
#: (the process was too busy to run the listener): worth an incident
LISTENER_GAP_S = 1.0

_REPLY_TYPES = (
    SubscribeAccepted,
    SubscribeRejected,
    UnsubscribeAccepted,
    UnsubscribeRejected,
    PublishAccepted,
    PublishRejected,
)


class CometdClient:
    """A CometD (Bayeux) client for gevent: long-polling or websocket.

    Args:
        url: the CometD endpoint, e.g. ``http://127.0.0.1:8080/api/v2/notifications``
            (``ws://``/``wss://`` is derived for the websocket transport).
        transport: ``"long-polling"``, ``"websocket"``, or a transport object
            (e.g. the in-memory one).
        headers: sent on every request / the websocket upgrade (auth, CSRF, Origin).
        cookies: the jar shared with the REST session; updated from every response.
        verify_tls: verify certificates and host names (turn off only for lab systems).
        ca_file: an extra CA bundle to trust (e.g. a lab CA) while verifying.
        on_incident: called with each :class:`Incident` (reconnects, re-handshakes,
            transport errors, listener gaps); runs in the greenlet that saw it.
        ack: ask for the acknowledgement extension (guaranteed, ordered delivery).
        connections: long-polling only: the process's shared connection pools for
            every request but the held connect (None: a second connection of its own).
    """

    def __init__(
        self,
        url: str,
        transport: TransportName | Transport = "long-polling",
        *,
        headers: dict[str, str] | None = None,
        cookies: CookieJar | None = None,
        verify_tls: bool = True,
        ca_file: str | None = None,
        on_incident: Callable[[Incident], None] | None = None,
        ack: bool = False,
        max_network_delay: float = DEFAULT_MAX_NETWORK_DELAY,
        connect_timeout: float = 10.0,
        connections: SharedConnections | None = None,
    ) -> None:
        self.url = url
        options: dict[str, Any] = {
            "headers": headers,
            "cookies": cookies,
            "verify_tls": verify_tls,
            "ca_file": ca_file,
            "connect_timeout": connect_timeout,
        }
        if transport == "long-polling":
            self._transport: Transport = LongPollingTransport(
                url, connections=connections, **options
            )
        elif transport == "websocket":
            self._transport = WebSocketTransport(url, **options)
        elif isinstance(transport, str):
            raise CometdSettingError(
                f"transport must be one of {list(TRANSPORTS)}, got {transport!r}"
            )
        else:
            self._transport = transport
        self._session = ClientSession(
            (self._transport.connection_type,), ack=ack, max_network_delay=max_network_delay
        )
        self._max_network_delay = max_network_delay
        self._on_incident = on_incident
        self._callbacks: dict[str, list[Callback]] = {}
        self._wildcards = 0
        self._waiters: dict[str, AsyncResult[Any]] = {}
        self._handshake_waiter: AsyncResult[Any] | None = None
        self._disconnect_waiter: AsyncResult[Any] | None = None
        self._pumping = False
        self._again = False
        self._timer: Any = None
        self._timer_at: float | None = None
        self._last_failure = ""
        self._outage: tuple[float, str, IncidentKind] | None = None
        self._closed = False
        self._transport.start(self)

    # -- public ---------------------------------------------------------------

    @property
    def client_id(self) -> str | None:
        return self._session.client_id

    @property
    def state(self) -> ClientState:
        return self._session.state

    @property
    def connected(self) -> bool:
        return self._session.state is ClientState.CONNECTED

    @property
    def session(self) -> ClientSession:
        """The sans-IO session (read its ``advice``, ``subscriptions``; do not drive it)."""
        return self._session

    def handshake(self, timeout: float = 10.0) -> None:
        """Open the session; retries transport failures until ``timeout``.

        Raises:
            CometdError: refused by the server (a Bayeux refusal or an HTTP 4xx), or
                no answer within ``timeout`` (the message gives the last error).
        """
        if self._closed:
            raise CometdError(f"handshake with {self.url}: the client is closed")
        try:
            self._session.handshake()
        except LocalProtocolError as exc:
            raise CometdError(f"handshake with {self.url}: {exc}") from None
        waiter: AsyncResult[Any] = AsyncResult()
        self._handshake_waiter = waiter
        self._last_failure = ""
        self._pump()
        try:
            result = waiter.get(timeout=timeout)
        except gevent.Timeout:
            self._give_up()
            raise CometdError(
                f"no handshake with {self.url} within {timeout:g} s{self._last_error()}"
            ) from None
        finally:
            self._handshake_waiter = None
        if isinstance(result, HandshakeRejected):
            raise CometdError(f"handshake refused by {self.url}: {result.failure}")
        if isinstance(result, TransportError):
            self._give_up()
            raise CometdError(f"handshake refused: {result}")

    def subscribe(self, channel: str, callback: Callback, timeout: float = 10.0) -> None:
        """Subscribe and wait for the server's answer; ``callback(message)`` per delivery.

        The subscription is renewed by itself after a lost session. Raises
        ``CometdError`` when refused or not answered within ``timeout``.
        """
        try:
            rid = self._session.subscribe(channel)
        except LocalProtocolError as exc:
            raise CometdError(str(exc)) from None
        self._callbacks.setdefault(channel, []).append(callback)
        if is_wildcard(channel):
            self._wildcards += 1
        event = self._request(rid, f"subscribe to {channel}", timeout)
        if isinstance(event, SubscribeRejected):
            self._forget(channel, callback)
            raise CometdError(f"subscribe to {channel} refused by {self.url}: {event.failure}")

    def unsubscribe(self, channel: str, timeout: float = 10.0) -> None:
        try:
            rid = self._session.unsubscribe(channel)
        except LocalProtocolError as exc:
            raise CometdError(str(exc)) from None
        for callback in list(self._callbacks.get(channel, ())):
            self._forget(channel, callback)
        event = self._request(rid, f"unsubscribe from {channel}", timeout)
        if isinstance(event, UnsubscribeRejected):
            raise CometdError(f"unsubscribe from {channel} refused by {self.url}: {event.failure}")

    def publish(self, channel: str, data: Any, timeout: float = 10.0, wait: bool = True) -> None:
        """Publish ``data``; with ``wait`` (default), wait for the server's answer."""
        try:
            rid = self._session.publish(channel, data)
        except LocalProtocolError as exc:
            raise CometdError(str(exc)) from None
        if not wait:
            self._pump()
            return
        event = self._request(rid, f"publish to {channel}", timeout)
        if isinstance(event, PublishRejected):
            raise CometdError(f"publish to {channel} refused by {self.url}: {event.failure}")

    def disconnect(self, timeout: float = 5.0) -> None:
        """Tell the server goodbye (best effort, up to ``timeout``), then ``close()``."""
        if self._session.state in (ClientState.CONNECTING, ClientState.CONNECTED):
            waiter: AsyncResult[Any] = AsyncResult()
            self._disconnect_waiter = waiter
            self._session.disconnect()
            self._pump()
            try:
                waiter.get(timeout=timeout)
            except gevent.Timeout:
                logger.info("no /meta/disconnect reply from %s within %g s", self.url, timeout)
        self.close()

    def close(self) -> None:
        """Stop the listener and the timer, release the sockets; no message is sent."""
        if self._closed:
            return
        self._closed = True
        if self._outage is not None:
            started, cause, kind = self._outage
            self._outage = None
            self._incident(
                kind,
                f"{cause} (not restored before close)",
                ts=started,
                duration_ms=(time.time() - started) * 1000,
            )
        if self._session.state is not ClientState.DISCONNECTED:
            self._session.close()
        self._cancel_timer()
        self._transport.close()
        ended = CometdError(f"{self.url}: the client was closed")
        waiters = list(self._waiters.values())
        self._waiters.clear()
        for waiter in [*waiters, self._handshake_waiter, self._disconnect_waiter]:
            if waiter is not None and not waiter.ready():
                waiter.set(ended)

    # -- the sink the transport feeds ------------------------------------------

    def on_payload(self, payload: str | bytes, batch: Batch | None) -> None:
        now = time.monotonic()
        replies = self._session.replies_received
        try:
            events = self._session.receive(payload, now)
        except RemoteProtocolError as exc:
            self.on_failure(TransportError(f"{self.url}: not a Bayeux answer: {exc}"), batch)
            return
        stamp = time.perf_counter()
        for event in events:
            if type(event) is Delivery:
                self._deliver(event, stamp)
            else:
                self._handle(event)
        if self._session.replies_received != replies:
            self._pump()  # (deliveries alone change nothing to send: skip it)

    def on_failure(self, error: TransportError, batch: Batch | None) -> None:
        if self._closed or self._session.state is ClientState.DISCONNECTED:
            return  # e.g. faye closes the websocket after answering /meta/disconnect
        now = time.monotonic()
        self._last_failure = str(error)
        self._incident("transport_error", str(error))
        events = self._session.transport_failed(now, str(error), batch)
        for event in events:
            self._handle(event)
        waiter = self._handshake_waiter
        if (
            error.refused
            and batch is not None
            and "/meta/handshake" in batch.channels
            and waiter is not None
            and not waiter.ready()
        ):
            waiter.set(error)  # an HTTP 4xx to the handshake: retrying will not help
            return
        self._pump()

    # -- internals ------------------------------------------------------------

    def _request(self, rid: str, what: str, timeout: float) -> Event:
        waiter: AsyncResult[Any] = AsyncResult()
        self._waiters[rid] = waiter
        self._pump()
        try:
            result = waiter.get(timeout=timeout)
        except gevent.Timeout:
            self._waiters.pop(rid, None)
            raise CometdError(
                f"{what}: no answer from {self.url} within {timeout:g} s{self._last_error()}"
            ) from None
        if isinstance(result, CometdError):
            raise CometdError(f"{what}: {result}")
        if isinstance(result, Disconnected):
            raise CometdError(f"{what}: the session ended ({result.failure})")
        event: Event = result
        return event

    def _deliver(self, event: Delivery, stamp: float) -> None:
        message = event.message
        message["_received"] = stamp
        callbacks = self._callbacks.get(event.channel)
        if callbacks:
            for callback in callbacks:
                self._call(callback, message)
        if self._wildcards:
            for pattern in patterns_matching(event.channel)[1:]:
                for callback in self._callbacks.get(pattern, ()):
                    self._call(callback, message)

    def _call(self, callback: Callback, message: dict[str, Any]) -> None:
        try:
            callback(message)
        except Exception:  # a subscriber's bug must not stop the listener
            logger.exception("subscriber callback failed on %s", message.get("channel"))

    def _forget(self, channel: str, callback: Callback) -> None:
        callbacks = self._callbacks.get(channel)
        if callbacks and callback in callbacks:
            callbacks.remove(callback)
            if is_wildcard(channel):
                self._wildcards -= 1
            if not callbacks:
                del self._callbacks[channel]

    def _handle(self, event: Event) -> None:
        if isinstance(event, _REPLY_TYPES):
            waiter = self._waiters.pop(event.request_id, None)
            if waiter is not None:
                waiter.set(event)
            elif isinstance(event, SubscribeRejected):
                self._incident("rehandshake", f"renewing {event.channel} refused: {event.failure}")
        elif isinstance(event, Connected):
            outage = event.outage
            if outage is not None:
                self._incident(
                    "rehandshake" if outage.rehandshake else "reconnect",
                    outage.cause,
                    ts=time.time() - (time.monotonic() - outage.started),
                    duration_ms=outage.duration * 1000,
                )
            self._outage = None
        elif isinstance(event, ReconnectAdvised):
            if self._outage is None:
                kind: IncidentKind = "reconnect" if event.action.value == "retry" else "rehandshake"
                self._outage = (time.time(), event.cause, kind)
        elif isinstance(event, HandshakeAccepted | HandshakeRejected):
            waiter = self._handshake_waiter
            if isinstance(event, HandshakeRejected) and not event.final:
                self._last_failure = str(event.failure)
            elif waiter is not None and not waiter.ready():
                waiter.set(event)
            elif isinstance(event, HandshakeRejected):
                self._incident("rehandshake", f"handshake refused: {event.failure}")
        elif isinstance(event, RequestTimedOut):
            self._incident("transport_error", f"no reply to {event.channel} in time")
            self._transport.reset()
        elif isinstance(event, Disconnected):
            if event.failure is not None:
                self._incident("reconnect", f"the server ended the session: {event.failure}")
            waiters = list(self._waiters.values())
            self._waiters.clear()
            for waiter in [*waiters, self._disconnect_waiter]:
                if waiter is not None and not waiter.ready():
                    waiter.set(event)

    def _pump(self) -> None:
        """Run the session: expire what is overdue, send what is due, re-arm the timer.

        The connect lane never waits behind the immediate lane: a due /meta/connect
        goes out from whichever greenlet pumps (handing it over does not block),
        while immediate exchanges (which may block on the network) are made by one
        greenlet at a time; a second one leaves its work to the first, which loops.
        """
        if self._closed:
            return
        self._send_connect()
        if self._pumping:
            self._again = True
            self._arm_timer()
            return
        self._pumping = True
        try:
            while True:
                self._again = False
                for batch in self._session.outbound(time.monotonic(), Lane.IMMEDIATE):
                    self._transport.send(batch, self._max_network_delay)
                if self._closed:
                    break
                self._send_connect()
                if not self._again:
                    break
        finally:
            self._pumping = False
        self._arm_timer()

    def _send_connect(self) -> None:
        now = time.monotonic()
        for event in self._session.handle_timer(now):
            self._handle(event)
        due = self._session.get_timer()
        for batch in self._session.outbound(now, Lane.CONNECT):
            self._transport.send(batch, self._timeout(batch, now, due))

    def _timeout(self, batch: Batch, now: float, due: float | None) -> float:
        if due is not None and now - due > LISTENER_GAP_S:
            self._incident(
                "listener_gap",
                "/meta/connect left late",
                ts=time.time() - (now - due),
                duration_ms=(now - due) * 1000,
            )
        hold = self._session.advice.timeout or DEFAULT_CONNECT_HOLD_MS
        return max(hold, 0) / 1000 + self._max_network_delay

    def _arm_timer(self) -> None:
        when = None if self._closed else self._session.get_timer()
        if when == self._timer_at and (when is None or self._timer is not None):
            return
        self._cancel_timer()
        if when is None:
            return
        self._timer_at = when
        self._timer = gevent.get_hub().loop.timer(max(0.0, when - time.monotonic()))
        self._timer.start(self._on_timer)

    def _on_timer(self) -> None:
        # runs in the hub, which must not block: the work goes to a greenlet
        self._cancel_timer()
        gevent.spawn(self._pump)

    def _cancel_timer(self) -> None:
        timer, self._timer = self._timer, None
        self._timer_at = None
        if timer is not None:
            timer.close()

    def _give_up(self) -> None:
        if self._session.state is not ClientState.DISCONNECTED:
            self._session.close()
        self._cancel_timer()
        self._transport.reset()

    def _last_error(self) -> str:
        return f"; last error: {self._last_failure}" if self._last_failure else ""

    def _incident(
        self,
        kind: IncidentKind,
        detail: str,
        *,
        ts: float | None = None,
        duration_ms: float | None = None,
    ) -> None:
        if self._on_incident is None:
            return
        incident = Incident(ts if ts is not None else time.time(), kind, detail, duration_ms)
        try:
            self._on_incident(incident)
        except Exception:
            logger.exception("on_incident callback failed for %s", incident)
