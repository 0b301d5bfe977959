"""What a client session reports: frozen value objects, one per thing that happened.

``ClientSession.receive`` and ``handle_timer`` (and ``transport_failed``) return
lists of these. A server-declared failure is an event carrying a
:class:`~gwsload.bayeux._errors.BayeuxFailure`, never an exception. Failures
that never reached a server (a broken socket, no reply in time) carry a
failure with ``code=None`` whose message starts with ``transport:`` or
``timeout:``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from gwsload.bayeux._errors import BayeuxFailure
from gwsload.bayeux._messages import Reconnect

__all__ = [
    "Batch",
    "Connected",
    "Delivery",
    "Disconnected",
    "Event",
    "HandshakeAccepted",
    "HandshakeRejected",
    "Lane",
    "Outage",
    "PublishAccepted",
    "PublishRejected",
    "ReconnectAdvised",
    "RequestTimedOut",
    "SubscribeAccepted",
    "SubscribeRejected",
    "UnsubscribeAccepted",
    "UnsubscribeRejected",
]


class Lane(Enum):
    #: the held /meta/connect: over long-polling its own HTTP connection
    CONNECT = "connect"
    #: everything else, answered at once
    IMMEDIATE = "immediate"


@dataclass(frozen=True, slots=True)
class Batch:
    """Messages to send together: one HTTP body, or one websocket frame."""

    lane: Lane
    #: the encoded JSON array
    payload: str
    #: ids of the requests in the batch (for transport_failed)
    ids: tuple[str, ...]
    #: channels, in order, for logging and request naming
    channels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Outage:
    """A time without a working /meta/connect, reported when it ends."""

    #: what started it (the failure string or the transport error)
    cause: str
    #: the session's clock (``now``) when it started
    started: float
    #: seconds until the connect that ended it succeeded
    duration: float
    #: whether the session had to be handshaken again
    rehandshake: bool


@dataclass(frozen=True, slots=True)
class HandshakeAccepted:
    client_id: str
    #: the connection type both sides support, picked in the client's order
    connection_type: str
    #: the server supports the acknowledgement extension and the client asked for it
    ack: bool
    #: True when this rebuilds a lost session (subscriptions are being renewed)
    rehandshake: bool


@dataclass(frozen=True, slots=True)
class HandshakeRejected:
    failure: BayeuxFailure
    #: True: the session is DISCONNECTED; False: a retry is scheduled after ``retry_in``
    final: bool
    retry_in: float | None = None


@dataclass(frozen=True, slots=True)
class Connected:
    """A /meta/connect succeeded after the handshake or after a failure."""

    client_id: str
    #: the outage this ends; None for the first connect of the first handshake
    outage: Outage | None = None


@dataclass(frozen=True, slots=True)
class ReconnectAdvised:
    """The connect (or handshake) failed; ``action`` follows in ``delay`` seconds."""

    action: Reconnect
    delay: float
    cause: str


@dataclass(frozen=True, slots=True)
class RequestTimedOut:
    """No reply in time; over websocket the owner should replace the socket."""

    request_id: str
    channel: str


@dataclass(frozen=True, slots=True)
class SubscribeAccepted:
    request_id: str
    channel: str


@dataclass(frozen=True, slots=True)
class SubscribeRejected:
    request_id: str
    channel: str
    failure: BayeuxFailure


@dataclass(frozen=True, slots=True)
class UnsubscribeAccepted:
    request_id: str
    channel: str


@dataclass(frozen=True, slots=True)
class UnsubscribeRejected:
    request_id: str
    channel: str
    failure: BayeuxFailure


@dataclass(frozen=True, slots=True)
class PublishAccepted:
    request_id: str
    channel: str


@dataclass(frozen=True, slots=True)
class PublishRejected:
    request_id: str
    channel: str
    failure: BayeuxFailure


@dataclass(frozen=True, slots=True)
class Delivery:
    """A data message on a channel, as it came on the wire (a JSON object).

    ``message`` is the parsed dict itself (``channel``, ``data``, maybe ``id``,
    ``ext``): no copy is made, because deliveries are the hot path.
    """

    channel: str
    message: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Disconnected:
    """The session ended: our disconnect was answered, or advice said reconnect=none."""

    #: None after a clean disconnect
    failure: BayeuxFailure | None = None


Event = (
    HandshakeAccepted
    | HandshakeRejected
    | Connected
    | ReconnectAdvised
    | RequestTimedOut
    | SubscribeAccepted
    | SubscribeRejected
    | UnsubscribeAccepted
    | UnsubscribeRejected
    | PublishAccepted
    | PublishRejected
    | Delivery
    | Disconnected
)
