"""What each reply, and each request that got none, does to a client session.

The handshake reply picks the connection type and the acknowledgement extension;
a connect reply connects, retries or loses the session (``reconnect`` advice,
``402::session_unknown``, ``maxInterval`` passed); the other replies become
accepted/rejected events, and a request the server refused because the session
was gone is queued again for the new one.
"""

from __future__ import annotations

from gwsload.bayeux._client_bookkeeping import (
    CONNECT,
    DISCONNECT,
    HANDSHAKE,
    SUBSCRIBE,
    UNSUBSCRIBE,
    PendingRequest,
    SessionBookkeeping,
)
from gwsload.bayeux._client_events import (
    Connected,
    Disconnected,
    Event,
    HandshakeAccepted,
    HandshakeRejected,
    Outage,
    PublishAccepted,
    PublishRejected,
    ReconnectAdvised,
    SubscribeAccepted,
    SubscribeRejected,
    UnsubscribeAccepted,
    UnsubscribeRejected,
)
from gwsload.bayeux._client_wire import is_session_unknown
from gwsload.bayeux._errors import BayeuxFailure
from gwsload.bayeux._messages import Advice, Message, Reconnect
from gwsload.bayeux._state import ClientState, Trigger

__all__ = ["ReplyHandling"]


class ReplyHandling(SessionBookkeeping):
    """The reply side of a client session (see the module docstring)."""

    def _reply(self, message: Message, now: float, events: list[Event]) -> None:
        if message.advice is not None:
            self._advice = self._advice.merged(message.advice)
        request = self._pending.pop(message.id, None) if message.id is not None else None
        if request is None:
            return  # a reply to nothing we wait for (late, or after a re-handshake)
        channel = request.message.channel
        if channel == CONNECT:
            self._connect_reply(message, now, events)
        elif channel == HANDSHAKE:
            self._handshake_reply(message, now, events)
        elif channel == DISCONNECT:
            self._disconnect_done(events)
        else:
            self._message_reply(request, message, now, events)

    def _disconnect_done(self, events: list[Event]) -> None:
        """The disconnect was answered, or its request failed: the session is over."""
        if self._move(Trigger.DISCONNECT_DONE):
            self._reset_session()
            self._subscriptions.clear()
            events.append(Disconnected())

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
            queued = {m.subscription for m in self._queue if m.channel == SUBSCRIBE}
            for channel in self._subscriptions:
                if channel not in queued:
                    self._enqueue(Message(SUBSCRIBE, subscription=channel))

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
        self, request: PendingRequest, message: Message, now: float, events: list[Event]
    ) -> None:
        sent = request.message
        rid = sent.id or ""
        if message.successful:
            if sent.channel == SUBSCRIBE:
                events.append(SubscribeAccepted(rid, _subscription(sent)))
            elif sent.channel == UNSUBSCRIBE:
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
        if sent.channel == SUBSCRIBE:
            channel = _subscription(sent)
            self._subscriptions.pop(channel, None)
            events.append(SubscribeRejected(rid, channel, failure))
        elif sent.channel == UNSUBSCRIBE:
            events.append(UnsubscribeRejected(rid, _subscription(sent), failure))
        else:
            events.append(PublishRejected(rid, sent.channel or "", failure))

    def _request_failed(
        self, rid: str, request: PendingRequest, now: float, cause: str, events: list[Event]
    ) -> None:
        channel = request.message.channel
        failure = BayeuxFailure(None, (), cause)
        if channel == HANDSHAKE:
            self._handshake_id = None
            if self._state is ClientState.HANDSHAKING:
                delay = self._backoff()
                self._move(Trigger.HANDSHAKE_RETRY)
                self._handshake_due = now + delay
                events.append(HandshakeRejected(failure, final=False, retry_in=delay))
        elif channel == CONNECT:
            if rid == self._connect_id:
                self._connect_id = None
                self._connect_failed(now, cause, failure, Reconnect.RETRY, events)
        elif channel == DISCONNECT:
            self._disconnect_done(events)
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
