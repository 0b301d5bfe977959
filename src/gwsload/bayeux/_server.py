"""The Bayeux server engine: sessions, subscriptions, queues, held connects, expiry.

Theory of operation
-------------------
:class:`ServerEngine` owns no sockets and reads no clock. Its three inputs, as
in a sans-IO protocol machine:

* **received messages**: ``handle(messages, now, owner=...)`` takes one decoded
  batch (an HTTP body or one websocket frame) and returns an :class:`Outcome`:
  the replies to send now, maybe a :class:`HeldConnect` ("this /meta/connect is
  held until ``deadline``"), the earlier held connects it ``released``, and the
  other sessions it ``woke`` (a publish queued events for them);
* **calls**: ``publish(channel, data, ext)`` broadcasts to every subscriber,
  ``deliver_to_owner(owner, channel, data, ext)`` to the subscribed sessions of
  one owner (the simulator's GWS user), ``drop_sessions(owner)`` expires
  sessions at once; each returns the client ids concerned so the caller knows
  whom to wake;
* **time**: ``get_timer()`` says when ``sweep(now)`` should next run;
  ``sweep`` removes the sessions that went ``max_interval`` without a connect.

A held connect ends in one of two ways, both driven by the caller: at its
deadline or when woken (events arrived, a newer connect released it, the
session was dropped), the caller calls ``complete(held, now)`` and sends what
it returns; if the connection is lost first, ``abandon(held, now)`` keeps the
queue and starts the ``max_interval`` countdown.

A long-polling driver, in outline (the simulator's ``cometd_endpoint`` is one)::

    outcome = engine.handle(decode(body), now, owner=user)
    for held in outcome.released:       # wake the older requests holding these
        wake(held.token)
    for client_id in outcome.woke:      # their held connect, or push take_events()
        wake_session(client_id)
    replies = outcome.replies
    if outcome.hold is not None:        # wait until woken or outcome.hold.deadline
        await_wake(outcome.hold)
        replies += engine.complete(outcome.hold, now)
    respond(encode(replies))
    # and elsewhere: engine.deliver_to_owner(user, channel, data, ext) -> wake each
    # returned session; every get_timer(): engine.sweep(now)

Session life (one place for the rules)::

    handshake ok         -> session created, expires at now + max_interval
    connect, queue empty -> HELD until now + timeout (client advice.timeout honoured,
                            0 answers at once); a previous held connect is released
    connect, queue full  -> answered at once with the queued events
    complete / abandon   -> not held, expires at now + max_interval
    disconnect           -> session removed (its held connect is released)
    expiry / drop        -> session removed; its next message gets 402::session_unknown

Delivery (queued events riding on replies, acknowledged batches) is in
:mod:`gwsload.bayeux._server_delivery`; which requests are refused, and with
which error, in :mod:`gwsload.bayeux._server_refusals`; the sessions' indexes
and expiry in :mod:`gwsload.bayeux._server_registry`. Messages to
``/service/**`` are acknowledged but not broadcast. ``handle`` raises for no
input at all.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

from gwsload.bayeux._channels import is_meta, is_service, patterns_matching
from gwsload.bayeux._errors import CHANNEL_MISSING, SESSION_UNKNOWN, LocalProtocolError
from gwsload.bayeux._messages import Advice, ConnectionType, Message, MetaChannel, Reconnect
from gwsload.bayeux._server_delivery import accept_ack, connect_reply, has_deliverable, take_riders
from gwsload.bayeux._server_refusals import (
    check_publishable,
    handshake_refusal,
    publish_refusal,
    subscription_names,
    subscription_refusal,
)
from gwsload.bayeux._server_registry import SessionRegistry
from gwsload.bayeux._server_session import (
    BAYEUX_VERSION,
    HANDSHAKE_AGAIN,
    PUBLISH_DENIED,
    HeldConnect,
    Outcome,
    Session,
    failure_reply,
    success_reply,
)

__all__ = ["HeldConnect", "Outcome", "ServerEngine"]


class ServerEngine:
    """A Bayeux 1.0 server without I/O; see the module docstring.

    Args:
        timeout_ms: how long a /meta/connect is held (advice.timeout).
        interval_ms: advised pause between connects (advice.interval).
        max_interval_ms: a session without a connect for this long is removed.
        connection_types: what the handshake offers, intersected with the client's list.
    """

    def __init__(
        self,
        *,
        timeout_ms: int = 30000,
        interval_ms: int = 0,
        max_interval_ms: int = 10000,
        connection_types: Sequence[str] = (ConnectionType.LONG_POLLING, ConnectionType.WEBSOCKET),
    ) -> None:
        if timeout_ms < 0 or interval_ms < 0 or max_interval_ms < 0:
            raise LocalProtocolError(
                "timeout_ms, interval_ms and max_interval_ms must be >= 0, got "
                f"{timeout_ms}, {interval_ms}, {max_interval_ms}"
            )
        self.timeout_ms = timeout_ms
        self.interval_ms = interval_ms
        self.max_interval_ms = max_interval_ms
        self.connection_types = tuple(str(t) for t in connection_types)
        self._advice = Advice(
            reconnect=Reconnect.RETRY,
            interval=interval_ms,
            timeout=timeout_ms,
            max_interval=max_interval_ms,
        )
        self._sessions = SessionRegistry()
        self._tokens = 0

    # ------------------------------------------------------------------ queries

    @property
    def session_count(self) -> int:
        return len(self._sessions)

    def has_session(self, client_id: str) -> bool:
        return client_id in self._sessions

    def owner_of(self, client_id: str) -> object:
        """The owner bound at handshake; raises ``LocalProtocolError`` for an unknown session."""
        return self._sessions.get_or_raise(client_id).owner

    def held_connect(self, client_id: str) -> HeldConnect | None:
        """The session's current held connect, if any."""
        session = self._sessions.get(client_id)
        return session.hold if session is not None else None

    def ack_enabled(self, client_id: str) -> bool:
        session = self._sessions.get(client_id)
        return session is not None and session.ack

    def subscriptions(self, client_id: str) -> frozenset[str]:
        session = self._sessions.get(client_id)
        return frozenset(session.subscriptions) if session is not None else frozenset()

    def pending_count(self, client_id: str) -> int:
        """Events queued (and, with acks, sent but unacknowledged) for the session."""
        session = self._sessions.get(client_id)
        if session is None:
            return 0
        return len(session.queue) + sum(len(events) for _, events in session.unacked)

    # ------------------------------------------------------------------ received

    def handle(self, messages: Sequence[Message], now: float, *, owner: object = None) -> Outcome:
        """Process one received batch.

        Args:
            messages: decoded messages, in order.
            now: engine time in seconds (monotonic).
            owner: who sent the batch (the simulator's user id); a session answers
                only to the owner it was created for.

        Returns:
            The :class:`Outcome`. Malformed or illegal messages get failure replies;
            this method raises nothing for any input.
        """
        outcome = Outcome()
        touched: dict[str, Session] = {}
        woke: set[str] = set()
        held_session: Session | None = None
        held_request: Message | None = None
        connect_took_events = False
        for message in messages:
            channel = message.channel
            if channel is None:
                outcome.replies.append(failure_reply(message, None, CHANNEL_MISSING))
                continue
            if channel == MetaChannel.HANDSHAKE:
                outcome.replies.append(self._handshake(message, now, owner))
                continue
            session = self._sessions.of_owner(message.client_id, owner)
            if session is None:
                outcome.replies.append(
                    failure_reply(message, channel, SESSION_UNKNOWN, HANDSHAKE_AGAIN)
                )
                continue
            self._sessions.touch(session, now + self.max_interval_ms / 1000)
            touched[session.client_id] = session
            if channel == MetaChannel.CONNECT:
                if session.hold is not None:
                    outcome.released.append(session.hold)
                    session.hold = None
                if held_session is not None and held_request is not None:
                    # two connects in one batch: answer the first at once
                    outcome.replies.extend(connect_reply(held_session, held_request, self._advice))
                    connect_took_events = True
                held_session, held_request = session, message
                accept_ack(session, message)
                session.connection_type = message.connection_type or session.connection_type
            elif channel == MetaChannel.DISCONNECT:
                if session.hold is not None:
                    outcome.released.append(session.hold)
                self._sessions.remove(session)
                touched.pop(session.client_id, None)
                if held_session is session:
                    held_session = held_request = None
                outcome.replies.append(success_reply(message, channel))
            elif channel in (MetaChannel.SUBSCRIBE, MetaChannel.UNSUBSCRIBE):
                outcome.replies.append(self._subscription(session, message, channel))
            elif is_meta(channel):
                outcome.replies.append(failure_reply(message, channel, PUBLISH_DENIED))
            else:
                outcome.replies.append(self._client_publish(session, message, channel, woke))
        if held_session is not None and held_request is not None:
            timeout = self._requested_timeout(held_request)
            if timeout > 0 and not has_deliverable(held_session):
                self._tokens += 1
                deadline = now + timeout / 1000
                held_session.hold = HeldConnect(
                    held_session.client_id, self._tokens, deadline, held_request.id
                )
                self._sessions.touch(held_session, deadline + self.max_interval_ms / 1000)
                outcome.hold = held_session.hold
            else:
                outcome.replies.extend(connect_reply(held_session, held_request, self._advice))
                connect_took_events = True
        # events ride on any reply, first (CometD); with acks only on the connect reply.
        # After a connect reply that carried older events, later ones go last to keep order.
        riders = take_riders(touched.values())
        if connect_took_events:
            outcome.replies.extend(riders)
        else:
            outcome.replies[:0] = riders
        # sessions still holding events: others, or an ack session whose connect is held
        outcome.woke = sorted(c for c in woke if (s := self._sessions.get(c)) and s.queue)
        return outcome

    def complete(self, held: HeldConnect, now: float) -> list[Message]:
        """The messages answering a held connect, now (deadline reached or woken).

        The current held connect gets the queued events and its reply; a released
        older one gets a bare successful reply; one whose session is gone gets
        ``402::session_unknown``.
        """
        session = self._sessions.get(held.client_id)
        request = Message(MetaChannel.CONNECT, id=held.request_id, client_id=held.client_id)
        if session is None:
            return [failure_reply(request, MetaChannel.CONNECT, SESSION_UNKNOWN, HANDSHAKE_AGAIN)]
        if session.hold != held:
            return [
                Message(
                    MetaChannel.CONNECT, id=held.request_id, successful=True, advice=self._advice
                )
            ]
        session.hold = None
        self._sessions.touch(session, now + self.max_interval_ms / 1000, lower=True)
        return connect_reply(session, request, self._advice)

    def abandon(self, held: HeldConnect, now: float) -> None:
        """The connection of a held connect was lost: keep the session and its queue."""
        session = self._sessions.get(held.client_id)
        if session is not None and session.hold == held:
            session.hold = None
            self._sessions.touch(session, now + self.max_interval_ms / 1000, lower=True)

    def take_events(self, client_id: str) -> list[Message]:
        """Remove and return a session's queued events, to push on its websocket.

        Returns nothing for an unknown session or one with the ack extension
        (those events go only through /meta/connect: complete its held connect).
        """
        session = self._sessions.get(client_id)
        if session is None or session.ack:
            return []
        events, session.queue = session.queue, []
        return events

    # ------------------------------------------------------------------ calls

    def publish(self, channel: str, data: Any, ext: dict[str, Any] | None = None) -> list[str]:
        """Queue an event for every session subscribed to a pattern matching ``channel``.

        Returns:
            The client ids that got it (wake their held connects or push).

        Raises:
            LocalProtocolError: ``channel`` is not a plain, non-meta channel name.
        """
        check_publishable(channel)
        event = Message(channel, data=data, ext=dict(ext) if ext else None)
        recipients = sorted(self._sessions.subscribed_sessions(channel))
        for client_id in recipients:
            self._sessions.get_or_raise(client_id).queue.append(event)
        return recipients

    def deliver_to_owner(
        self, owner: object, channel: str, data: Any, ext: dict[str, Any] | None = None
    ) -> list[str]:
        """Like :meth:`publish`, but only to the sessions bound to ``owner``."""
        check_publishable(channel)
        patterns = patterns_matching(channel)
        event = Message(channel, data=data, ext=dict(ext) if ext else None)
        recipients: list[str] = []
        for client_id in self._sessions.owned_by(owner):
            session = self._sessions.get_or_raise(client_id)
            if not session.subscriptions.isdisjoint(patterns):
                session.queue.append(event)
                recipients.append(client_id)
        return recipients

    def drop_sessions(self, owner: object = None, *, every_owner: bool = False) -> list[str]:
        """Remove the sessions of ``owner`` (or of every owner) at once.

        Returns:
            Their client ids; complete their held connects (they get 402).
        """
        client_ids = self._sessions.client_ids() if every_owner else self._sessions.owned_by(owner)
        for client_id in client_ids:
            self._sessions.remove(self._sessions.get_or_raise(client_id))
        return client_ids

    # ------------------------------------------------------------------ time

    def get_timer(self) -> float | None:
        """When ``sweep`` should run next (engine seconds), or None with no sessions."""
        return self._sessions.next_expiry()

    def sweep(self, now: float) -> list[str]:
        """Remove the sessions whose ``max_interval`` ran out; return their client ids.

        Each session has one live expiry entry, so a sweep costs O(expired + stale
        entries x log n), not a scan of every session.
        """
        return self._sessions.sweep(now)

    # ------------------------------------------------------------------ internals

    def _handshake(self, message: Message, now: float, owner: object) -> Message:
        refusal = handshake_refusal(message, self.connection_types)
        if refusal is not None:
            return refusal
        ack = isinstance(message.ext, dict) and message.ext.get("ack") is True
        client_id = secrets.token_hex(20)
        session = Session(client_id, owner, ack, expires_at=now + self.max_interval_ms / 1000)
        self._sessions.add(session)
        return Message(
            MetaChannel.HANDSHAKE,
            id=message.id,
            client_id=client_id,
            successful=True,
            version=BAYEUX_VERSION,
            supported_connection_types=self.connection_types,
            advice=self._advice,
            ext={"ack": True} if ack else None,
        )

    def _subscription(self, session: Session, message: Message, channel: str) -> Message:
        refusal = subscription_refusal(message, channel)
        if refusal is not None:
            return refusal
        for name in subscription_names(message):
            if is_service(name):
                continue  # service channels reach server handlers, never subscribers
            if channel == MetaChannel.SUBSCRIBE:
                self._sessions.subscribe(session, name)
            else:
                self._sessions.unsubscribe(session, name)
        return Message(channel, id=message.id, successful=True, subscription=message.subscription)

    def _client_publish(
        self, session: Session, message: Message, channel: str, woke: set[str]
    ) -> Message:
        refusal = publish_refusal(message, channel)
        if refusal is not None:
            return refusal
        if not is_service(channel):
            event = Message(channel, data=message.data)
            for client_id in self._sessions.subscribed_sessions(channel):
                self._sessions.get_or_raise(client_id).queue.append(event)
                woke.add(client_id)
        return success_reply(message, channel)

    def _requested_timeout(self, message: Message) -> int:
        requested = message.advice.timeout if message.advice is not None else None
        if requested is None:
            return self.timeout_ms
        return max(0, min(requested, self.timeout_ms))
