"""ClientSession against hand-written server replies shaped like the wire captures
of faye 1.4.3 and cometd-nodejs-server 1.2.1 (docs in bayeux.md): orders, ids,
errors, advice. Time is a number the tests advance; nothing sleeps."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gwsload.bayeux import BayeuxFailure, LocalProtocolError, Reconnect, RemoteProtocolError
from gwsload.bayeux._client import ClientSession
from gwsload.bayeux._client_events import (
    Batch,
    Connected,
    Delivery,
    Disconnected,
    HandshakeAccepted,
    HandshakeRejected,
    Lane,
    PublishAccepted,
    PublishRejected,
    ReconnectAdvised,
    RequestTimedOut,
    SubscribeAccepted,
    SubscribeRejected,
)
from gwsload.bayeux._state import ClientState

FAYE_TYPES = [
    "long-polling",
    "cross-origin-long-polling",
    "callback-polling",
    "websocket",
    "eventsource",
    "in-process",
]
FAYE_ADVICE = {"reconnect": "retry", "interval": 0, "timeout": 30000}


def wire(batches: list[Batch]) -> list[dict[str, Any]]:
    return [m for b in batches for m in json.loads(b.payload)]


def only(batches: list[Batch], lane: Lane) -> dict[str, Any]:
    (batch,) = [b for b in batches if b.lane is lane]
    (message,) = json.loads(batch.payload)
    assert isinstance(message, dict)
    return message


def reply(session: ClientSession, now: float, *messages: dict[str, Any]) -> list[Any]:
    return session.receive(json.dumps(list(messages)), now)


def answer_handshake(session: ClientSession, answer: dict[str, Any]) -> list[Any]:
    """Open ``session`` at t=0 and answer its handshake with ``answer`` (its id and
    channel added); the events that came of it."""
    session.handshake()
    hs = only(session.outbound(0.0), Lane.IMMEDIATE)
    return reply(session, 0.0, {"id": hs["id"], "channel": "/meta/handshake", **answer})


def faye_session(types: tuple[str, ...] = ("long-polling",), **kw: Any) -> ClientSession:
    """A session through a faye handshake and first connect, at t=0."""
    session = ClientSession(types, rng=random.Random(7), **kw)
    events = answer_handshake(
        session,
        {
            "successful": True,
            "version": "1.0",
            "supportedConnectionTypes": FAYE_TYPES,
            "clientId": "kfvnk81pg7",
            "advice": FAYE_ADVICE,
        },
    )
    assert events == [HandshakeAccepted("kfvnk81pg7", types[0], ack=False, rehandshake=False)]
    connect = only(session.outbound(0.0), Lane.CONNECT)
    assert reply(
        session,
        0.0,
        {
            "id": connect["id"],
            "clientId": "kfvnk81pg7",
            "channel": "/meta/connect",
            "successful": True,
            "advice": FAYE_ADVICE,
        },
    ) == [Connected("kfvnk81pg7")]
    return session


def cometd_session(ack: bool = False) -> ClientSession:
    """A session through a CometD Node handshake and first connect, at t=0."""
    session = ClientSession(rng=random.Random(7), ack=ack)
    session.handshake()
    hs = only(session.outbound(0.0), Lane.IMMEDIATE)
    assert hs.get("ext") == ({"ack": True} if ack else None)
    handshake_reply: dict[str, Any] = {
        "id": hs["id"],
        "channel": "/meta/handshake",
        "successful": True,
        "clientId": "279d3b53284f657f53e69ff4ac957981829db2ba",
        "version": "1.0",
        "supportedConnectionTypes": ["long-polling"],
        "advice": {"reconnect": "retry", "timeout": 30000, "interval": 0},
    }
    if ack:
        handshake_reply["ext"] = {"ack": True}
    (accepted,) = reply(session, 0.0, handshake_reply)
    assert isinstance(accepted, HandshakeAccepted) and accepted.ack is ack
    connect = only(session.outbound(0.0), Lane.CONNECT)
    connect_reply: dict[str, Any] = {
        "id": connect["id"],
        "channel": "/meta/connect",
        "successful": True,
        "advice": {"reconnect": "retry", "timeout": 30000, "interval": 0},
    }
    if ack:
        connect_reply["ext"] = {"ack": 1}
    (connected,) = reply(session, 0.0, connect_reply)
    assert isinstance(connected, Connected) and connected.outage is None
    return session


def test_handshake_advertises_types_and_picks_the_first_shared_one() -> None:
    session = ClientSession(("websocket", "long-polling"))
    session.handshake()
    assert session.state is ClientState.HANDSHAKING
    hs = only(session.outbound(0.0), Lane.IMMEDIATE)
    assert hs["channel"] == "/meta/handshake" and hs["version"] == "1.0"
    assert hs["supportedConnectionTypes"] == ["websocket", "long-polling"]
    assert "clientId" not in hs
    # CometD Node lists only long-polling: the intersection is long-polling
    (accepted,) = reply(
        session,
        0.0,
        {
            "id": hs["id"],
            "channel": "/meta/handshake",
            "successful": True,
            "clientId": "c1",
            "supportedConnectionTypes": ["long-polling"],
        },
    )
    assert accepted == HandshakeAccepted("c1", "long-polling", ack=False, rehandshake=False)
    assert session.state is ClientState.CONNECTING
    connect = only(session.outbound(0.0), Lane.CONNECT)
    assert connect["connectionType"] == "long-polling" and connect["clientId"] == "c1"


def test_no_shared_connection_type_is_a_final_rejection() -> None:
    session = ClientSession(("websocket",))
    (rejected,) = answer_handshake(
        session,
        {
            "successful": True,
            "clientId": "c1",
            "supportedConnectionTypes": ["long-polling"],
        },
    )
    assert isinstance(rejected, HandshakeRejected) and rejected.final
    assert rejected.failure.code == 301
    assert session.state is ClientState.DISCONNECTED and session.client_id is None


def test_refused_handshake_names_what_the_server_offers() -> None:
    # the CometD server's answer to a websocket-only client: 301 plus what it does support
    session = ClientSession(("websocket",))
    (rejected,) = answer_handshake(
        session,
        {
            "successful": False,
            "error": "301::connection_types_unsupported",
            "supportedConnectionTypes": ["long-polling"],
            "advice": {"reconnect": "none"},
        },
    )
    assert isinstance(rejected, HandshakeRejected) and rejected.final
    assert rejected.failure.code == 301
    assert rejected.failure.message == (
        "the server offers CometD over long-polling, this client speaks websocket: "
        "no connection type in common"
    )


def test_faye_refused_handshake_is_final_with_the_server_error() -> None:
    session = ClientSession(("carrier-pigeon",))
    (rejected,) = answer_handshake(
        session,
        {
            "successful": False,
            "error": "301:carrier-pigeon:Connection types not supported",
            "advice": {"reconnect": "handshake"},
        },
    )
    assert rejected == HandshakeRejected(
        BayeuxFailure(301, ("carrier-pigeon",), "Connection types not supported"), final=True
    )
    assert session.state is ClientState.DISCONNECTED
    session.handshake()  # legal again
    assert session.state is ClientState.HANDSHAKING


def test_first_connect_asks_for_an_immediate_reply_later_ones_do_not() -> None:
    session = faye_session()
    assert session.state is ClientState.CONNECTED
    assert session.get_timer() == 0.0  # interval 0: the next connect is due now
    second = only(session.outbound(0.0), Lane.CONNECT)
    assert "advice" not in second and second["connectionType"] == "long-polling"
    # only one connect in flight: nothing more on the connect lane
    assert session.outbound(1.0, Lane.CONNECT) == []
    # the held connect's deadline: 30 s hold + 10 s network delay
    assert session.get_timer() == pytest.approx(40.0)


def test_faye_order_connect_reply_first_and_event_id_colliding_with_a_pending_request() -> None:
    session = faye_session()
    connect = only(session.outbound(0.0), Lane.CONNECT)
    sub_id = session.subscribe("/probe")
    subscribe = only(session.outbound(0.0, Lane.IMMEDIATE), Lane.IMMEDIATE)
    assert subscribe["id"] == sub_id and subscribe["clientId"] == "kfvnk81pg7"
    # faye keeps the PUBLISHER's id on events: here it equals our pending subscribe id
    events = reply(
        session,
        1.0,
        {
            "id": connect["id"],
            "clientId": "kfvnk81pg7",
            "channel": "/meta/connect",
            "successful": True,
            "advice": FAYE_ADVICE,
        },
        {"channel": "/probe", "data": {"hello": "world"}, "id": sub_id},
    )
    assert events == [
        Delivery("/probe", {"channel": "/probe", "data": {"hello": "world"}, "id": sub_id})
    ]
    # the subscribe is still pending and its real reply is matched
    assert reply(
        session,
        1.0,
        {
            "id": sub_id,
            "clientId": "kfvnk81pg7",
            "channel": "/meta/subscribe",
            "successful": True,
            "subscription": "/probe",
        },
    ) == [SubscribeAccepted(sub_id, "/probe")]


def test_cometd_order_events_first_reply_last_and_no_client_id_echo() -> None:
    session = cometd_session()
    connect = only(session.outbound(0.0), Lane.CONNECT)
    events = reply(
        session,
        2.0,
        {"channel": "/probe", "data": {"n": 1}},
        {"channel": "/probe", "data": {"n": 2}},
        {"id": connect["id"], "channel": "/meta/connect", "successful": True},
    )
    assert [type(e) for e in events] == [Delivery, Delivery]
    assert [e.message["data"]["n"] for e in events if isinstance(e, Delivery)] == [1, 2]
    # advice absent from the reply: the last advice is kept
    assert session.advice.timeout == 30000 and session.advice.reconnect is Reconnect.RETRY
    only(session.outbound(2.0), Lane.CONNECT)
    assert session.get_timer() == pytest.approx(42.0)


def test_cometd_echo_rides_on_the_publish_response() -> None:
    session = cometd_session()
    pub_id = session.publish("/probe", {"from": "probe"})
    publish = only(session.outbound(0.0, Lane.IMMEDIATE), Lane.IMMEDIATE)
    assert publish == {
        "id": pub_id,
        "channel": "/probe",
        "clientId": session.client_id,
        "data": {"from": "probe"},
    }
    events = reply(
        session,
        0.1,
        {"channel": "/probe", "data": {"from": "probe"}},
        {"id": pub_id, "channel": "/probe", "successful": True},
    )
    assert events == [
        Delivery("/probe", {"channel": "/probe", "data": {"from": "probe"}}),
        PublishAccepted(pub_id, "/probe"),
    ]


def test_faye_websocket_own_copy_before_the_publish_ack_with_the_same_id() -> None:
    session = faye_session(("websocket",))
    pub_id = session.publish("/probe", {"from": "probe"})
    session.outbound(0.0, Lane.IMMEDIATE)
    first = reply(session, 0.1, {"id": pub_id, "channel": "/probe", "data": {"from": "probe"}})
    second = reply(
        session,
        0.1,
        {"id": pub_id, "clientId": "kfvnk81pg7", "channel": "/probe", "successful": True},
    )
    assert [type(e) for e in first] == [Delivery]
    assert second == [PublishAccepted(pub_id, "/probe")]


def test_faye_unknown_client_rehandshakes_and_renews_subscriptions() -> None:
    session = faye_session()
    sub_id = session.subscribe("/v2/me/calls")
    only(session.outbound(0.0, Lane.IMMEDIATE), Lane.IMMEDIATE)
    reply(
        session,
        0.0,
        {
            "id": sub_id,
            "channel": "/meta/subscribe",
            "successful": True,
            "subscription": "/v2/me/calls",
            "clientId": "kfvnk81pg7",
        },
    )
    connect = only(session.outbound(0.0), Lane.CONNECT)
    # faye's answer after the server dropped the client: no clientId, no interval
    events = reply(
        session,
        5.0,
        {
            "id": connect["id"],
            "channel": "/meta/connect",
            "successful": False,
            "error": "401:kfvnk81pg7:Unknown client",
            "advice": {"reconnect": "handshake"},
        },
    )
    assert events == [ReconnectAdvised(Reconnect.HANDSHAKE, 0.0, "401:kfvnk81pg7:Unknown client")]
    assert session.state is ClientState.HANDSHAKING and session.client_id is None
    hs = only(session.outbound(5.0), Lane.IMMEDIATE)
    assert hs["channel"] == "/meta/handshake"
    events = reply(
        session,
        5.5,
        {
            "id": hs["id"],
            "channel": "/meta/handshake",
            "successful": True,
            "clientId": "second",
            "supportedConnectionTypes": FAYE_TYPES,
            "advice": FAYE_ADVICE,
        },
    )
    assert events == [HandshakeAccepted("second", "long-polling", ack=False, rehandshake=True)]
    batches = session.outbound(5.5)
    resub = only(batches, Lane.IMMEDIATE)
    assert resub["subscription"] == "/v2/me/calls" and resub["clientId"] == "second"
    connect = only(batches, Lane.CONNECT)
    assert connect["advice"] == {"timeout": 0}
    (connected,) = reply(
        session,
        6.0,
        {"id": connect["id"], "channel": "/meta/connect", "successful": True, "clientId": "second"},
    )
    assert isinstance(connected, Connected) and connected.outage is not None
    assert connected.outage.rehandshake and connected.outage.started == 5.0
    assert connected.outage.duration == pytest.approx(1.0)
    assert "Unknown client" in connected.outage.cause


def test_cometd_session_unknown_on_subscribe_sends_it_again_on_the_new_session() -> None:
    session = cometd_session()
    only(session.outbound(0.0), Lane.CONNECT)  # held
    sub_id = session.subscribe("/v2/me/calls")
    only(session.outbound(1.0, Lane.IMMEDIATE), Lane.IMMEDIATE)
    # CometD: no advice on a refused subscribe; the error code alone says the session is gone
    (advised,) = reply(
        session,
        1.0,
        {
            "id": sub_id,
            "channel": "/meta/subscribe",
            "successful": False,
            "error": "402::session_unknown",
        },
    )
    assert advised == ReconnectAdvised(Reconnect.HANDSHAKE, 0.0, "402::session_unknown")
    hs = only(session.outbound(1.0), Lane.IMMEDIATE)
    reply(
        session,
        1.1,
        {
            "id": hs["id"],
            "channel": "/meta/handshake",
            "successful": True,
            "clientId": "new",
            "supportedConnectionTypes": ["long-polling"],
        },
    )
    again = only(session.outbound(1.1, Lane.IMMEDIATE), Lane.IMMEDIATE)
    # the same request id: whoever waits for it gets the outcome; and no duplicate resubscribe
    assert again["id"] == sub_id and again["clientId"] == "new"
    assert reply(
        session,
        1.2,
        {
            "id": sub_id,
            "channel": "/meta/subscribe",
            "successful": True,
            "subscription": "/v2/me/calls",
        },
    ) == [SubscribeAccepted(sub_id, "/v2/me/calls")]


def test_subscribe_refused_for_another_reason_is_an_event_and_is_forgotten() -> None:
    session = cometd_session()
    sub_id = session.subscribe("/forbidden")
    session.outbound(0.0, Lane.IMMEDIATE)
    (rejected,) = reply(
        session,
        0.0,
        {
            "id": sub_id,
            "channel": "/meta/subscribe",
            "successful": False,
            "error": "403::subscribe_denied",
        },
    )
    assert rejected == SubscribeRejected(
        sub_id, "/forbidden", BayeuxFailure(403, (), "subscribe_denied")
    )
    assert session.subscriptions == ()
    assert session.state is ClientState.CONNECTED


def test_publish_refused_by_faye_keeps_the_session() -> None:
    session = faye_session()
    pub_id = session.publish("/x", None)
    session.outbound(0.0, Lane.IMMEDIATE)
    (rejected,) = reply(
        session,
        0.0,
        {"id": pub_id, "channel": "/x", "successful": False, "error": "407:/x:Failed to publish"},
    )
    assert isinstance(rejected, PublishRejected) and rejected.failure.code == 407
    assert session.state is ClientState.CONNECTED


def test_reconnect_none_ends_the_session() -> None:
    session = cometd_session()
    connect = only(session.outbound(0.0), Lane.CONNECT)
    (ended,) = reply(
        session,
        3.0,
        {
            "id": connect["id"],
            "channel": "/meta/connect",
            "successful": False,
            "error": "403::multiple_clients",
            "advice": {"reconnect": "none", "multiple-clients": True},
        },
    )
    assert ended == Disconnected(BayeuxFailure(403, (), "multiple_clients"))
    assert session.state is ClientState.DISCONNECTED
    assert session.outbound(10.0) == [] and session.get_timer() is None


def test_multiple_clients_advice_interval_spaces_the_connects() -> None:
    session = cometd_session()
    connect = only(session.outbound(0.0), Lane.CONNECT)
    reply(
        session,
        0.5,
        {
            "id": connect["id"],
            "channel": "/meta/connect",
            "successful": True,
            "advice": {"reconnect": "retry", "interval": 2000, "multiple-clients": True},
        },
    )
    assert session.advice.multiple_clients is True
    assert session.get_timer() == pytest.approx(2.5)
    assert session.outbound(2.4, Lane.CONNECT) == []
    assert only(session.outbound(2.5), Lane.CONNECT)["channel"] == "/meta/connect"


def test_transport_failures_back_off_with_jitter_then_report_the_outage() -> None:
    session = cometd_session()
    delays = []
    now = 0.0
    for _ in range(6):
        (batch,) = session.outbound(now)
        if delays:  # after a failure the connect asks for an immediate reply again
            assert json.loads(batch.payload)[0]["advice"] == {"timeout": 0}
        (advised,) = session.transport_failed(now, "connection refused", batch)
        assert isinstance(advised, ReconnectAdvised) and advised.action is Reconnect.RETRY
        assert advised.cause == "transport: connection refused"
        delays.append(advised.delay)
        assert session.state is ClientState.CONNECTING
        assert session.outbound(now + advised.delay - 0.001) == []
        now += advised.delay
    assert delays[0] == 0.0  # the first failure is retried at once
    for n, delay in enumerate(delays[1:]):
        ceiling = 0.5 * 2**n
        assert ceiling / 2 <= delay <= ceiling
    (batch,) = session.outbound(now)
    (connected,) = reply(
        session, now + 0.1, {"id": batch.ids[0], "channel": "/meta/connect", "successful": True}
    )
    assert isinstance(connected, Connected) and connected.outage is not None
    assert not connected.outage.rehandshake
    assert connected.outage.duration == pytest.approx(now + 0.1)
    # success resets the back-off
    (batch,) = session.outbound(now + 0.1)
    (advised,) = session.transport_failed(now + 1, "reset", batch)
    assert isinstance(advised, ReconnectAdvised) and advised.delay == 0.0


def test_max_interval_passed_while_unconnected_means_handshake() -> None:
    session = cometd_session()
    connect = only(session.outbound(0.0), Lane.CONNECT)
    reply(
        session,
        0.0,
        {
            "id": connect["id"],
            "channel": "/meta/connect",
            "successful": True,
            "advice": {"timeout": 1000, "interval": 0, "maxInterval": 2000},
        },
    )
    now = 0.0
    actions = []
    for _ in range(8):
        batches = session.outbound(now)
        if not batches or batches[0].lane is not Lane.CONNECT:
            break
        (advised,) = session.transport_failed(now, "reset", batches[0])
        assert isinstance(advised, ReconnectAdvised)
        actions.append(advised.action)
        now += advised.delay
    assert actions[-1] is Reconnect.HANDSHAKE and Reconnect.RETRY in actions
    assert session.state is ClientState.HANDSHAKING


def test_a_connect_without_reply_times_out_and_is_retried() -> None:
    session = faye_session(("websocket",))
    connect = only(session.outbound(0.0), Lane.CONNECT)
    assert session.get_timer() == pytest.approx(40.0)
    assert session.handle_timer(39.9) == []
    events = session.handle_timer(40.0)
    assert events[0] == RequestTimedOut(connect["id"], "/meta/connect")
    assert isinstance(events[1], ReconnectAdvised) and events[1].action is Reconnect.RETRY
    # the late reply is ignored, the retry goes out
    assert (
        reply(session, 40.5, {"id": connect["id"], "channel": "/meta/connect", "successful": True})
        == []
    )
    assert only(session.outbound(40.5), Lane.CONNECT)["id"] != connect["id"]


def test_handshake_transport_failure_retries_with_backoff() -> None:
    session = ClientSession(rng=random.Random(1))
    session.handshake()
    delays = []
    now = 0.0
    for _ in range(3):
        (batch,) = session.outbound(now)
        (rejected,) = session.transport_failed(now, "connection refused", batch)
        assert isinstance(rejected, HandshakeRejected) and not rejected.final
        assert rejected.retry_in is not None
        delays.append(rejected.retry_in)
        now += rejected.retry_in
    assert delays[0] == 0.0 and 0.25 <= delays[1] <= 0.5 and 0.5 <= delays[2] <= 1.0
    assert session.state is ClientState.HANDSHAKING


def test_ack_extension_acknowledges_the_last_batch() -> None:
    session = cometd_session(ack=True)
    assert session.ack_enabled
    connect = only(session.outbound(0.0), Lane.CONNECT)
    assert connect["ext"] == {"ack": 1}
    reply(
        session,
        1.0,
        {"channel": "/probe", "data": {}},
        {"id": connect["id"], "channel": "/meta/connect", "successful": True, "ext": {"ack": 2}},
    )
    assert only(session.outbound(1.0), Lane.CONNECT)["ext"] == {"ack": 2}


def test_ack_is_off_when_the_server_does_not_answer_it() -> None:
    session = faye_session(ack=True)
    assert not session.ack_enabled
    assert "ext" not in only(session.outbound(0.0), Lane.CONNECT)


def test_disconnect_ends_the_session_and_stops_connects() -> None:
    session = faye_session()
    only(session.outbound(0.0), Lane.CONNECT)
    disc_id = session.disconnect()
    assert session.state is ClientState.DISCONNECTING
    disconnect = only(session.outbound(0.0), Lane.IMMEDIATE)
    assert disconnect == {"id": disc_id, "channel": "/meta/disconnect", "clientId": "kfvnk81pg7"}
    assert reply(
        session,
        0.1,
        {
            "id": disc_id,
            "clientId": "kfvnk81pg7",
            "channel": "/meta/disconnect",
            "successful": True,
        },
    ) == [Disconnected()]
    assert session.state is ClientState.DISCONNECTED and session.outbound(100.0) == []


def test_disconnect_before_any_session_reports_at_the_next_timer() -> None:
    session = ClientSession()
    session.handshake()
    assert session.disconnect() is None
    assert session.state is ClientState.DISCONNECTED
    assert session.handle_timer(0.0) == [Disconnected()]


def test_messages_queued_while_handshaking_go_out_after_the_handshake() -> None:
    session = ClientSession()
    session.handshake()
    pub_id = session.publish("/early", 1)
    hs = only(session.outbound(0.0), Lane.IMMEDIATE)  # the handshake goes alone
    assert hs["channel"] == "/meta/handshake"
    reply(
        session,
        0.0,
        {"id": hs["id"], "channel": "/meta/handshake", "successful": True, "clientId": "c"},
    )
    publish = only(session.outbound(0.0, Lane.IMMEDIATE), Lane.IMMEDIATE)
    assert publish["id"] == pub_id and publish["clientId"] == "c"


@pytest.mark.parametrize(
    ("call", "state_before"),
    [
        (lambda s: s.subscribe("/a"), "fresh"),
        (lambda s: s.publish("/a", 1), "fresh"),
        (lambda s: s.disconnect(), "fresh"),
        (lambda s: s.handshake(), "connected"),
        (lambda s: s.subscribe("/meta/connect"), "connected"),
        (lambda s: s.subscribe("no-slash"), "connected"),
        (lambda s: s.publish("/a/*", 1), "connected"),
        (lambda s: s.unsubscribe("/never"), "connected"),
    ],
)
def test_illegal_calls_raise_and_change_nothing(call: Any, state_before: str) -> None:
    session = ClientSession() if state_before == "fresh" else faye_session()
    before = (session.state, session.client_id, session.subscriptions, session.get_timer())
    with pytest.raises(LocalProtocolError, match="cannot"):
        call(session)
    assert (session.state, session.client_id, session.subscriptions, session.get_timer()) == before


@pytest.mark.parametrize(
    "payload",
    ["{not json", "42", '[{"channel": "/meta/connect", "successful": "yes", "id": "1"}]', "[1]"],
)
def test_malformed_payload_raises_remote_error_and_changes_nothing(payload: str) -> None:
    session = faye_session()
    connect = only(session.outbound(0.0), Lane.CONNECT)
    with pytest.raises(RemoteProtocolError):
        session.receive(payload, 1.0)
    assert session.state is ClientState.CONNECTED
    # the connect is still pending and still matched
    assert (
        reply(session, 1.0, {"id": connect["id"], "channel": "/meta/connect", "successful": True})
        == []
    )
    assert only(session.outbound(1.0), Lane.CONNECT)


def test_single_object_payload_and_unknown_replies_are_tolerated() -> None:
    session = cometd_session()
    assert session.receive('{"channel":"/x","data":1}', 0.0) == [
        Delivery("/x", {"channel": "/x", "data": 1})
    ]
    # a reply to nothing we sent, and a reply without channel: ignored
    assert (
        reply(
            session,
            0.0,
            {"id": "999", "channel": "/meta/subscribe", "successful": True},
            {"id": "998", "successful": False, "error": "400::channel_missing"},
        )
        == []
    )


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "id",
                    "channel",
                    "successful",
                    "clientId",
                    "advice",
                    "data",
                    "error",
                    "ext",
                    "subscription",
                    "reconnect",
                    "timeout",
                    "interval",
                ]
            ),
            inner,
            max_size=6,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(payload=_json | st.text(max_size=40))
def test_no_payload_breaks_receive_with_anything_but_remote_protocol_error(payload: Any) -> None:
    session = faye_session()
    connect = only(session.outbound(0.0), Lane.CONNECT)
    text = payload if isinstance(payload, str) else json.dumps(payload)
    try:
        events = session.receive(text, 1.0)
    except RemoteProtocolError:
        # rejected as a whole: nothing changed, the held connect is still matched
        assert session.state is ClientState.CONNECTED
        assert (
            reply(
                session, 1.0, {"id": connect["id"], "channel": "/meta/connect", "successful": True}
            )
            == []
        )
        return
    for event in events:
        assert isinstance(
            event,
            Delivery
            | PublishAccepted
            | SubscribeAccepted
            | Connected
            | ReconnectAdvised
            | Disconnected
            | PublishRejected
            | SubscribeRejected
            | RequestTimedOut,
        )
