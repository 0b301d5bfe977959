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

Delivery (CometD style): queued events ride on ANY reply of their session
(connect, publish, subscribe...), before the replies, except the handshake
reply. With the acknowledgement extension (handshake ``ext.ack: true``) events
go only through /meta/connect: each connect reply carries ``ext.ack: <batch>``;
the next connect request acknowledges a batch, and unacknowledged batches are
sent again (at once, without holding).

Failures (CometD's wording) are replies, never exceptions: unknown clientId or
another owner's session ``402::session_unknown`` with advice
``{reconnect: handshake, interval: 0}``; no channel ``400::channel_missing``;
bad channel name ``400::channel_invalid``; subscribe without subscription
``403::subscription_missing``; subscribe to ``/meta/**`` ``403::subscribe_denied``;
publish to ``/meta/*`` ``403::publish_denied``; publish without data
``400::data_missing``; no shared connection type at handshake
``301::connection_types_unsupported``. Messages to ``/service/**`` are
acknowledged but not broadcast. ``handle`` raises for no input at all.
"""

from __future__ import annotations

import dataclasses
import heapq
import secrets
from collections.abc import Sequence
from typing import Any

from gwsload.bayeux._channels import (
    is_meta,
    is_service,
    is_valid_channel,
    is_wildcard,
    patterns_matching,
)
from gwsload.bayeux._errors import (
    CHANNEL_MISSING,
    SESSION_UNKNOWN,
    LocalProtocolError,
)
from gwsload.bayeux._messages import (
    MISSING,
    Advice,
    ConnectionType,
    Message,
    MetaChannel,
    Reconnect,
)
from gwsload.bayeux._server_session import (
    BAYEUX_VERSION,
    CHANNEL_INVALID,
    CONNECTION_TYPES_MISSING,
    CONNECTION_TYPES_UNSUPPORTED,
    DATA_MISSING,
    HANDSHAKE_AGAIN,
    PUBLISH_DENIED,
    SUBSCRIBE_DENIED,
    SUBSCRIPTION_MISSING,
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
        self._sessions: dict[str, Session] = {}
        self._by_owner: dict[object, set[str]] = {}
        self._subscribers: dict[str, set[str]] = {}
        self._expiries: list[tuple[float, str]] = []
        self._tokens = 0

    # ------------------------------------------------------------------ queries

    @property
    def session_count(self) -> int:
        return len(self._sessions)

    def has_session(self, client_id: str) -> bool:
        return client_id in self._sessions

    def owner_of(self, client_id: str) -> object:
        """The owner bound at handshake; raises ``LocalProtocolError`` for an unknown session."""
        return self._session_or_raise(client_id).owner

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
            session = self._lookup(message, owner)
            if session is None:
                outcome.replies.append(
                    failure_reply(message, channel, SESSION_UNKNOWN, HANDSHAKE_AGAIN)
                )
                continue
            self._touch(session, now + self.max_interval_ms / 1000)
            touched[session.client_id] = session
            if channel == MetaChannel.CONNECT:
                if session.hold is not None:
                    outcome.released.append(session.hold)
                    session.hold = None
                if held_session is not None and held_request is not None:
                    # two connects in one batch: answer the first at once
                    outcome.replies.extend(self._connect_reply(held_session, held_request))
                    connect_took_events = True
                held_session, held_request = session, message
                self._accept_ack(session, message)
                session.connection_type = message.connection_type or session.connection_type
            elif channel == MetaChannel.DISCONNECT:
                if session.hold is not None:
                    outcome.released.append(session.hold)
                self._remove(session)
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
            if timeout > 0 and not self._has_deliverable(held_session):
                self._tokens += 1
                deadline = now + timeout / 1000
                held_session.hold = HeldConnect(
                    held_session.client_id, self._tokens, deadline, held_request.id
                )
                self._touch(held_session, deadline + self.max_interval_ms / 1000)
                outcome.hold = held_session.hold
            else:
                outcome.replies.extend(self._connect_reply(held_session, held_request))
                connect_took_events = True
        # events ride on any reply, first (CometD); with acks only on the connect reply.
        # After a connect reply that carried older events, later ones go last to keep order.
        riders: list[Message] = []
        for session in touched.values():
            if not session.ack and session.queue:
                riders.extend(session.queue)
                session.queue = []
        if connect_took_events:
            outcome.replies.extend(riders)
        else:
            outcome.replies[:0] = riders
        # sessions still holding events: others, or an ack session whose connect is held
        outcome.woke = sorted(c for c in woke if c in self._sessions and self._sessions[c].queue)
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
        self._touch(session, now + self.max_interval_ms / 1000, lower=True)
        return self._connect_reply(session, request)

    def abandon(self, held: HeldConnect, now: float) -> None:
        """The connection of a held connect was lost: keep the session and its queue."""
        session = self._sessions.get(held.client_id)
        if session is not None and session.hold == held:
            session.hold = None
            self._touch(session, now + self.max_interval_ms / 1000, lower=True)

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
        self._check_publishable(channel)
        event = Message(channel, data=data, ext=dict(ext) if ext else None)
        recipients = self._subscribed_sessions(channel)
        for client_id in recipients:
            self._sessions[client_id].queue.append(event)
        return sorted(recipients)

    def deliver_to_owner(
        self, owner: object, channel: str, data: Any, ext: dict[str, Any] | None = None
    ) -> list[str]:
        """Like :meth:`publish`, but only to the sessions bound to ``owner``."""
        self._check_publishable(channel)
        patterns = patterns_matching(channel)
        event = Message(channel, data=data, ext=dict(ext) if ext else None)
        recipients: list[str] = []
        for client_id in sorted(self._by_owner.get(owner, ())):
            session = self._sessions[client_id]
            if not session.subscriptions.isdisjoint(patterns):
                session.queue.append(event)
                recipients.append(client_id)
        return recipients

    def drop_sessions(self, owner: object = None, *, every_owner: bool = False) -> list[str]:
        """Remove the sessions of ``owner`` (or of every owner) at once.

        Returns:
            Their client ids; complete their held connects (they get 402).
        """
        if every_owner:
            client_ids = sorted(self._sessions)
        else:
            client_ids = sorted(self._by_owner.get(owner, ()))
        for client_id in client_ids:
            self._remove(self._sessions[client_id])
        return client_ids

    # ------------------------------------------------------------------ time

    def get_timer(self) -> float | None:
        """When ``sweep`` should run next (engine seconds), or None with no sessions."""
        return self._expiries[0][0] if self._expiries else None

    def sweep(self, now: float) -> list[str]:
        """Remove the sessions whose ``max_interval`` ran out; return their client ids.

        Each session has one live heap entry, so a sweep costs O(expired + stale
        entries x log n), not a scan of every session.
        """
        expired: list[str] = []
        heap = self._expiries
        while heap and heap[0][0] <= now:
            at, client_id = heapq.heappop(heap)
            session = self._sessions.get(client_id)
            if session is None or session.entry_at != at:
                continue  # stale entry
            if session.expires_at <= now:
                self._remove(session)
                expired.append(client_id)
            else:
                session.entry_at = session.expires_at
                heapq.heappush(heap, (session.expires_at, client_id))
        return expired

    # ------------------------------------------------------------------ internals

    def _handshake(self, message: Message, now: float, owner: object) -> Message:
        offered = message.supported_connection_types
        if offered is None:
            return failure_reply(
                message,
                MetaChannel.HANDSHAKE,
                CONNECTION_TYPES_MISSING,
                Advice(reconnect=Reconnect.NONE, interval=0),
            )
        if not set(offered) & set(self.connection_types):
            refusal = failure_reply(
                message,
                MetaChannel.HANDSHAKE,
                CONNECTION_TYPES_UNSUPPORTED,
                Advice(reconnect=Reconnect.NONE, interval=0),
            )
            # Bayeux 1.0 ("handshake response"): say what this server does support
            return dataclasses.replace(refusal, supported_connection_types=self.connection_types)
        ack = isinstance(message.ext, dict) and message.ext.get("ack") is True
        client_id = secrets.token_hex(20)
        session = Session(client_id, owner, ack, expires_at=now + self.max_interval_ms / 1000)
        self._sessions[client_id] = session
        self._by_owner.setdefault(owner, set()).add(client_id)
        self._push_entry(session, session.expires_at)
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

    def _lookup(self, message: Message, owner: object) -> Session | None:
        if message.client_id is None:
            return None
        session = self._sessions.get(message.client_id)
        if session is None or session.owner != owner:
            return None
        return session

    def _subscription(self, session: Session, message: Message, channel: str) -> Message:
        raw = message.subscription
        if raw is None or raw == ():
            return failure_reply(message, channel, SUBSCRIPTION_MISSING)
        names = (raw,) if isinstance(raw, str) else raw
        for name in names:
            if not is_valid_channel(name):
                return failure_reply(message, channel, CHANNEL_INVALID)
            if is_meta(name):
                return failure_reply(message, channel, SUBSCRIBE_DENIED)
        for name in names:
            if is_service(name):
                continue  # service channels reach server handlers, never subscribers
            if channel == MetaChannel.SUBSCRIBE:
                session.subscriptions.add(name)
                self._subscribers.setdefault(name, set()).add(session.client_id)
            elif name in session.subscriptions:
                session.subscriptions.discard(name)
                self._unsubscribe(name, session.client_id)
        return Message(channel, id=message.id, successful=True, subscription=raw)

    def _client_publish(
        self, session: Session, message: Message, channel: str, woke: set[str]
    ) -> Message:
        if not is_valid_channel(channel) or is_wildcard(channel):
            return failure_reply(message, channel, CHANNEL_INVALID)
        if message.data is MISSING:
            return failure_reply(message, channel, DATA_MISSING)
        if not is_service(channel):
            event = Message(channel, data=message.data)
            for client_id in self._subscribed_sessions(channel):
                self._sessions[client_id].queue.append(event)
                woke.add(client_id)
        return success_reply(message, channel)

    def _subscribed_sessions(self, channel: str) -> set[str]:
        recipients: set[str] = set()
        for pattern in patterns_matching(channel):
            subscribers = self._subscribers.get(pattern)
            if subscribers:
                recipients |= subscribers
        return recipients

    def _check_publishable(self, channel: str) -> None:
        if not is_valid_channel(channel) or is_wildcard(channel) or is_meta(channel):
            raise LocalProtocolError(
                f"cannot publish to {channel!r}: expected a plain channel name outside /meta/"
            )

    def _accept_ack(self, session: Session, message: Message) -> None:
        if not session.ack or not isinstance(message.ext, dict):
            return
        acked = message.ext.get("ack")
        if isinstance(acked, int) and not isinstance(acked, bool):
            session.unacked = [(b, events) for b, events in session.unacked if b > acked]

    def _requested_timeout(self, message: Message) -> int:
        requested = message.advice.timeout if message.advice is not None else None
        if requested is None:
            return self.timeout_ms
        return max(0, min(requested, self.timeout_ms))

    def _has_deliverable(self, session: Session) -> bool:
        return bool(session.queue or session.unacked)

    def _connect_reply(self, session: Session, request: Message) -> list[Message]:
        """The session's deliverable events, then the connect reply."""
        ext: dict[str, Any] | None = None
        if session.ack:
            if session.queue:
                session.batch += 1
                session.unacked.append((session.batch, session.queue))
                session.queue = []
            # unacknowledged batches are sent again with the new one
            events = [e for _, batch in session.unacked for e in batch]
            ext = {"ack": session.batch}
        else:
            events, session.queue = session.queue, []
        reply = Message(
            MetaChannel.CONNECT,
            id=request.id,
            successful=True,
            advice=self._advice,
            ext=ext,
        )
        return [*events, reply]

    def _unsubscribe(self, name: str, client_id: str) -> None:
        subscribers = self._subscribers.get(name)
        if subscribers is not None:
            subscribers.discard(client_id)
            if not subscribers:
                del self._subscribers[name]

    def _remove(self, session: Session) -> None:
        self._sessions.pop(session.client_id, None)
        owned = self._by_owner.get(session.owner)
        if owned is not None:
            owned.discard(session.client_id)
            if not owned:
                del self._by_owner[session.owner]
        for name in session.subscriptions:
            self._unsubscribe(name, session.client_id)
        session.hold = None

    def _touch(self, session: Session, expires_at: float, *, lower: bool = False) -> None:
        """Move the expiry later (or, with ``lower``, set it) keeping one live heap entry."""
        if lower or expires_at > session.expires_at:
            session.expires_at = expires_at
        if session.expires_at < session.entry_at:
            self._push_entry(session, session.expires_at)

    def _push_entry(self, session: Session, at: float) -> None:
        session.entry_at = at
        heapq.heappush(self._expiries, (at, session.client_id))

    def _session_or_raise(self, client_id: str) -> Session:
        session = self._sessions.get(client_id)
        if session is None:
            raise LocalProtocolError(f"no session {client_id!r}")
        return session
