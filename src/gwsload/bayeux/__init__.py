"""The sans-IO Bayeux (CometD) core: messages, codec, channels, errors, the client
session state machine (:class:`ClientSession`) and the server engine
(:class:`ServerEngine`).

Stdlib only: no sockets, no clocks, no gevent or asyncio. Time comes in as a
``now`` argument. The gevent client (``gwsload.cometd``) and the aiohttp
simulator endpoint (``gwsload.simulator.cometd_endpoint``) are thin drivers over it.
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
from gwsload.bayeux._client import DEFAULT_CONNECT_HOLD_MS, DEFAULT_MAX_NETWORK_DELAY, ClientSession
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
from gwsload.bayeux._server import HeldConnect, Outcome, ServerEngine
from gwsload.bayeux._state import ClientState

__all__ = [
    "DEFAULT_CONNECT_HOLD_MS",
    "DEFAULT_MAX_NETWORK_DELAY",
    "MISSING",
    "Advice",
    "Batch",
    "BayeuxError",
    "BayeuxFailure",
    "ClientSession",
    "ClientState",
    "Connected",
    "ConnectionType",
    "Delivery",
    "Disconnected",
    "Event",
    "HandshakeAccepted",
    "HandshakeRejected",
    "HeldConnect",
    "Lane",
    "LocalProtocolError",
    "Message",
    "MetaChannel",
    "Outage",
    "Outcome",
    "PublishAccepted",
    "PublishRejected",
    "Reconnect",
    "ReconnectAdvised",
    "RemoteProtocolError",
    "RequestTimedOut",
    "ServerEngine",
    "SubscribeAccepted",
    "SubscribeRejected",
    "UnsubscribeAccepted",
    "UnsubscribeRejected",
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
