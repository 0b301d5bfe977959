"""The codec, channel matching and failure strings of the sans-IO core."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gwsload.bayeux import (
    MISSING,
    Advice,
    BayeuxError,
    BayeuxFailure,
    Message,
    Reconnect,
    RemoteProtocolError,
    channel_matches,
    decode,
    encode,
    is_valid_channel,
    patterns_matching,
)

# Exact replies captured from faye 1.4.3 and cometd-nodejs-server 1.2.1 (bayeux.md)
FAYE_CONNECT_WITH_EVENT = (
    '[{"id":"4","clientId":"kfvn","channel":"/meta/connect","successful":true,'
    '"advice":{"reconnect":"retry","interval":0,"timeout":30000}},'
    '{"channel":"/probe","data":{"hello":"world","serverTs":1795952117847.37},"id":"3"}]'
)
COMETD_CONNECT_WITH_EVENT = (
    '[{"channel":"/probe","data":{"hello":"world","serverTs":1}},'
    '{"id":"4","channel":"/meta/connect","successful":true}]'
)


def test_faye_reply_and_event_are_told_apart_by_successful() -> None:
    reply, event = decode(FAYE_CONNECT_WITH_EVENT)
    assert reply.is_reply and reply.channel == "/meta/connect" and reply.client_id == "kfvn"
    assert reply.advice == Advice(reconnect=Reconnect.RETRY, interval=0, timeout=30000)
    # the event carries the publisher's id, yet it is not a reply
    assert not event.is_reply and event.id == "3"
    assert event.data == {"hello": "world", "serverTs": 1795952117847.37}


def test_cometd_order_events_first() -> None:
    event, reply = decode(COMETD_CONNECT_WITH_EVENT)
    assert event.id is None and not event.is_reply
    assert reply.is_reply and reply.advice is None


def test_single_object_is_accepted() -> None:
    (message,) = decode(b'{"channel":"/a/b","data":null}')
    assert message.channel == "/a/b" and message.has_data and message.data is None


def test_missing_data_differs_from_null() -> None:
    (message,) = decode('[{"channel":"/a"}]')
    assert message.data is MISSING and not message.has_data


def test_round_trip_keeps_unknown_fields() -> None:
    wire = [
        {
            "id": "7",
            "channel": "/meta/handshake",
            "version": "1.0",
            "minimumVersion": "1.0",
            "supportedConnectionTypes": ["long-polling", "websocket"],
            "advice": {"timeout": 60000, "interval": 0, "maxInterval": 10000, "hosts": ["x"]},
            "ext": {"ack": True},
            "somethingElse": [1, 2],
        }
    ]
    assert json.loads(encode(decode(json.dumps(wire)))) == wire


def test_numeric_id_becomes_a_string() -> None:
    (message,) = decode('[{"id":5,"channel":"/meta/connect"}]')
    assert message.id == "5"


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        ("{not json", "not JSON"),
        ('[{"channel":"/a","data":NaN}]', "not JSON"),
        ('[{"channel":"/a","data":-Infinity}]', "not JSON"),
        ('[{"channel":"/a","data":1e999}]', "not JSON"),
        ("42", "JSON array"),
        ("[42]", "message [0] must be a JSON object"),
        ('[{"channel":5}]', "'channel' must be a string"),
        ('[{"channel":"/a","successful":"yes"}]', "'successful' must be a boolean"),
        ('[{"channel":"/a","advice":{"reconnect":"later"}}]', "advice.reconnect"),
        ('[{"channel":"/a","advice":{"timeout":"soon"}}]', "advice.timeout"),
        ('[{"channel":"/a","subscription":[1]}]', "subscription"),
    ],
)
def test_malformed_payloads_raise_remote_protocol_error(payload: str, needle: str) -> None:
    with pytest.raises(RemoteProtocolError, match=re.escape(needle)) as info:
        decode(payload)
    assert info.value.hint.code == 400


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
field_names = st.sampled_from(
    [
        "id",
        "channel",
        "clientId",
        "data",
        "successful",
        "error",
        "advice",
        "ext",
        "subscription",
        "connectionType",
        "supportedConnectionTypes",
        "version",
        "x",
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(), st.binary()))
def test_no_text_makes_decode_raise_anything_else(payload: str | bytes) -> None:
    try:
        messages = decode(payload)
    except RemoteProtocolError as exc:
        assert str(exc)  # every refusal says why
    else:
        assert all(isinstance(m, Message) for m in messages)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.dictionaries(field_names, json_values, max_size=6), max_size=4))
def test_no_message_shape_makes_decode_raise_anything_else(items: list[dict[str, object]]) -> None:
    try:
        messages = decode(json.dumps(items))
    except RemoteProtocolError:
        return
    # what decodes re-encodes to an equivalent payload
    assert decode(encode(messages)) == messages


def test_patterns_matching_lists_every_wildcard() -> None:
    assert patterns_matching("/v2/me/calls") == (
        "/v2/me/calls",
        "/v2/me/*",
        "/v2/me/**",
        "/v2/**",
        "/**",
    )
    assert patterns_matching("/foo") == ("/foo", "/*", "/**")


@pytest.mark.parametrize(
    ("pattern", "channel", "expected"),
    [
        ("/v2/me/*", "/v2/me/calls", True),
        ("/v2/me/*", "/v2/me/calls/x", False),
        ("/v2/**", "/v2/me/calls/x", True),
        ("/v2/me/calls", "/v2/me/calls", True),
        ("/v2/me/devices", "/v2/me/calls", False),
        ("/*", "/v2/me", False),
    ],
)
def test_channel_matches(pattern: str, channel: str, expected: bool) -> None:
    assert channel_matches(pattern, channel) is expected


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("/a", True),
        ("/a/*", True),
        ("/a/**", True),
        ("/**", True),
        ("a", False),
        ("/a//b", False),
        ("/a/*/b", False),
        ("/", False),
        ("/a b", False),
    ],
)
def test_channel_validity(name: str, valid: bool) -> None:
    assert is_valid_channel(name) is valid


@pytest.mark.parametrize(
    ("text", "code", "args", "message"),
    [
        ("401:nosuchclient0123:Unknown client", 401, ("nosuchclient0123",), "Unknown client"),
        ("402::session_unknown", 402, (), "session_unknown"),
        ("403:xj3,/foo/bar:Subscription denied", 403, ("xj3", "/foo/bar"), "Subscription denied"),
        ("something broke", None, (), "something broke"),
    ],
)
def test_failure_strings_parse_and_format(
    text: str, code: int | None, args: tuple[str, ...], message: str
) -> None:
    failure = BayeuxFailure.parse(text)
    assert (failure.code, failure.args, failure.message) == (code, args, message)
    assert str(failure) == text


def test_bayeux_error_is_abstract() -> None:
    with pytest.raises(TypeError):
        BayeuxError("x")


def test_advice_merge_keeps_last_value_of_each_field() -> None:
    old = Advice(reconnect=Reconnect.RETRY, interval=0, timeout=30000)
    new = Advice(interval=2000, multiple_clients=True)
    assert old.merged(new) == Advice(
        reconnect=Reconnect.RETRY, interval=2000, timeout=30000, multiple_clients=True
    )


def test_message_is_immutable() -> None:
    message = Message(channel="/a")
    with pytest.raises(AttributeError):
        message.channel = "/b"  # type: ignore[misc]
    assert message.evolve(channel="/b").channel == "/b"
