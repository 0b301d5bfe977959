"""The operations of the load mix, their outcomes and the notification anomalies.

An operation is a GWS call-recording request; each is answered by a
``CallRecordingStateChange`` notification carrying its expected ``recordingState``.
Adding a recording operation to the load mix starts here (:data:`RECORDING_OPERATIONS`).
"""

from __future__ import annotations

from typing import Literal

__all__ = [
    "ANOMALY_KINDS",
    "CALL_RECORDING_STATE_CHANGE",
    "ERROR_OUTCOMES",
    "HTTP_FAILURES",
    "NOTIFY_FAILURES",
    "OUTCOME_KINDS",
    "RECORDING_OPERATIONS",
    "TRANSPORTS",
    "AnomalyKind",
    "OutcomeKind",
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
