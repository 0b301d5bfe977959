"""ServerEngine in memory, with virtual time: every rule of the module docstring."""

from __future__ import annotations

from typing import Any

import pytest

from gwsload.bayeux._errors import LocalProtocolError
from gwsload.bayeux._messages import MISSING, Advice, Message, Reconnect
from gwsload.bayeux._server import HeldConnect, Outcome, ServerEngine

LP = "long-polling"


def handshake(
    engine: ServerEngine,
    now: float = 0.0,
    *,
    owner: object = None,
    ack: bool = False,
    types: tuple[str, ...] = (LP,),
) -> str:
    outcome = engine.handle(
        [
            Message(
                "/meta/handshake",
                id="1",
                version="1.0",
                supported_connection_types=types,
                ext={"ack": True} if ack else None,
            )
        ],
        now,
        owner=owner,
    )
    (reply,) = outcome.replies
    assert reply.successful is True, reply
    assert reply.client_id is not None
    return reply.client_id


def subscribe(
    engine: ServerEngine, client_id: str, sub: str, now: float = 0.0, owner: object = None
) -> Message:
    outcome = engine.handle(
        [Message("/meta/subscribe", id="s", client_id=client_id, subscription=sub)],
        now,
        owner=owner,
    )
    return outcome.replies[-1]


def connect(
    engine: ServerEngine,
    client_id: str,
    now: float,
    *,
    timeout: int | None = None,
    ack: int | None = None,
    owner: object = None,
    msg_id: str = "c",
) -> Outcome:
    return engine.handle(
        [
            Message(
                "/meta/connect",
                id=msg_id,
                client_id=client_id,
                connection_type=LP,
                advice=Advice(timeout=timeout) if timeout is not None else None,
                ext={"ack": ack} if ack is not None else None,
            )
        ],
        now,
        owner=owner,
    )


def data_of(messages: list[Message]) -> list[Any]:
    return [m.data for m in messages if m.successful is None]


def reply_on(messages: list[Message], channel: str) -> Message:
    (reply,) = [m for m in messages if m.channel == channel and m.successful is not None]
    return reply


# ---------------------------------------------------------------- handshake


def test_handshake_reply_carries_id_version_types_and_advice() -> None:
    engine = ServerEngine(timeout_ms=20000, interval_ms=5, max_interval_ms=7000)
    outcome = engine.handle(
        [
            Message(
                "/meta/handshake",
                id="7",
                version="1.0",
                supported_connection_types=("websocket", "long-polling", "carrier-pigeon"),
            )
        ],
        0.0,
    )
    (reply,) = outcome.replies
    assert reply.successful is True and reply.id == "7"
    assert reply.client_id is not None and len(reply.client_id) == 40
    int(reply.client_id, 16)
    assert reply.version == "1.0"
    assert set(reply.supported_connection_types or ()) == {"long-polling", "websocket"}
    assert reply.advice == Advice(
        reconnect=Reconnect.RETRY, interval=5, timeout=20000, max_interval=7000
    )
    assert reply.ext is None
    assert engine.session_count == 1


def test_handshake_without_shared_connection_type_is_301() -> None:
    engine = ServerEngine()
    (reply,) = engine.handle(
        [Message("/meta/handshake", id="1", supported_connection_types=("carrier-pigeon",))], 0.0
    ).replies
    assert reply.successful is False
    assert reply.error is not None and reply.error.startswith("301:")
    assert engine.session_count == 0


def test_handshake_without_connection_types_fails() -> None:
    engine = ServerEngine()
    (reply,) = engine.handle([Message("/meta/handshake", id="1")], 0.0).replies
    assert reply.successful is False and reply.error == "400::connection_types_missing"
    assert engine.session_count == 0


def test_server_offering_only_long_polling_refuses_websocket_only_client() -> None:
    engine = ServerEngine(connection_types=("long-polling",))
    (reply,) = engine.handle(
        [Message("/meta/handshake", supported_connection_types=("websocket",))], 0.0
    ).replies
    assert reply.successful is False


def test_client_ids_are_distinct() -> None:
    engine = ServerEngine()
    ids = {handshake(engine) for _ in range(50)}
    assert len(ids) == 50


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "channel",
    ["/meta/connect", "/meta/subscribe", "/meta/unsubscribe", "/meta/disconnect", "/some/channel"],
)
def test_unknown_client_id_is_402_with_handshake_advice(channel: str) -> None:
    engine = ServerEngine()
    (reply,) = engine.handle(
        [Message(channel, id="9", client_id="nosuch", subscription="/x", data={})], 0.0
    ).replies
    assert reply.successful is False
    assert reply.error == "402::session_unknown"
    assert reply.id == "9" and reply.channel == channel
    assert reply.advice == Advice(reconnect=Reconnect.HANDSHAKE, interval=0)


def test_missing_client_id_is_402() -> None:
    engine = ServerEngine()
    (reply,) = engine.handle([Message("/meta/connect", id="1")], 0.0).replies
    assert reply.error == "402::session_unknown"


def test_session_of_another_owner_is_unknown() -> None:
    engine = ServerEngine()
    cid = handshake(engine, owner="alice")
    (reply,) = connect(engine, cid, 0.0, timeout=0, owner="bob").replies
    assert reply.error == "402::session_unknown"
    (reply,) = connect(engine, cid, 0.0, timeout=0, owner=None).replies
    assert reply.error == "402::session_unknown"
    (reply,) = connect(engine, cid, 0.0, timeout=0, owner="alice").replies
    assert reply.successful is True


def test_missing_channel_is_400_channel_missing() -> None:
    engine = ServerEngine()
    (reply,) = engine.handle([Message(None, id="20")], 0.0).replies
    assert reply.successful is False and reply.error == "400::channel_missing"
    assert reply.id == "20" and reply.channel is None


@pytest.mark.parametrize(
    ("subscription", "error"),
    [
        (None, "403::subscription_missing"),
        ((), "403::subscription_missing"),
        ("/meta/foo", "403::subscribe_denied"),
        ("/meta/**", "403::subscribe_denied"),
        ("no-leading-slash", "400::channel_invalid"),
        ("/a/*/b", "400::channel_invalid"),
        ("", "400::channel_invalid"),
        (("/ok", "bad"), "400::channel_invalid"),
    ],
)
def test_bad_subscriptions_fail_and_record_nothing(
    subscription: str | tuple[str, ...] | None, error: str
) -> None:
    engine = ServerEngine()
    cid = handshake(engine)
    reply = engine.handle(
        [Message("/meta/subscribe", id="2", client_id=cid, subscription=subscription)], 0.0
    ).replies[0]
    assert reply.successful is False and reply.error == error
    assert engine.subscriptions(cid) == frozenset()


def test_publish_to_meta_is_denied() -> None:
    engine = ServerEngine()
    cid = handshake(engine)
    (reply,) = engine.handle([Message("/meta/foo", id="3", client_id=cid, data={})], 0.0).replies
    assert reply.successful is False and reply.error == "403::publish_denied"


def test_publish_without_data_fails_but_null_data_is_fine() -> None:
    engine = ServerEngine()
    cid = handshake(engine)
    (reply,) = engine.handle([Message("/x", id="4", client_id=cid)], 0.0).replies
    assert reply.successful is False and reply.error == "400::data_missing"
    (reply,) = engine.handle([Message("/x", id="5", client_id=cid, data=None)], 0.0).replies
    assert reply.successful is True


def test_publish_to_wildcard_or_bad_channel_fails() -> None:
    engine = ServerEngine()
    cid = handshake(engine)
    for channel in ("/a/*", "/a/**", "nope"):
        (reply,) = engine.handle([Message(channel, client_id=cid, data=1)], 0.0).replies
        assert reply.error == "400::channel_invalid"


def test_empty_batch_gives_empty_outcome() -> None:
    outcome = ServerEngine().handle([], 0.0)
    assert outcome == Outcome()


# ---------------------------------------------------------------- subscriptions and delivery


def test_wildcards_deliver_once_per_session() -> None:
    engine = ServerEngine()
    exact, one, deep, other = (handshake(engine) for _ in range(4))
    subscribe(engine, exact, "/v2/me/calls")
    subscribe(engine, one, "/v2/me/*")
    subscribe(engine, one, "/v2/**")  # matches too: still one copy
    subscribe(engine, deep, "/**")
    subscribe(engine, other, "/v2/me/devices")
    assert engine.publish("/v2/me/calls", {"n": 1}) == sorted([exact, one, deep])
    assert engine.publish("/v2/me/calls/deeper", {"n": 2}) == sorted([one, deep])
    for cid, expected in (
        (exact, [{"n": 1}]),
        (one, [{"n": 1}, {"n": 2}]),
        (deep, [{"n": 1}, {"n": 2}]),
        (other, []),
    ):
        assert data_of(connect(engine, cid, 1.0, timeout=0).replies) == expected


def test_unsubscribe_stops_delivery() -> None:
    engine = ServerEngine()
    cid = handshake(engine)
    subscribe(engine, cid, "/a")
    (reply,) = engine.handle(
        [Message("/meta/unsubscribe", id="u", client_id=cid, subscription="/a")], 0.0
    ).replies
    assert reply.successful is True and reply.subscription == "/a"
    assert engine.publish("/a", 1) == []


def test_subscribe_reply_echoes_subscription_and_id() -> None:
    engine = ServerEngine()
    cid = handshake(engine)
    reply = subscribe(engine, cid, "/v2/me/calls")
    assert (reply.id, reply.successful, reply.subscription) == ("s", True, "/v2/me/calls")
    assert reply.channel == "/meta/subscribe"
    reply = engine.handle(
        [Message("/meta/subscribe", client_id=cid, subscription=("/p", "/q"))], 0.0
    ).replies[0]
    assert reply.successful and engine.subscriptions(cid) == {"/v2/me/calls", "/p", "/q"}


def test_events_ride_on_any_reply_first() -> None:
    engine = ServerEngine()
    cid = handshake(engine)
    subscribe(engine, cid, "/a")
    engine.publish("/a", {"k": 1})
    replies = subscribe_outcome = engine.handle(
        [Message("/meta/subscribe", id="s2", client_id=cid, subscription="/b")], 1.0
    ).replies
    assert subscribe_outcome is replies
    assert [m.data for m in replies[:1]] == [{"k": 1}] and replies[1].successful is True


def test_client_publish_echoes_to_publisher_before_ack_and_wakes_others() -> None:
    engine = ServerEngine()
    publisher, listener = handshake(engine), handshake(engine)
    subscribe(engine, publisher, "/chat")
    subscribe(engine, listener, "/chat")
    outcome = engine.handle([Message("/chat", id="p", client_id=publisher, data="hi")], 0.0)
    assert [m.data for m in outcome.replies] == ["hi", MISSING]
    assert outcome.replies[1].successful is True and outcome.replies[1].id == "p"
    assert outcome.woke == [listener]
    assert data_of(connect(engine, listener, 0.0, timeout=0).replies) == ["hi"]


def test_service_channel_is_acknowledged_not_broadcast() -> None:
    engine = ServerEngine()
    cid = handshake(engine)
    subscribe(engine, cid, "/service/echo")
    subscribe(engine, cid, "/**")
    assert engine.subscriptions(cid) == {"/**"}  # service subscriptions are not recorded
    outcome = engine.handle([Message("/service/echo", id="e", client_id=cid, data=1)], 0.0)
    assert [m.successful for m in outcome.replies] == [True]
    assert outcome.woke == []


def test_publish_carries_ext_and_refuses_bad_channels() -> None:
    engine = ServerEngine()
    cid = handshake(engine)
    subscribe(engine, cid, "/a")
    engine.publish("/a", {"x": 1}, {"gwsload": {"seq": 3}})
    (event, _) = connect(engine, cid, 0.0, timeout=0).replies
    assert event.ext == {"gwsload": {"seq": 3}} and event.channel == "/a"
    assert event.id is None and event.successful is None
    for channel in ("/meta/x", "/a/*", "bad"):
        with pytest.raises(LocalProtocolError):
            engine.publish(channel, 1)


def test_deliver_to_owner_reaches_only_that_owners_subscribed_sessions() -> None:
    engine = ServerEngine()
    a1 = handshake(engine, owner="alice")
    a2 = handshake(engine, owner="alice")
    a3 = handshake(engine, owner="alice")
    b1 = handshake(engine, owner="bob")
    subscribe(engine, a1, "/v2/me/calls", owner="alice")
    subscribe(engine, a2, "/v2/me/*", owner="alice")
    subscribe(engine, b1, "/v2/me/calls", owner="bob")
    got = engine.deliver_to_owner("alice", "/v2/me/calls", {"s": "Recording"}, {"t": 1})
    assert got == sorted([a1, a2])
    assert engine.pending_count(a3) == 0 and engine.pending_count(b1) == 0
    assert engine.deliver_to_owner("carol", "/v2/me/calls", {}) == []


# ---------------------------------------------------------------- connect holding


def test_first_connect_with_timeout_zero_answers_at_once() -> None:
    engine = ServerEngine(timeout_ms=30000)
    cid = handshake(engine)
    outcome = connect(engine, cid, 0.0, timeout=0)
    assert outcome.hold is None
    (reply,) = outcome.replies
    assert reply.successful is True and reply.id == "c"
    assert reply.advice is not None and reply.advice.timeout == 30000


def test_idle_connect_is_held_until_timeout_then_answered() -> None:
    engine = ServerEngine(timeout_ms=30000)
    cid = handshake(engine)
    outcome = connect(engine, cid, 5.0, msg_id="42")
    assert outcome.replies == []
    assert outcome.hold == HeldConnect(cid, outcome.hold.token, 35.0, "42")  # type: ignore[union-attr]
    assert engine.held_connect(cid) == outcome.hold
    (reply,) = engine.complete(outcome.hold, 35.0)  # type: ignore[arg-type]
    assert reply.successful is True and reply.id == "42"
    assert engine.held_connect(cid) is None


def test_client_timeout_is_honoured_up_to_server_timeout() -> None:
    engine = ServerEngine(timeout_ms=30000)
    cid = handshake(engine)
    short = connect(engine, cid, 0.0, timeout=2000).hold
    assert short is not None and short.deadline == 2.0
    engine.complete(short, 2.0)
    long = connect(engine, cid, 2.0, timeout=99000).hold
    assert long is not None and long.deadline == 32.0


def test_held_connect_woken_by_delivery_returns_events_then_reply() -> None:
    engine = ServerEngine()
    cid = handshake(engine, owner="u")
    subscribe(engine, cid, "/v2/me/calls", owner="u")
    held = connect(engine, cid, 1.0, owner="u").hold
    assert held is not None
    assert engine.deliver_to_owner("u", "/v2/me/calls", {"n": 1}) == [cid]
    assert engine.held_connect(cid) == held
    messages = engine.complete(held, 1.5)
    assert data_of(messages) == [{"n": 1}]
    assert messages[-1].channel == "/meta/connect" and messages[-1].successful is True


def test_connect_with_queued_events_is_not_held() -> None:
    engine = ServerEngine()
    cid = handshake(engine)
    subscribe(engine, cid, "/a")
    engine.publish("/a", 1)
    outcome = connect(engine, cid, 0.0)
    assert outcome.hold is None and data_of(outcome.replies) == [1]


def test_second_connect_releases_the_first() -> None:
    engine = ServerEngine()
    cid = handshake(engine)
    subscribe(engine, cid, "/a")
    first = connect(engine, cid, 0.0, msg_id="1").hold
    assert first is not None
    second_outcome = connect(engine, cid, 1.0, msg_id="2")
    assert second_outcome.released == [first]
    second = second_outcome.hold
    assert second is not None and second.token != first.token
    engine.publish("/a", "e")
    (old_reply,) = engine.complete(first, 1.0)
    assert old_reply.successful is True and old_reply.id == "1"
    # the events stay for the current connect
    assert data_of(engine.complete(second, 1.0)) == ["e"]


def test_disconnect_removes_session_and_releases_held_connect() -> None:
    engine = ServerEngine()
    cid = handshake(engine)
    held = connect(engine, cid, 0.0).hold
    assert held is not None
    outcome = engine.handle([Message("/meta/disconnect", id="d", client_id=cid)], 0.0)
    assert outcome.released == [held]
    (reply,) = outcome.replies
    assert reply.successful is True and reply.id == "d"
    assert engine.session_count == 0
    (late,) = engine.complete(held, 0.0)
    assert late.error == "402::session_unknown"
    assert connect(engine, cid, 0.0).replies[0].error == "402::session_unknown"


def test_connect_and_publish_in_one_batch_keep_event_order() -> None:
    engine = ServerEngine()
    cid = handshake(engine)
    subscribe(engine, cid, "/a")
    engine.publish("/a", 1)
    outcome = engine.handle(
        [
            Message("/meta/connect", id="c", client_id=cid, advice=Advice(timeout=0)),
            Message("/a", id="p", client_id=cid, data=2),
        ],
        0.0,
    )
    assert outcome.hold is None
    assert data_of(outcome.replies) == [1, 2]


# ---------------------------------------------------------------- expiry


def test_session_expires_after_max_interval_without_connect() -> None:
    engine = ServerEngine(max_interval_ms=10000)
    cid = handshake(engine, 0.0)
    assert engine.get_timer() == 10.0
    assert engine.sweep(9.9) == []
    assert engine.sweep(10.0) == [cid]
    assert engine.session_count == 0 and engine.get_timer() is None
    assert connect(engine, cid, 10.0).replies[0].error == "402::session_unknown"


def test_held_connect_keeps_session_alive_and_countdown_restarts_after() -> None:
    engine = ServerEngine(timeout_ms=30000, max_interval_ms=10000)
    cid = handshake(engine, 0.0)
    held = connect(engine, cid, 1.0).hold
    assert held is not None
    assert engine.sweep(30.0) == []
    engine.complete(held, 31.0)
    assert engine.sweep(40.9) == []
    assert engine.sweep(41.0) == [cid]


def test_early_completion_moves_expiry_earlier() -> None:
    engine = ServerEngine(timeout_ms=30000, max_interval_ms=10000)
    cid = handshake(engine, 0.0)
    held = connect(engine, cid, 0.0).hold
    assert held is not None
    engine.complete(held, 2.0)  # woken early: expiry 12, not 40
    assert engine.sweep(11.9) == []
    assert engine.sweep(12.0) == [cid]


def test_abandoned_connect_keeps_queue_until_expiry() -> None:
    engine = ServerEngine(max_interval_ms=10000)
    cid = handshake(engine)
    subscribe(engine, cid, "/a")
    held = connect(engine, cid, 0.0).hold
    assert held is not None
    engine.publish("/a", "kept")
    engine.abandon(held, 1.0)
    assert engine.held_connect(cid) is None
    assert engine.sweep(10.0) == []
    assert data_of(connect(engine, cid, 10.5, timeout=0).replies) == ["kept"]


def test_any_message_extends_session_life() -> None:
    engine = ServerEngine(max_interval_ms=10000)
    cid = handshake(engine, 0.0)
    subscribe(engine, cid, "/a", now=8.0)
    assert engine.sweep(10.0) == []
    assert engine.sweep(18.0) == [cid]


def test_sweep_of_many_sessions_expires_each_once() -> None:
    engine = ServerEngine(max_interval_ms=1000)
    ids = [handshake(engine, i / 100) for i in range(300)]
    expired: list[str] = []
    now = 0.0
    while (timer := engine.get_timer()) is not None:
        now = max(now, timer)
        expired += engine.sweep(now)
    assert sorted(expired) == sorted(ids)


def test_drop_sessions_of_one_owner_or_all() -> None:
    engine = ServerEngine()
    a = handshake(engine, owner="alice")
    b = handshake(engine, owner="bob")
    anon = handshake(engine)
    held = connect(engine, a, 0.0, owner="alice").hold
    assert held is not None
    assert engine.drop_sessions("alice") == [a]
    assert engine.complete(held, 0.0)[0].error == "402::session_unknown"
    assert engine.drop_sessions("alice") == []
    assert engine.drop_sessions(every_owner=True) == sorted([b, anon])
    assert engine.session_count == 0


# ---------------------------------------------------------------- ack extension


def test_ack_extension_batches_resends_and_acks() -> None:
    engine = ServerEngine()
    outcome = engine.handle(
        [Message("/meta/handshake", id="1", supported_connection_types=(LP,), ext={"ack": True})],
        0.0,
    )
    (reply,) = outcome.replies
    assert reply.ext == {"ack": True}
    cid = reply.client_id
    assert cid is not None and engine.ack_enabled(cid)
    subscribe(engine, cid, "/a")
    first = connect(engine, cid, 0.0, timeout=0, ack=0)
    assert first.replies[-1].ext == {"ack": 0}
    engine.publish("/a", 1)
    # with acks, events never ride on other replies
    sub_replies = subscribe(engine, cid, "/b")
    assert sub_replies.successful is True
    assert engine.take_events(cid) == []
    batch1 = connect(engine, cid, 1.0, ack=0).replies
    assert data_of(batch1) == [1] and batch1[-1].ext == {"ack": 1}
    engine.publish("/a", 2)
    # the client did not get batch 1 (acks 0 again): both batches come again, at once
    again = connect(engine, cid, 2.0, ack=0)
    assert again.hold is None
    assert data_of(again.replies) == [1, 2] and again.replies[-1].ext == {"ack": 2}
    # acknowledging batch 2 empties the queue: the next connect is held
    held = connect(engine, cid, 3.0, ack=2).hold
    assert held is not None and engine.pending_count(cid) == 0
    engine.publish("/a", 3)
    done = engine.complete(held, 3.5)
    assert data_of(done) == [3] and done[-1].ext == {"ack": 3}


def test_ack_session_publish_wakes_its_own_held_connect() -> None:
    engine = ServerEngine()
    cid = handshake(engine, ack=True)
    subscribe(engine, cid, "/a")
    held = connect(engine, cid, 0.0, ack=0).hold
    assert held is not None
    outcome = engine.handle([Message("/a", id="p", client_id=cid, data="self")], 0.1)
    assert [m.successful for m in outcome.replies] == [True]
    assert outcome.woke == [cid]
    assert data_of(engine.complete(held, 0.1)) == ["self"]


def test_ack_ignored_without_handshake_ack_and_bad_ack_values() -> None:
    engine = ServerEngine()
    cid = handshake(engine)
    reply = connect(engine, cid, 0.0, timeout=0, ack=5).replies[-1]
    assert reply.ext is None
    acked = handshake(engine, ack=True)
    subscribe(engine, acked, "/a")
    engine.publish("/a", 1)
    connect(engine, acked, 0.0, ack=0)
    for bad in (True, "1", None, 1.5):
        outcome = engine.handle([Message("/meta/connect", client_id=acked, ext={"ack": bad})], 1.0)
        assert data_of(outcome.replies) == [1]  # not acknowledged: sent again


# ---------------------------------------------------------------- websocket push helpers


def test_take_events_for_push() -> None:
    engine = ServerEngine()
    cid = handshake(engine)
    subscribe(engine, cid, "/a")
    engine.publish("/a", 1)
    engine.publish("/a", 2)
    assert [m.data for m in engine.take_events(cid)] == [1, 2]
    assert engine.take_events(cid) == []
    assert engine.take_events("nosuch") == []


def test_owner_of_unknown_session_raises_local_error() -> None:
    engine = ServerEngine()
    with pytest.raises(LocalProtocolError):
        engine.owner_of("nosuch")
    cid = handshake(engine, owner="u")
    assert engine.owner_of(cid) == "u"


def test_negative_settings_are_refused() -> None:
    with pytest.raises(LocalProtocolError):
        ServerEngine(timeout_ms=-1)
