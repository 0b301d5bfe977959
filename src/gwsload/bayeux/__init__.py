"""The sans-IO Bayeux (CometD) core: messages, codec, channels, errors.

Stdlib only: no sockets, no clocks, no gevent or asyncio. Time comes in as a
``now`` argument. The client session state machine lives in
``gwsload.bayeux._client`` and the server engine in ``gwsload.bayeux._server``.
"""

from __future__ import annotations

from gwsload.bayeux._channels import (
    channel_matches,
    is_meta,
    is_service,
    is_valid_channel,
    is_wildcard,
    patterns_matching,
)
from gwsload.bayeux._codec import decode, encode, message_from_wire, message_to_wire
from gwsload.bayeux._errors import (
    BayeuxError,
    BayeuxFailure,
    LocalProtocolError,
    RemoteProtocolError,
)
from gwsload.bayeux._messages import (
    MISSING,
    Advice,
    ConnectionType,
    Message,
    MetaChannel,
    Reconnect,
)

__all__ = [
    "MISSING",
    "Advice",
    "BayeuxError",
    "BayeuxFailure",
    "ConnectionType",
    "LocalProtocolError",
    "Message",
    "MetaChannel",
    "Reconnect",
    "RemoteProtocolError",
    "channel_matches",
    "decode",
    "encode",
    "is_meta",
    "is_service",
    "is_valid_channel",
    "is_wildcard",
    "message_from_wire",
    "message_to_wire",
    "patterns_matching",
]
