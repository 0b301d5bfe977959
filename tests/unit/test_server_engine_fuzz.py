"""No sequence or shape of messages makes ServerEngine.handle raise."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gwsload.bayeux._codec import message_from_wire
from gwsload.bayeux._errors import RemoteProtocolError
from gwsload.bayeux._messages import Message
from gwsload.bayeux._server import ServerEngine

CHANNELS = st.sampled_from(
    [
        "/meta/handshake",
        "/meta/connect",
        "/meta/subscribe",
        "/meta/unsubscribe",
        "/meta/disconnect",
        "/meta/other",
        "/a",
        "/a/b",
        "/a/*",
        "/a/**",
        "/service/x",
        "bad",
        "",
        "/",
    ]
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
WIRE = st.fixed_dictionaries(
    {},
    optional={
        "channel": CHANNELS | JSON,
        "id": st.text(max_size=3) | st.integers(),
        "clientId": st.sampled_from(["KNOWN", "OTHER", "nosuch"]) | JSON,
        "data": JSON,
        "subscription": CHANNELS | st.lists(CHANNELS, max_size=3) | JSON,
        "connectionType": st.sampled_from(["long-polling", "websocket", "x"]),
        "supportedConnectionTypes": st.lists(st.sampled_from(["long-polling", "websocket", "x"]))
        | JSON,
        "advice": st.fixed_dictionaries({}, optional={"timeout": st.integers(-5, 40000) | JSON})
        | JSON,
        "ext": st.fixed_dictionaries({}, optional={"ack": JSON}) | JSON,
        "version": st.text(max_size=3),
    },
)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    batches=st.lists(st.lists(WIRE, max_size=4), max_size=6),
    owners=st.lists(st.sampled_from([None, "a", "b"]), min_size=6, max_size=6),
    steps=st.lists(st.floats(0, 40), min_size=6, max_size=6),
)
def test_handle_never_raises(
    batches: list[list[dict[str, Any]]], owners: list[str | None], steps: list[float]
) -> None:
    engine = ServerEngine(timeout_ms=30000, max_interval_ms=10000)
    known: list[str] = []
    now = 0.0
    for index, batch in enumerate(batches):
        messages: list[Message] = []
        for raw in batch:
            use_known = raw.get("clientId") == "KNOWN" and known
            item = {**raw, "clientId": known[-1]} if use_known else raw
            try:
                messages.append(message_from_wire(item))
            except RemoteProtocolError:
                continue
        outcome = engine.handle(messages, now, owner=owners[index])
        for reply in outcome.replies:
            if reply.channel == "/meta/handshake" and reply.successful and reply.client_id:
                known.append(reply.client_id)
        for held in outcome.released:
            engine.complete(held, now)
        now += steps[index]
        if outcome.hold is not None and index % 2:
            engine.complete(outcome.hold, now)
        engine.sweep(now)
        # the indexes stay consistent: deliveries reach only live sessions
        for client_id in [
            *engine.publish("/a", index),
            *engine.deliver_to_owner(owners[index], "/a/b", index),
        ]:
            assert engine.has_session(client_id)
        for client_id in outcome.woke:
            engine.take_events(client_id)
        if index == 3:
            for client_id in engine.drop_sessions("a"):
                assert not engine.has_session(client_id)
    assert engine.session_count >= 0
    assert all(isinstance(c, str) for c in engine.sweep(now + 1e9))
    assert engine.session_count == 0
