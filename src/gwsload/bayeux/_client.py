"""The Bayeux client session: a state machine with no I/O and no clock.

Theory of operation. A :class:`ClientSession` has three inputs and two outputs:

* calls from its owner: ``handshake()``, ``subscribe()``, ``unsubscribe()``,
  ``publish()``, ``disconnect()``, ``close()``. They only queue messages (and
  raise ``LocalProtocolError``, changing nothing, when illegal in the state);
* payloads received (``receive(payload, now)``) and transport failures
  (``transport_failed(now, cause, batch)``), each returning events;
* the passing of time: ``get_timer()`` says when ``handle_timer(now)`` must be
  called (a scheduled /meta/connect after ``advice.interval``, a back-off, a
  request without a reply in time).

``outbound(now, lane)`` says what to send now, as :class:`Batch` es on two
lanes: the held /meta/connect (over long-polling its own HTTP connection) and
everything else (answered at once). The owner sends a batch, hands the reply
to ``receive`` or the failure to ``transport_failed``, and acts on the events.

Replies are matched by ``id`` *and* by the presence of ``successful``: faye
keeps a publisher's id on the events it delivers, so an event may carry the id
of one of our own requests. Events and replies may come in any order inside a
payload (faye puts the connect reply first, CometD last); every message is
handled on its own. The last advice is kept field by field (CometD leaves it
off later connect replies). A lost session (advice ``reconnect: handshake``,
``402::session_unknown``, faye's ``401:<id>:Unknown client``, or ``maxInterval``
passed while unconnected) is handshaken again and every subscription renewed;
requests the server refused for that reason are sent again on the new session.
Back-off after failures grows exponentially with jitter (the random source is
passed in). The whole state graph is in :mod:`gwsload.bayeux._state`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Final

from gwsload.bayeux._channels import is_meta, is_valid_channel, is_wildcard
from gwsload.bayeux._client_events import (
    Batch,
    Connected,
    Delivery,
    Disconnected,
    Event,
    HandshakeAccepted,
    HandshakeRejected,
    Lane,
    Outage,
    PublishAccepted,
    PublishRejected,
    ReconnectAdvised,
    RequestTimedOut,
    SubscribeAccepted,
    SubscribeRejected,
    UnsubscribeAccepted,
    UnsubscribeRejected,
)
from gwsload.bayeux._client_wire import is_session_unknown, parse_payload
from gwsload.bayeux._codec import encode
from gwsload.bayeux._errors import BayeuxFailure, LocalProtocolError
from gwsload.bayeux._messages import Advice, ConnectionType, Message, MetaChannel, Reconnect
from gwsload.bayeux._state import ClientState, Trigger, next_state

__all__ = ["ClientSession"]

#: how long a server holds /meta/connect until it advises otherwise (faye's and CometD's default)
DEFAULT_CONNECT_HOLD_MS: Final = 30_000
#: extra time allowed for a reply to reach us (the CometD JavaScript client's maxNetworkDelay)
DEFAULT_MAX_NETWORK_DELAY: Final = 10.0
#: first non-zero back-off; it doubles on every failure in a row, up to the maximum
DEFAULT_BACKOFF_FIRST: Final = 0.5
#: the CometD JavaScript client caps its back-off at 60 s; a load agent should come back sooner
DEFAULT_BACKOFF_MAX: Final = 30.0

_HANDSHAKE = MetaChannel.HANDSHAKE.value
_CONNECT = MetaChannel.CONNECT.value
_SUBSCRIBE = MetaChannel.SUBSCRIBE.value
_UNSUBSCRIBE = MetaChannel.UNSUBSCRIBE.value
_DISCONNECT = MetaChannel.DISCONNECT.value


@dataclass(slots=True)
class _Request:
    """A request on the wire, waiting for its reply."""

    message: Message  # as queued, without clientId, so it can be sent again
    lane: Lane
    deadline: float


class ClientSession:
    """One Bayeux client session, driven by its owner (see the module docstring).

    Args:
        connection_types: the types the owner's transport speaks, preferred first;
            the handshake advertises them and the first one the server also lists wins.
        ack: ask for the acknowledgement extension (``ext.ack``) in the handshake.
        max_network_delay: seconds a reply may take beyond the server's hold time.
        backoff_first, backoff_max: back-off bounds, seconds.
        rng: random source for the back-off jitter (seed it in tests).
    """

    def __init__(
        self,
        connection_types: tuple[str, ...] = (ConnectionType.LONG_POLLING.value,),
        *,
        ack: bool = False,
        max_network_delay: float = DEFAULT_MAX_NETWORK_DELAY,
        backoff_first: float = DEFAULT_BACKOFF_FIRST,
        backoff_max: float = DEFAULT_BACKOFF_MAX,
        rng: random.Random | None = None,
    ) -> None:
        if not connection_types:
            raise ValueError("connection_types must name at least one connection type")
        self._types = connection_types
        self._ack_wanted = ack
        self._max_network_delay = max_network_delay
        self._backoff_first = backoff_first
        self._backoff_max = backoff_max
        self._rng = rng if rng is not None else random.Random()
        self._state = ClientState.DISCONNECTED
        self._last_id = 0
        self._replies = 0
        self._events: list[Event] = []
        self._subscriptions: dict[str, None] = {}  # an ordered set
        self._reset_session()

    def _reset_session(self) -> None:
        self._client_id: str | None = None
        self._connection_type: str | None = None
        self._advice = Advice()
        self._ack = False
        self._ack_batch = 0
        self._queue: list[Message] = []
        self._pending: dict[str, _Request] = {}
        self._handshake_due: float | None = None
        self._handshake_id: str | None = None
        self._rehandshake = False
        self._connect_due: float | None = None
        self._connect_id: str | None = None
        self._attempts = 0
        self._outage_started: float | None = None
        self._outage_cause = ""
        self._outage_rehandshake = False

    # -- read-only views ------------------------------------------------------

    @property
    def state(self) -> ClientState:
        return self._state

    @property
    def client_id(self) -> str | None:
        return self._client_id

    @property
    def connection_type(self) -> str | None:
        return self._connection_type

    @property
    def advice(self) -> Advice:
        """The last advice, every field kept from the latest reply that had it."""
        return self._advice

    @property
    def ack_enabled(self) -> bool:
        return self._ack

    @property
    def replies_received(self) -> int:
        """Replies (not deliveries) handled so far. A payload that added none changed
        nothing but deliveries, so a driver may skip its send step after it."""
        return self._replies

    @property
    def subscriptions(self) -> tuple[str, ...]:
        return tuple(self._subscriptions)

    # -- calls ----------------------------------------------------------------

    def handshake(self) -> None:
        """Open a session: the handshake is due at once (see ``outbound``)."""
        self._move(Trigger.CALL_HANDSHAKE)
        self._reset_session()
        self._subscriptions.clear()
        self._handshake_due = float("-inf")

    def subscribe(self, channel: str) -> str:
        """Queue a /meta/subscribe; returns its request id."""
        if not is_valid_channel(channel) or is_meta(channel):
            raise LocalProtocolError(
                f"cannot subscribe to {channel!r}: expected a channel like /a/b, /a/* or /a/**"
                " outside /meta"
            )
        self._move(Trigger.CALL_MESSAGE)
        self._subscriptions[channel] = None
        return self._enqueue(Message(_SUBSCRIBE, subscription=channel))

    def unsubscribe(self, channel: str) -> str:
        """Queue a /meta/unsubscribe; the channel is not renewed after a re-handshake."""
        if channel not in self._subscriptions:
            raise LocalProtocolError(f"cannot unsubscribe from {channel!r}: not subscribed")
        self._move(Trigger.CALL_MESSAGE)
        del self._subscriptions[channel]
        return self._enqueue(Message(_UNSUBSCRIBE, subscription=channel))

    def publish(self, channel: str, data: Any, ext: dict[str, Any] | None = None) -> str:
        """Queue a publish; returns its request id."""
        if not is_valid_channel(channel) or is_meta(channel) or is_wildcard(channel):
            raise LocalProtocolError(
                f"cannot publish to {channel!r}: expected a channel like /a/b,"
                " without wildcards, outside /meta"
            )
        self._move(Trigger.CALL_MESSAGE)
        return self._enqueue(Message(channel, data=data, ext=ext))

    def disconnect(self) -> str | None:
        """Queue a /meta/disconnect; returns its id, or None when no session existed.

        Without a clientId yet there is nothing to tell the server: the session
        ends at once and ``Disconnected`` comes with the next ``handle_timer``.
        """
        if self._client_id is None:
            self._move(Trigger.CALL_DISCONNECT_UNSENT)
            self._reset_session()
            self._events.append(Disconnected())
            return None
        self._move(Trigger.CALL_DISCONNECT)
        self._connect_due = None
        return self._enqueue(Message(_DISCONNECT))

    def close(self) -> None:
        """Forget the session without telling the server (the transport is gone)."""
        self._move(Trigger.CALL_CLOSE)
        self._reset_session()

    # -- what to send ---------------------------------------------------------

    def outbound(self, now: float, lane: Lane | None = None) -> list[Batch]:
        """The batches due at ``now`` on ``lane`` (both lanes when None)."""
        batches: list[Batch] = []
        if lane is not Lane.CONNECT:
            messages = self._due_immediate(now)
            if messages:
                batches.append(self._batch(Lane.IMMEDIATE, messages))
        if lane is not Lane.IMMEDIATE:
            connect = self._due_connect(now)
            if connect is not None:
                batches.append(self._batch(Lane.CONNECT, [connect]))
        return batches

    def _due_immediate(self, now: float) -> list[Message]:
        if (
            self._state is ClientState.HANDSHAKING
            and self._handshake_id is None
            and self._handshake_due is not None
            and self._handshake_due <= now
        ):
            self._handshake_due = None
            self._handshake_id = self._new_id()
            message = Message(
                _HANDSHAKE,
                id=self._handshake_id,
                version="1.0",
                minimum_version="1.0",
                supported_connection_types=self._types,
                ext={"ack": True} if self._ack_wanted else None,
            )
            self._pending[self._handshake_id] = _Request(
                message, Lane.IMMEDIATE, now + self._max_network_delay
            )
            return [message]
        if self._client_id is None or not self._queue:
            return []
        deadline = now + self._max_network_delay
        sent = []
        for message in self._queue:
            assert message.id is not None
            self._pending[message.id] = _Request(message, Lane.IMMEDIATE, deadline)
            sent.append(message.evolve(client_id=self._client_id))
        self._queue = []
        return sent

    def _due_connect(self, now: float) -> Message | None:
        if (
            self._state not in (ClientState.CONNECTING, ClientState.CONNECTED)
            or self._connect_id is not None
            or self._connect_due is None
            or self._connect_due > now
        ):
            return None
        self._connect_due = None
        self._connect_id = self._new_id()
        # until a connect succeeds (after the handshake or a failure), ask for an
        # immediate reply so the connection is known to work at once (as CometD does)
        unconnected = self._state is ClientState.CONNECTING
        hold_ms = 0 if unconnected else (self._advice.timeout or DEFAULT_CONNECT_HOLD_MS)
        message = Message(
            _CONNECT,
            id=self._connect_id,
            client_id=self._client_id,
            connection_type=self._connection_type,
            advice=Advice(timeout=0) if unconnected else None,
            ext={"ack": self._ack_batch} if self._ack else None,
        )
        deadline = now + max(hold_ms, 0) / 1000 + self._max_network_delay
        self._pending[self._connect_id] = _Request(message, Lane.CONNECT, deadline)
        return message

    def _batch(self, lane: Lane, messages: list[Message]) -> Batch:
        return Batch(
            lane,
            encode(messages),
            tuple(m.id for m in messages if m.id is not None),
            tuple(m.channel or "" for m in messages),
        )

    # -- time -----------------------------------------------------------------

    def get_timer(self) -> float | None:
        """When ``handle_timer`` (then ``outbound``) must run next; None: nothing to wait for."""
        when: float | None = None
        if self._state is ClientState.HANDSHAKING and self._handshake_id is None:
            when = self._handshake_due
        elif (
            self._state in (ClientState.CONNECTING, ClientState.CONNECTED)
            and self._connect_id is None
        ):
            when = self._connect_due
        for request in self._pending.values():
            if when is None or request.deadline < when:
                when = request.deadline
        return when

    def handle_timer(self, now: float) -> list[Event]:
        """Fail the requests whose reply is overdue; return the pending events."""
        events = self._take_events()
        expired = [rid for rid, req in self._pending.items() if req.deadline <= now]
        for rid in expired:
            request = self._pending.pop(rid)
            channel = request.message.channel or ""
            events.append(RequestTimedOut(rid, channel))
            self._request_failed(rid, request, now, f"timeout: no reply to {channel}", events)
        return events

    # -- what came back -------------------------------------------------------

    def receive(self, payload: str | bytes, now: float) -> list[Event]:
        """Handle one received payload (an HTTP body or a websocket frame).

        Raises:
            RemoteProtocolError: the payload is not a Bayeux message array; nothing
                in it was handled (the owner treats it as a transport failure).
        """
        if self._state is ClientState.DISCONNECTED:
            return self._take_events()
        parsed = parse_payload(payload)
        events = self._take_events()
        for item in parsed:
            if type(item) is Delivery:
                events.append(item)
            else:
                assert isinstance(item, Message)
                self._replies += 1
                self._reply(item, now, events)
        return events

    def transport_failed(self, now: float, cause: str, batch: Batch | None = None) -> list[Event]:
        """The batch (or, when None, every request in flight) was lost on the way."""
        events = self._take_events()
        ids = batch.ids if batch is not None else tuple(self._pending)
        for rid in ids:
            request = self._pending.pop(rid, None)
            if request is not None:
                self._request_failed(rid, request, now, f"transport: {cause}", events)
        return events

    # -- internals ------------------------------------------------------------

    def _move(self, trigger: Trigger) -> bool:
        new = next_state(self._state, trigger)
        if new is None:
            return False
        self._state = new
        return True

    def _new_id(self) -> str:
        self._last_id += 1
        return str(self._last_id)

    def _enqueue(self, message: Message) -> str:
        rid = self._new_id()
        self._queue.append(message.evolve(id=rid))
        return rid

    def _take_events(self) -> list[Event]:
        events, self._events = self._events, []
        return events

    def _backoff(self) -> float:
        """0 for the first failure in a row, then doubling with jitter (50-100 %)."""
        self._attempts += 1
        if self._attempts == 1:
            return 0.0
        ceiling = min(self._backoff_max, self._backoff_first * 2.0 ** (self._attempts - 2))
        return ceiling * (0.5 + 0.5 * self._rng.random())

    def _interval(self) -> float:
        return max(self._advice.interval or 0, 0) / 1000

    def _unconnected(self, now: float, cause: str) -> None:
        if self._outage_started is None:
            self._outage_started = now
            self._outage_cause = cause

    def _reply(self, message: Message, now: float, events: list[Event]) -> None:
        if message.advice is not None:
            self._advice = self._advice.merged(message.advice)
        request = self._pending.pop(message.id, None) if message.id is not None else None
        if request is None:
            return  # a reply to nothing we wait for (late, or after a re-handshake)
        channel = request.message.channel
        if channel == _CONNECT:
            self._connect_reply(message, now, events)
        elif channel == _HANDSHAKE:
            self._handshake_reply(message, now, events)
        elif channel == _DISCONNECT:
            if self._move(Trigger.DISCONNECT_DONE):
                self._reset_session()
                self._subscriptions.clear()
                events.append(Disconnected())
        else:
            self._message_reply(request, message, now, events)

    def _handshake_reply(self, message: Message, now: float, events: list[Event]) -> None:
        self._handshake_id = None
        if self._state is not ClientState.HANDSHAKING:
            return
        failure: BayeuxFailure | None = None
        chosen: str | None = None
        if message.successful:
            offered = message.supported_connection_types
            chosen = next((t for t in self._types if offered is None or t in offered), None)
            if not message.client_id:
                failure = BayeuxFailure(None, (), "handshake reply without clientId")
            elif chosen is None:
                failure = BayeuxFailure(301, (), self._no_common_type(offered))
        elif message.supported_connection_types is not None and not any(
            t in message.supported_connection_types for t in self._types
        ):
            failure = BayeuxFailure(
                301, (), self._no_common_type(message.supported_connection_types)
            )
        else:
            failure = BayeuxFailure.parse(message.error or "handshake refused")
        if failure is None and message.client_id and chosen is not None:
            self._accept_handshake(message.client_id, chosen, message, now, events)
            return
        assert failure is not None
        reconnect = message.advice.reconnect if message.advice is not None else None
        if not self._rehandshake or reconnect is Reconnect.NONE or message.successful:
            # the first handshake refused, a hard "none", or nothing usable in the reply
            self._move(Trigger.HANDSHAKE_REFUSED)
            self._reset_session()
            events.append(HandshakeRejected(failure, final=True))
            return
        delay = max(self._backoff(), self._interval())
        self._move(Trigger.HANDSHAKE_RETRY)
        self._handshake_due = now + delay
        events.append(HandshakeRejected(failure, final=False, retry_in=delay))

    def _no_common_type(self, offered: tuple[str, ...] | None) -> str:
        return (
            f"the server offers CometD over {', '.join(offered or ()) or 'nothing'}, this "
            f"client speaks {', '.join(self._types)}: no connection type in common"
        )

    def _accept_handshake(
        self, client_id: str, chosen: str, message: Message, now: float, events: list[Event]
    ) -> None:
        self._move(Trigger.HANDSHAKE_ACCEPTED)
        self._client_id = client_id
        self._connection_type = chosen
        if message.advice is None or message.advice.reconnect is None:
            # a stale "handshake" from the failure that brought us here must not stick
            self._advice = self._advice.merged(Advice(reconnect=Reconnect.RETRY))
        ack_field = (message.ext or {}).get("ack")
        self._ack_batch = 0
        if isinstance(ack_field, dict):  # newer CometD servers: {"enabled": true, "batch": n}
            self._ack = self._ack_wanted and ack_field.get("enabled") is True
            batch = ack_field.get("batch")
            if isinstance(batch, int) and not isinstance(batch, bool):
                self._ack_batch = batch
        else:
            self._ack = self._ack_wanted and ack_field is True
        self._connect_due = now
        events.append(HandshakeAccepted(client_id, chosen, self._ack, self._rehandshake))
        if self._rehandshake:
            queued = {m.subscription for m in self._queue if m.channel == _SUBSCRIBE}
            for channel in self._subscriptions:
                if channel not in queued:
                    self._enqueue(Message(_SUBSCRIBE, subscription=channel))

    def _connect_reply(self, message: Message, now: float, events: list[Event]) -> None:
        self._connect_id = None
        if message.successful:
            was = self._state
            if not self._move(Trigger.CONNECT_SUCCEEDED):
                return
            if self._ack and message.ext is not None:
                batch = message.ext.get("ack")
                if isinstance(batch, int) and not isinstance(batch, bool):
                    self._ack_batch = batch
            self._attempts = 0
            self._connect_due = now + self._interval()
            if was is ClientState.CONNECTING:
                assert self._client_id is not None
                outage = None
                if self._outage_started is not None:
                    outage = Outage(
                        self._outage_cause,
                        self._outage_started,
                        now - self._outage_started,
                        self._outage_rehandshake,
                    )
                    self._outage_started = None
                    self._outage_rehandshake = False
                events.append(Connected(self._client_id, outage))
            return
        failure = BayeuxFailure.parse(message.error or "connect refused")
        advised = message.advice.reconnect if message.advice is not None else None
        if advised is None:
            advised = (
                Reconnect.HANDSHAKE
                if is_session_unknown(failure)
                else (self._advice.reconnect or Reconnect.RETRY)
            )
        self._connect_failed(now, str(failure), failure, advised, events)

    def _message_reply(
        self, request: _Request, message: Message, now: float, events: list[Event]
    ) -> None:
        sent = request.message
        rid = sent.id or ""
        if message.successful:
            if sent.channel == _SUBSCRIBE:
                events.append(SubscribeAccepted(rid, _subscription(sent)))
            elif sent.channel == _UNSUBSCRIBE:
                events.append(UnsubscribeAccepted(rid, _subscription(sent)))
            else:
                events.append(PublishAccepted(rid, sent.channel or ""))
            return
        failure = BayeuxFailure.parse(message.error or "refused")
        if is_session_unknown(failure) and self._state is not ClientState.DISCONNECTING:
            # the session is gone: send this again on the new one, same id
            self._queue.append(sent)
            if self._state in (ClientState.CONNECTING, ClientState.CONNECTED):
                self._lose_session(now, str(failure), events)
            return
        self._rejected(rid, sent, failure, events)

    def _rejected(
        self, rid: str, sent: Message, failure: BayeuxFailure, events: list[Event]
    ) -> None:
        if sent.channel == _SUBSCRIBE:
            channel = _subscription(sent)
            self._subscriptions.pop(channel, None)
            events.append(SubscribeRejected(rid, channel, failure))
        elif sent.channel == _UNSUBSCRIBE:
            events.append(UnsubscribeRejected(rid, _subscription(sent), failure))
        else:
            events.append(PublishRejected(rid, sent.channel or "", failure))

    def _request_failed(
        self, rid: str, request: _Request, now: float, cause: str, events: list[Event]
    ) -> None:
        channel = request.message.channel
        failure = BayeuxFailure(None, (), cause)
        if channel == _HANDSHAKE:
            self._handshake_id = None
            if self._state is ClientState.HANDSHAKING:
                delay = self._backoff()
                self._move(Trigger.HANDSHAKE_RETRY)
                self._handshake_due = now + delay
                events.append(HandshakeRejected(failure, final=False, retry_in=delay))
        elif channel == _CONNECT:
            if rid == self._connect_id:
                self._connect_id = None
                self._connect_failed(now, cause, failure, Reconnect.RETRY, events)
        elif channel == _DISCONNECT:
            if self._move(Trigger.DISCONNECT_DONE):
                self._reset_session()
                self._subscriptions.clear()
                events.append(Disconnected())
        else:
            self._rejected(rid, request.message, failure, events)

    def _connect_failed(
        self,
        now: float,
        cause: str,
        failure: BayeuxFailure,
        reconnect: Reconnect,
        events: list[Event],
    ) -> None:
        if self._state not in (ClientState.CONNECTING, ClientState.CONNECTED):
            return
        self._unconnected(now, cause)
        if reconnect is Reconnect.NONE or (self._advice.interval or 0) < 0:
            self._move(Trigger.RECONNECT_NONE)
            self._reset_session()
            events.append(Disconnected(failure))
            return
        if reconnect is Reconnect.HANDSHAKE:
            self._lose_session(now, cause, events)
            return
        delay = max(self._backoff(), self._interval())
        advice = self._advice
        if advice.max_interval is not None and self._outage_started is not None:
            # CometD: past timeout + interval + maxInterval the server has dropped us
            budget = ((advice.timeout or 0) + (advice.interval or 0) + advice.max_interval) / 1000
            if now - self._outage_started + delay > budget:
                self._lose_session(now, f"{cause} (maxInterval passed)", events)
                return
        self._move(Trigger.CONNECT_RETRY)
        self._connect_due = now + delay
        events.append(ReconnectAdvised(Reconnect.RETRY, delay, cause))

    def _lose_session(self, now: float, cause: str, events: list[Event]) -> None:
        if not self._move(Trigger.SESSION_LOST):
            return
        self._unconnected(now, cause)
        self._outage_rehandshake = True
        if self._connect_id is not None:
            self._pending.pop(self._connect_id, None)
        self._client_id = None
        self._connect_id = None
        self._connect_due = None
        self._ack = False
        self._rehandshake = True
        delay = max(self._backoff(), self._interval())
        self._handshake_due = now + delay
        events.append(ReconnectAdvised(Reconnect.HANDSHAKE, delay, cause))


def _subscription(message: Message) -> str:
    sub = message.subscription
    return sub if isinstance(sub, str) else ""
