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
passed in). The whole state graph is in :mod:`gwsload.bayeux._state`; what each
reply does in :mod:`gwsload.bayeux._client_replies`; the session's fields and
shared steps in :mod:`gwsload.bayeux._client_bookkeeping`.
"""

from __future__ import annotations

from typing import Any

from gwsload.bayeux._channels import is_meta, is_valid_channel, is_wildcard
from gwsload.bayeux._client_bookkeeping import (
    CONNECT,
    DEFAULT_CONNECT_HOLD_MS,
    DEFAULT_MAX_NETWORK_DELAY,
    DISCONNECT,
    HANDSHAKE,
    SUBSCRIBE,
    UNSUBSCRIBE,
    PendingRequest,
)
from gwsload.bayeux._client_events import (
    Batch,
    Delivery,
    Disconnected,
    Event,
    Lane,
    RequestTimedOut,
)
from gwsload.bayeux._client_replies import ReplyHandling
from gwsload.bayeux._client_wire import parse_payload
from gwsload.bayeux._codec import encode
from gwsload.bayeux._errors import LocalProtocolError
from gwsload.bayeux._messages import Advice, Message
from gwsload.bayeux._state import ClientState, Trigger

__all__ = ["DEFAULT_CONNECT_HOLD_MS", "DEFAULT_MAX_NETWORK_DELAY", "ClientSession"]


class ClientSession(ReplyHandling):
    """One Bayeux client session, driven by its owner (see the module docstring).

    Args:
        connection_types: the types the owner's transport speaks, preferred first;
            the handshake advertises them and the first one the server also lists wins.
        ack: ask for the acknowledgement extension (``ext.ack``) in the handshake.
        max_network_delay: seconds a reply may take beyond the server's hold time.
        backoff_first, backoff_max: back-off bounds, seconds.
        rng: random source for the back-off jitter (seed it in tests).
    """

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
        return self._enqueue(Message(SUBSCRIBE, subscription=channel))

    def unsubscribe(self, channel: str) -> str:
        """Queue a /meta/unsubscribe; the channel is not renewed after a re-handshake."""
        if channel not in self._subscriptions:
            raise LocalProtocolError(f"cannot unsubscribe from {channel!r}: not subscribed")
        self._move(Trigger.CALL_MESSAGE)
        del self._subscriptions[channel]
        return self._enqueue(Message(UNSUBSCRIBE, subscription=channel))

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
        return self._enqueue(Message(DISCONNECT))

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
                HANDSHAKE,
                id=self._handshake_id,
                version="1.0",
                minimum_version="1.0",
                supported_connection_types=self._types,
                ext={"ack": True} if self._ack_wanted else None,
            )
            self._pending[self._handshake_id] = PendingRequest(
                message, Lane.IMMEDIATE, now + self._max_network_delay
            )
            return [message]
        if self._client_id is None or not self._queue:
            return []
        deadline = now + self._max_network_delay
        sent = []
        for message in self._queue:
            assert message.id is not None
            self._pending[message.id] = PendingRequest(message, Lane.IMMEDIATE, deadline)
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
            CONNECT,
            id=self._connect_id,
            client_id=self._client_id,
            connection_type=self._connection_type,
            advice=Advice(timeout=0) if unconnected else None,
            ext={"ack": self._ack_batch} if self._ack else None,
        )
        deadline = now + max(hold_ms, 0) / 1000 + self._max_network_delay
        self._pending[self._connect_id] = PendingRequest(message, Lane.CONNECT, deadline)
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
