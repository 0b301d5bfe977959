"""The Bayeux message model: one frozen dataclass per message, wire names in the codec.

A :class:`Message` holds every field Bayeux 1.0 and CometD define, in snake_case;
fields a peer sent that the model does not know are kept in ``extra`` so nothing
is lost on a round trip. ``data`` is ``MISSING`` when the field was absent, which
differs from a JSON ``null`` payload.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum, StrEnum
from typing import Any, Final

__all__ = [
    "MISSING",
    "Advice",
    "ConnectionType",
    "Message",
    "MetaChannel",
    "Reconnect",
]


class _Missing(Enum):
    MISSING = "MISSING"

    def __repr__(self) -> str:
        return "MISSING"


#: marks an absent ``data`` field (a publish without data is an error; null data is not)
MISSING: Final = _Missing.MISSING


class MetaChannel(StrEnum):
    #: open a session
    HANDSHAKE = "/meta/handshake"
    #: the held poll (long-polling) or heartbeat (websocket)
    CONNECT = "/meta/connect"
    #: add a subscription
    SUBSCRIBE = "/meta/subscribe"
    #: remove a subscription
    UNSUBSCRIBE = "/meta/unsubscribe"
    #: close the session
    DISCONNECT = "/meta/disconnect"


class ConnectionType(StrEnum):
    #: HTTP POST, one held /meta/connect
    LONG_POLLING = "long-polling"
    #: one JSON array per text frame, both directions
    WEBSOCKET = "websocket"


class Reconnect(StrEnum):
    #: connect again after ``interval`` (or after back-off)
    RETRY = "retry"
    #: the server dropped the session: handshake again, do not retry the connect
    HANDSHAKE = "handshake"
    #: hard failure: neither retry nor handshake
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Advice:
    """Server advice; every field optional because servers send partial advice."""

    reconnect: Reconnect | None = None
    #: ms before the next /meta/connect; negative means do not retry
    interval: int | None = None
    #: ms the server holds /meta/connect
    timeout: int | None = None
    #: ms the server keeps a session after a connect ends (CometD)
    max_interval: int | None = None
    #: the server saw several sessions behind one browser cookie
    multiple_clients: bool | None = None
    #: unknown advice fields, kept verbatim
    extra: dict[str, Any] | None = None

    def merged(self, newer: Advice) -> Advice:
        """This advice with every field ``newer`` carries replaced.

        Servers send partial advice (CometD Node leaves it off later connect
        replies); keeping the last value of each field is what clients do.
        """
        return Advice(
            reconnect=newer.reconnect if newer.reconnect is not None else self.reconnect,
            interval=newer.interval if newer.interval is not None else self.interval,
            timeout=newer.timeout if newer.timeout is not None else self.timeout,
            max_interval=(
                newer.max_interval if newer.max_interval is not None else self.max_interval
            ),
            multiple_clients=(
                newer.multiple_clients
                if newer.multiple_clients is not None
                else self.multiple_clients
            ),
            extra={**(self.extra or {}), **(newer.extra or {})} or None,
        )


@dataclass(frozen=True, slots=True)
class Message:
    """One Bayeux message. ``channel`` is None only for a received message without one."""

    channel: str | None
    id: str | None = None
    client_id: str | None = None
    data: Any = MISSING
    successful: bool | None = None
    error: str | None = None
    advice: Advice | None = None
    ext: dict[str, Any] | None = None
    subscription: str | tuple[str, ...] | None = None
    connection_type: str | None = None
    supported_connection_types: tuple[str, ...] | None = None
    version: str | None = None
    minimum_version: str | None = None
    #: fields the model does not know, kept for the round trip
    extra: dict[str, Any] | None = field(default=None, compare=False)

    @property
    def is_meta(self) -> bool:
        return self.channel is not None and self.channel.startswith("/meta/")

    @property
    def is_reply(self) -> bool:
        """A reply carries ``successful``; a delivered event never does.

        faye keeps the publisher's ``id`` on delivered events, so an event can
        carry the same id as one of our pending requests: match replies by id
        AND by this property.
        """
        return self.successful is not None

    @property
    def has_data(self) -> bool:
        return self.data is not MISSING

    def evolve(self, **changes: Any) -> Message:
        """A copy with ``changes`` applied (the model is immutable)."""
        return replace(self, **changes)
