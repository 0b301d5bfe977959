"""GWS wire rules that need no network: URLs, bodies, statusCode errors, CSRF."""

from __future__ import annotations

import base64
import json
import pickle

import pytest

from gwsload.gws.errors import (
    STATUS_MEANINGS,
    GwsApiError,
    GwsSettingError,
    GwsTransportError,
    status_meaning,
)
from gwsload.gws.protocol import (
    CsrfToken,
    basic_authorization,
    call_path,
    check_status,
    dial_path,
    is_csrf_refusal,
    learn_csrf,
    operation_body,
    parse_base_url,
    parse_body,
    server_stamp,
)


def test_every_documented_status_code_has_a_meaning() -> None:
    assert sorted(STATUS_MEANINGS) == list(range(21))
    assert status_meaning(2) == "parameter not valid for the current state"
    assert status_meaning(20) == "user not authenticated"
    assert status_meaning(99) == "unknown status code"
    assert status_meaning(-1) == "no statusCode in the response"


def test_api_error_carries_code_meaning_http_status_and_operation() -> None:
    body = {"statusCode": 2, "statusMessage": "Invalid state"}
    with pytest.raises(GwsApiError) as info:
        check_status("StartCallRecording", 400, body)
    err = info.value
    assert (err.status_code, err.http_status, err.operation) == (2, 400, "StartCallRecording")
    assert err.meaning == "parameter not valid for the current state"
    assert str(err) == (
        "StartCallRecording failed: statusCode 2 (parameter not valid for the current state), "
        "HTTP 400: Invalid state"
    )
    copy = pickle.loads(pickle.dumps(err))
    assert (copy.status_code, copy.meaning, str(copy)) == (2, err.meaning, str(err))


def test_non_zero_status_code_with_http_200_is_an_error() -> None:
    with pytest.raises(GwsApiError, match=r"statusCode 6 \(resource not found\), HTTP 200"):
        check_status("Hangup", 200, {"statusCode": 6})


def test_http_error_without_json_uses_the_body_excerpt() -> None:
    body, excerpt = parse_body(b"Missing or invalid Csrf token")
    assert body == {}
    with pytest.raises(GwsApiError) as info:
        check_status("Ready", 403, body, excerpt)
    assert info.value.status_code == -1
    assert info.value.message == "Missing or invalid Csrf token"


def test_success_passes() -> None:
    check_status("Ready", 200, {"statusCode": 0})


def test_parse_body_variants() -> None:
    assert parse_body(b"") == ({}, "")
    assert parse_body(b'{"statusCode":0,"user":{"id":"x"}}')[0]["user"] == {"id": "x"}
    assert parse_body(b"[1,2]") == ({}, "[1,2]")
    assert parse_body(b"\xff\xfe")[0] == {}


def test_transport_error_message_and_pickle() -> None:
    err = GwsTransportError("GetMe", "ConnectionRefusedError: [Errno 111]")
    assert str(err) == "GetMe: no response (ConnectionRefusedError: [Errno 111])"
    assert str(pickle.loads(pickle.dumps(err))) == str(err)


def test_base_url_and_origin() -> None:
    base = parse_base_url("https://gws.example:8443/")
    assert (base.scheme, base.host, base.port) == ("https", "gws.example", 8443)
    assert base.origin == "https://gws.example:8443"
    assert parse_base_url("http://127.0.0.1:80").origin == "http://127.0.0.1"
    assert parse_base_url("https://gws.example").port == 443
    assert parse_base_url("http://[::1]:4000").origin == "http://[::1]:4000"
    assert base.url("/api/v2/notifications") == "https://gws.example:8443/api/v2/notifications"


@pytest.mark.parametrize("bad", ["gws.example:8443", "ftp://x", "http://", "http://h:99999"])
def test_bad_base_url_is_a_config_error(bad: str) -> None:
    with pytest.raises(GwsSettingError, match="target URL"):
        parse_base_url(bad)


def test_basic_authorization() -> None:
    value = basic_authorization("agent0001", "gwsload")
    assert value.startswith("Basic ")
    assert base64.b64decode(value[6:]) == b"agent0001:gwsload"


def test_paths_and_bodies() -> None:
    assert call_path("0a1b/2") == "/api/v2/me/calls/0a1b%2F2"
    assert dial_path("dev-1") == "/api/v2/me/devices/dev-1/calls"
    body = json.loads(operation_body("Dial", destination={"phoneNumber": "5000"}))
    assert body == {"operationName": "Dial", "destination": {"phoneNumber": "5000"}}


def test_csrf_is_learned_from_gws_headers() -> None:
    headers = [("Content-Type", "application/json"), ("x-csrf-header", "X-CSRF-TOKEN"),
               ("X-CSRF-TOKEN", "3f1c")]  # fmt: skip
    assert learn_csrf(headers) == CsrfToken("X-CSRF-TOKEN", "3f1c")
    assert learn_csrf([("X-CSRF-HEADER", "X-My-Token"), ("X-CSRF-TOKEN", "t")]) == CsrfToken(
        "X-My-Token", "t"
    )
    assert learn_csrf([("Content-Type", "application/json")]) is None


def test_csrf_refusal_is_recognised() -> None:
    assert is_csrf_refusal(403, {"statusCode": 3, "statusMessage": "Missing or invalid Csrf token"})
    assert is_csrf_refusal(403, {}, "Missing or invalid Csrf token")
    assert not is_csrf_refusal(403, {"statusCode": 3, "statusMessage": "Origin not allowed"})
    assert not is_csrf_refusal(400, {"statusMessage": "csrf"})


def test_server_stamp_from_gws_metrics_and_the_simulators_ext() -> None:
    # the shape of the GWS 8.5.2 Dial sample's notification
    data = {
        "notificationType": "StatusChange",
        "metrics": {
            "eventProcessing": {
                "nodeProcessingTimeNanos": 4911602,
                "serverGenerationTimestamp": 1444920326391,
                "serverProcessingTimeTotalMs": 5,
            }
        },
    }
    message = {"channel": "/v2/me/calls", "data": data, "ext": {"gwsload": {"seq": 3}}}
    assert server_stamp(message) == (1444920326.391, 3)
    assert server_stamp({"channel": "/v2/me/calls", "data": data}) == (1444920326.391, None)
    assert server_stamp({"channel": "/v2/me/calls", "data": {}}) == (None, None)
    assert server_stamp({"ext": {"ack": 4}}) == (None, None)
    odd = {"metrics": {"eventProcessing": {"serverGenerationTimestamp": "x"}}}
    assert server_stamp({"data": odd, "ext": {"gwsload": {"seq": True}}}) == (None, None)
    assert server_stamp({"data": {"metrics": []}}) == (None, None)
