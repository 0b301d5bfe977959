"""Where the agents of one Locust process put what they measured.

For each final operation (an ``Outcome`` of the matcher) the recorder:

- appends one ``events`` row (a tuple in ``EVENT_COLUMNS`` order: no dict per row),
- records its latencies into the process's HDR histograms (``response``, ``notify``,
  ``notify_from_intended`` per operation),
- fires Locust ``request`` events so the live stats show the HTTP operation
  (``POST <operation>``) and, as its own row, the notification latency
  (``NOTIFY CallRecordingStateChange <state>``; a lost notification is a failure there),
- counts outcomes for the progress line.

Anomalies (late, duplicate, unexpected) become ``anomalies`` rows and Locust rows of
type ``ANOMALY``. Incidents of the CometD clients are buffered as records. Nothing
here touches the run folder: :class:`~gwsload.harness.distributed.Shipper` drains the
buffers every few seconds.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any, Protocol

from gwsload.gws.outcomes import Anomaly, Outcome
from gwsload.metrics.latency import LatencyRecorder
from gwsload.metrics.logs import incident
from gwsload.metrics.rows import ANOMALY_COLUMNS, EVENT_COLUMNS, RowBuffer

__all__ = ["NOTIFY_REQUEST_TYPE", "OpRecorder", "RequestEvent"]

#: Locust request_type of the notification-latency rows
NOTIFY_REQUEST_TYPE = "NOTIFY"
ANOMALY_REQUEST_TYPE = "ANOMALY"
_NAN = math.nan


class RequestEvent(Protocol):
    """Locust's ``environment.events.request`` (only ``fire`` is used)."""

    def fire(self, **kwargs: Any) -> Any: ...


class OpRecorder:
    """Per-process buffers and counters; every method is cheap and never yields."""

    def __init__(self, worker: str, *, start: float, request_event: RequestEvent | None) -> None:
        self.worker = worker
        self.events = RowBuffer(EVENT_COLUMNS)
        self.anomalies = RowBuffer(ANOMALY_COLUMNS)
        self.latency = LatencyRecorder(start)
        self.incidents: list[dict[str, object]] = []
        #: cumulative counts: outcome kinds, anomaly kinds and ``ops``
        self.counts: Counter[str] = Counter()
        self._request = request_event

    def record_outcome(self, outcome: Outcome) -> None:
        ok = outcome.kind == "ok"
        response_ms = outcome.response_ms
        notify_ms = outcome.notify_ms if ok else _NAN
        from_intended_ms = outcome.notify_from_intended_ms if ok else _NAN
        self.events.append(
            (
                outcome.ts,
                self.worker,
                outcome.agent,
                outcome.call_id,
                outcome.operation,
                outcome.expected_state,
                outcome.kind,
                outcome.http_status,
                outcome.status_code,
                outcome.error,
                response_ms,
                notify_ms,
                outcome.notify_after_response_ms if ok else _NAN,
                from_intended_ms,
                outcome.start_lag_ms,
                outcome.publish_lag_ms if ok else _NAN,
                outcome.server_seq,
            )
        )
        counts = self.counts
        counts["ops"] += 1
        counts[outcome.kind] += 1
        operation = outcome.operation
        latency = self.latency
        if not math.isnan(response_ms):  # there was a response
            latency.record("response", operation, response_ms)
        if ok:
            latency.record("notify", operation, notify_ms)
            latency.record("notify_from_intended", operation, from_intended_ms)
        request = self._request
        if request is None:
            return
        http_failed = outcome.kind in ("http_error", "api_error", "transport_error")
        request.fire(
            request_type="POST",
            name=operation,
            response_time=0.0 if math.isnan(response_ms) else response_ms,
            response_length=0,
            exception=RuntimeError(outcome.error) if http_failed else None,
            context={},
        )
        if ok or outcome.kind == "lost":
            request.fire(
                request_type=NOTIFY_REQUEST_TYPE,
                name=f"{outcome.notification_type} {outcome.expected_state}",
                response_time=notify_ms if ok else 0.0,
                response_length=0,
                exception=None if ok else RuntimeError("lost: no notification in time"),
                context={},
            )

    def record_anomaly(self, anomaly: Anomaly) -> None:
        age_ms = anomaly.age_ms
        self.anomalies.append(
            (
                anomaly.ts,
                self.worker,
                anomaly.agent,
                anomaly.call_id,
                anomaly.kind,
                anomaly.notification_type,
                anomaly.recording_state,
                anomaly.operation,
                age_ms,
                anomaly.server_seq,
            )
        )
        self.counts[anomaly.kind] += 1
        if self._request is not None:
            self._request.fire(
                request_type=ANOMALY_REQUEST_TYPE,
                name=anomaly.kind,
                response_time=0.0 if math.isnan(age_ms) else age_ms,
                response_length=0,
                exception=None,
                context={},
            )

    def record_incident(
        self, ts: float, agent: str, kind: str, detail: str, duration_ms: float | None
    ) -> None:
        self.incidents.append(
            incident(ts, self.worker, agent, kind, detail=detail, duration_ms=duration_ms)
        )
        self.counts[f"incident.{kind}"] += 1

    def drain_incidents(self) -> list[dict[str, object]]:
        drained, self.incidents = self.incidents, []
        return drained
