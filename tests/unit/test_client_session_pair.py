"""ClientSession against the real ServerEngine, in memory, on virtual time (BayeuxPair)."""

from __future__ import annotations

import pytest

from gwsload.bayeux import Reconnect
from gwsload.bayeux._client_events import (
    Connected,
    Delivery,
    HandshakeAccepted,
    ReconnectAdvised,
    SubscribeAccepted,
)
from gwsload.bayeux._state import ClientState
from tests.unit.bayeux_pair import BayeuxPair

TRANSPORTS = ["long-polling", "websocket"]


def connected_pair(transport: str, **kw: object) -> BayeuxPair:
    pair = BayeuxPair(transport, **kw)  # type: ignore[arg-type]
    pair.client.handshake()
    pair.client.subscribe("/v2/me/calls")
    pair.advance()
    events = pair.take_events()
    assert [type(e) for e in events] == [HandshakeAccepted, SubscribeAccepted, Connected]
    assert pair.client.state is ClientState.CONNECTED
    return pair


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_handshake_subscribe_and_delivery(transport: str) -> None:
    pair = connected_pair(transport)
    pair.advance(5.0)
    pair.publish("/v2/me/calls", {"n": 1})
    (delivery,) = pair.take_events()
    assert delivery == Delivery("/v2/me/calls", {"channel": "/v2/me/calls", "data": {"n": 1}})


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_idle_session_costs_one_connect_per_hold(transport: str) -> None:
    pair = connected_pair(transport, timeout_ms=30_000)
    before = len(pair.sent)
    pair.advance(300.0)
    assert pair.take_events() == []
    connects = pair.sent[before:]
    assert all(b.channels == ("/meta/connect",) for b in connects)
    assert 9 <= len(connects) <= 11  # one per 30 s hold
    assert pair.client.state is ClientState.CONNECTED


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_server_dropping_the_session_means_rehandshake_and_resubscribe(transport: str) -> None:
    pair = connected_pair(transport)
    pair.advance(1.0)
    pair.drop_sessions()
    pair.advance(1.0)
    events = pair.take_events()
    kinds = [type(e) for e in events]
    if transport == "long-polling":
        # the held connect is answered 402 at once; websocket learns at its next connect
        assert ReconnectAdvised in kinds
    pair.advance(31.0)
    events += pair.take_events()
    advised = [e for e in events if isinstance(e, ReconnectAdvised)]
    assert advised and advised[0].action is Reconnect.HANDSHAKE
    accepted = [e for e in events if isinstance(e, HandshakeAccepted)]
    assert accepted and accepted[0].rehandshake
    connected = [e for e in events if isinstance(e, Connected)]
    assert connected and connected[0].outage is not None and connected[0].outage.rehandshake
    assert any(isinstance(e, SubscribeAccepted) for e in events)
    pair.publish("/v2/me/calls", {"after": "drop"})
    assert next(e for e in pair.take_events() if isinstance(e, Delivery)).message["data"] == {
        "after": "drop"
    }


def test_network_outage_longer_than_max_interval_ends_in_a_new_session() -> None:
    pair = connected_pair("long-polling", timeout_ms=5_000, max_interval_ms=10_000)
    first = pair.client.client_id
    pair.advance(6.0)  # the held connect was answered; the next one is in flight
    pair.network_down = True
    pair.advance(60.0)
    assert pair.client.state in (ClientState.CONNECTING, ClientState.HANDSHAKING)
    assert not pair.server.has_session(first or "")  # the engine expired it
    pair.network_down = False
    pair.advance(60.0)
    assert pair.client.state is ClientState.CONNECTED and pair.client.client_id != first
    connected = [e for e in pair.take_events() if isinstance(e, Connected)]
    assert connected[-1].outage is not None and connected[-1].outage.rehandshake
    assert connected[-1].outage.duration > 10.0
    pair.publish("/v2/me/calls", {"n": 2})
    assert [e.message["data"] for e in pair.deliveries] == [{"n": 2}]


def test_short_network_outage_is_a_reconnect_on_the_same_session() -> None:
    pair = connected_pair("long-polling", timeout_ms=5_000, max_interval_ms=10_000)
    first = pair.client.client_id
    pair.advance(6.0)
    pair.network_down = True
    pair.lose_connections()  # the engine keeps the session for max_interval (10 s)
    pair.advance(2.0)
    pair.network_down = False
    pair.advance(3.0)
    assert pair.client.client_id == first and pair.client.state is ClientState.CONNECTED
    connected = [e for e in pair.take_events() if isinstance(e, Connected)]
    assert connected[-1].outage is not None and not connected[-1].outage.rehandshake


def test_ack_extension_delivers_every_event_in_order_through_connect() -> None:
    pair = connected_pair("long-polling", ack=True)
    assert pair.client.ack_enabled and pair.server.ack_enabled(pair.client.client_id or "")
    for n in range(5):
        pair.publish("/v2/me/calls", {"n": n})
        pair.advance(0.1)
    assert [e.message["data"]["n"] for e in pair.deliveries] == [0, 1, 2, 3, 4]
