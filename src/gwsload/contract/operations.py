"""The operations of the load mix, their outcomes and the notification anomalies.

An operation is a GWS call-recording request; each is answered by a
``CallRecordingStateChange`` notification carrying its expected ``recordingState``.
Adding a recording operation to the load mix starts here (:data:`RECORDING_OPERATIONS`).

An agent's setup and session steps (GET /me, the CometD handshake,
StartContactCenterSession, Ready, Dial, Hangup, EndContactCenterSession...) are not
operations: they are recorded apart, one ``sessions`` row each, so they never mix
into the headline.
"""

from __future__ import annotations

from typing import Literal

__all__ = [
    "ANOMALY_KINDS",
    "CALL_RECORDING_STATE_CHANGE",
    "COMETD_HANDSHAKE",
    "ERROR_OUTCOMES",
    "HTTP_FAILURES",
    "NOTIFY_FAILURES",
    "OUTCOME_KINDS",
    "RECORDING_OPERATIONS",
    "SESSION_OPERATIONS_ORDER",
    "TRANSPORTS",
    "AnomalyKind",
    "OutcomeKind",
    "response_outcome",
]

#: the notificationType that answers every recording operation
CALL_RECORDING_STATE_CHANGE = "CallRecordingStateChange"

#: recording operation -> the ``recordingState`` its notification carries
RECORDING_OPERATIONS: dict[str, str] = {
    "StartCallRecording": "Recording",
    "StopCallRecording": "Stopped",
    "PauseCallRecording": "Paused",
    "ResumeCallRecording": "Recording",
}

OutcomeKind = Literal["ok", "http_error", "api_error", "transport_error", "async_error", "lost"]
AnomalyKind = Literal["late", "duplicate", "unexpected"]

#: final outcome of one operation (``events.outcome``), in report order
OUTCOME_KINDS: tuple[OutcomeKind, ...] = (
    "ok",
    "http_error",
    "api_error",
    "transport_error",
    "async_error",
    "lost",
)
#: outcomes counted as errors (the ``error_ratio`` of SLOs and compare, progress ``errors``):
#: the request failed, or GWS answered it with an ErrorMessage notification
ERROR_OUTCOMES: tuple[OutcomeKind, ...] = (
    "http_error",
    "api_error",
    "transport_error",
    "async_error",
)
#: outcomes where the HTTP request itself failed (Locust's POST row fails)
HTTP_FAILURES: tuple[OutcomeKind, ...] = ("http_error", "api_error", "transport_error")
#: outcomes where the notification failed (Locust's NOTIFY row fails)
NOTIFY_FAILURES: tuple[OutcomeKind, ...] = ("lost", "async_error")
#: notifications that are not a clean match (``anomalies.kind``), in report order
ANOMALY_KINDS: tuple[AnomalyKind, ...] = ("late", "duplicate", "unexpected")

#: CometD transports an agent may use (scenario ``[client] transport``)
TRANSPORTS = ("long-polling", "websocket")

#: the ``operation`` of a CometD handshake in ``sessions`` (the handshake only)
COMETD_HANDSHAKE = "CometdHandshake"
#: the order an agent's life goes through its steps, for tables; others follow by name
SESSION_OPERATIONS_ORDER = (
    "GetMe",
    COMETD_HANDSHAKE,
    "StartContactCenterSession",
    "GetCalls",
    "GetDevices",
    "Ready",
    "Dial",
    "Hangup",
    "EndContactCenterSession",
)


def response_outcome(http_status: int, status_code: int) -> OutcomeKind:
    """``ok``, ``api_error`` or ``http_error`` of one GWS response.

    A GWS error body names its cause (statusCode), whatever the HTTP status it came
    with (GWS pairs statusCode 2 with 400, 4 with 503...): that is an API error. A
    non-2xx without a statusCode (a proxy page, a bare 502) is HTTP's. A 2xx body
    without a statusCode is an API error too.
    """
    if status_code > 0:
        return "api_error"
    if not 200 <= http_status < 300:
        return "http_error"
    if status_code != 0:
        return "api_error"
    return "ok"
