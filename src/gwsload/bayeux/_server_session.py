"""The server engine's records: held connects, outcomes, sessions, and reply builders.

Kept apart from :mod:`gwsload.bayeux._server` and its rule modules (delivery, refusals,
registry) so those stay about the rules; nothing here decides anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gwsload.bayeux._errors import BayeuxFailure
from gwsload.bayeux._messages import Advice, Message, MetaChannel, Reconnect

__all__ = [
    "BAYEUX_VERSION",
    "CHANNEL_INVALID",
    "CONNECTION_TYPES_MISSING",
    "CONNECTION_TYPES_UNSUPPORTED",
    "DATA_MISSING",
    "HANDSHAKE_AGAIN",
    "PUBLISH_DENIED",
    "SUBSCRIBE_DENIED",
    "SUBSCRIPTION_MISSING",
    "HeldConnect",
    "Outcome",
    "Session",
    "failure_reply",
    "success_reply",
]

BAYEUX_VERSION = "1.0"
CHANNEL_INVALID = BayeuxFailure(400, (), "channel_invalid")
DATA_MISSING = BayeuxFailure(400, (), "data_missing")
SUBSCRIPTION_MISSING = BayeuxFailure(403, (), "subscription_missing")
SUBSCRIBE_DENIED = BayeuxFailure(403, (), "subscribe_denied")
PUBLISH_DENIED = BayeuxFailure(403, (), "publish_denied")
CONNECTION_TYPES_MISSING = BayeuxFailure(400, (), "connection_types_missing")
CONNECTION_TYPES_UNSUPPORTED = BayeuxFailure(301, (), "connection_types_unsupported")
HANDSHAKE_AGAIN = Advice(reconnect=Reconnect.HANDSHAKE, interval=0)


@dataclass(frozen=True, slots=True)
class HeldConnect:
    """A /meta/connect the caller must answer with ``complete`` at ``deadline`` or when woken."""

    client_id: str
    #: unique per held connect, so a released older connect is told apart from the current one
    token: int
    #: engine time (seconds) at which the connect is answered if nothing arrives
    deadline: float
    #: the connect request's id, repeated on its reply
    request_id: str | None = None


@dataclass(slots=True)
class Outcome:
    """What one ``handle`` call asks of the caller."""

    #: messages to send now (for long-polling: the HTTP body, unless ``hold`` is set)
    replies: list[Message] = field(default_factory=list)
    #: a connect of this batch is held; answer it later with ``complete(hold, now)``,
    #: sending ``replies`` with it on long-polling
    hold: HeldConnect | None = None
    #: earlier held connects this batch released; answer each now with ``complete``
    released: list[HeldConnect] = field(default_factory=list)
    #: sessions that got events from a publish in this batch and must be woken
    #: (their held connect completed, or the events pushed on their websocket)
    woke: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Session:
    """One Bayeux session as the engine keeps it."""

    client_id: str
    owner: object
    ack: bool
    expires_at: float
    #: deadline of this session's one live heap entry (others are stale)
    entry_at: float = float("inf")
    connection_type: str | None = None
    subscriptions: set[str] = field(default_factory=set)
    queue: list[Message] = field(default_factory=list)
    #: ack extension: (batch id, events) sent but not yet acknowledged
    unacked: list[tuple[int, list[Message]]] = field(default_factory=list)
    batch: int = 0
    hold: HeldConnect | None = None


def success_reply(request: Message, channel: str) -> Message:
    return Message(channel, id=request.id, successful=True)


def failure_reply(
    request: Message, channel: str | None, failure: BayeuxFailure, advice: Advice | None = None
) -> Message:
    return Message(
        channel,
        id=request.id,
        successful=False,
        error=str(failure),
        advice=advice,
        subscription=request.subscription if channel in _SUBSCRIPTION_CHANNELS else None,
    )


_SUBSCRIPTION_CHANNELS = frozenset({MetaChannel.SUBSCRIBE, MetaChannel.UNSUBSCRIBE})
