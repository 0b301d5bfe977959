"""Which requests the server engine refuses, and with which error.

Failures (CometD's wording) are replies, never exceptions: unknown clientId or
another owner's session ``402::session_unknown`` with advice
``{reconnect: handshake, interval: 0}``; no channel ``400::channel_missing``;
bad channel name ``400::channel_invalid``; subscribe without subscription
``403::subscription_missing``; subscribe to ``/meta/**`` ``403::subscribe_denied``;
publish to ``/meta/*`` ``403::publish_denied``; publish without data
``400::data_missing``; no shared connection type at handshake
``301::connection_types_unsupported``. The engine's own callers get a
``LocalProtocolError`` for a channel they cannot publish to.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from gwsload.bayeux._channels import is_meta, is_valid_channel, is_wildcard
from gwsload.bayeux._errors import LocalProtocolError
from gwsload.bayeux._messages import MISSING, Advice, Message, MetaChannel, Reconnect
from gwsload.bayeux._server_session import (
    CHANNEL_INVALID,
    CONNECTION_TYPES_MISSING,
    CONNECTION_TYPES_UNSUPPORTED,
    DATA_MISSING,
    SUBSCRIBE_DENIED,
    SUBSCRIPTION_MISSING,
    failure_reply,
)

__all__ = [
    "check_publishable",
    "handshake_refusal",
    "publish_refusal",
    "subscription_names",
    "subscription_refusal",
]


def handshake_refusal(request: Message, connection_types: Sequence[str]) -> Message | None:
    """The refusal of a handshake without a connection type in common, or None."""
    offered = request.supported_connection_types
    refused = Advice(reconnect=Reconnect.NONE, interval=0)
    if offered is None:
        return failure_reply(request, MetaChannel.HANDSHAKE, CONNECTION_TYPES_MISSING, refused)
    if set(offered) & set(connection_types):
        return None
    refusal = failure_reply(request, MetaChannel.HANDSHAKE, CONNECTION_TYPES_UNSUPPORTED, refused)
    # Bayeux 1.0 ("handshake response"): say what this server does support
    return dataclasses.replace(refusal, supported_connection_types=tuple(connection_types))


def subscription_names(request: Message) -> tuple[str, ...]:
    """The channels a (un)subscribe names: one string or a list of them."""
    raw = request.subscription
    if raw is None:
        return ()
    return (raw,) if isinstance(raw, str) else tuple(raw)


def subscription_refusal(request: Message, channel: str) -> Message | None:
    """The refusal of a (un)subscribe naming nothing, a bad channel or a /meta one, or None."""
    names = subscription_names(request)
    if not names:
        return failure_reply(request, channel, SUBSCRIPTION_MISSING)
    for name in names:
        if not is_valid_channel(name):
            return failure_reply(request, channel, CHANNEL_INVALID)
        if is_meta(name):
            return failure_reply(request, channel, SUBSCRIBE_DENIED)
    return None


def publish_refusal(request: Message, channel: str) -> Message | None:
    """The refusal of a client's publish to a bad or wildcard channel, or without data."""
    if not is_valid_channel(channel) or is_wildcard(channel):
        return failure_reply(request, channel, CHANNEL_INVALID)
    if request.data is MISSING:
        return failure_reply(request, channel, DATA_MISSING)
    return None


def check_publishable(channel: str) -> None:
    """Raise ``LocalProtocolError`` unless the engine's caller may publish to ``channel``."""
    if not is_valid_channel(channel) or is_wildcard(channel) or is_meta(channel):
        raise LocalProtocolError(
            f"cannot publish to {channel!r}: expected a plain channel name outside /meta/"
        )
