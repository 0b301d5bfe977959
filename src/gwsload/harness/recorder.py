"""Where the agents of one Locust process put what they measured.

For each final operation (an ``Outcome`` of the matcher) the recorder:

- appends one ``events`` row (``Outcome.event_values``: a tuple, no dict per row),
- records its latencies into the process's HDR histograms (``response``, ``notify``,
  ``notify_from_intended`` per operation),
- fires a Locust ``request`` event for the HTTP operation (``POST <operation>``; no
  latency sample when there was no response) and logs the notification latency as a
  row of its own outside Locust's Aggregated total (``NOTIFY CallRecordingStateChange
  <state>``; a lost notification or an ``ErrorMessage`` is a failure there, without a
  latency sample: :mod:`gwsload.harness.locust_rows`),
- counts outcomes for the progress line.

Setup and session steps (login, Dial, Hangup...) become ``sessions`` rows.
Anomalies (late, duplicate, unexpected) become ``anomalies`` rows and Locust rows of
type ``ANOMALY`` (outside the Aggregated total too). Incidents (CometD clients, the
agents' lives) are buffered as records. Nothing here touches the run folder:
:class:`~gwsload.harness.distributed.Shipper` drains the buffers every few seconds.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any, Protocol

from locust.stats import RequestStats

from gwsload.contract.operations import HTTP_FAILURES, NOTIFY_FAILURES, response_outcome
from gwsload.gws.outcomes import Anomaly, Outcome
from gwsload.harness.locust_rows import log_apart, row_error, sample_ms
from gwsload.metrics.latency import LatencyRecorder
from gwsload.metrics.logs import incident
from gwsload.metrics.rows import ANOMALY_COLUMNS, EVENT_COLUMNS, SESSION_COLUMNS, RowBuffer

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

    def __init__(
        self,
        worker: str,
        *,
        start: float,
        request_event: RequestEvent | None,
        stats: RequestStats | None = None,
    ) -> None:
        self.worker = worker
        self.events = RowBuffer(EVENT_COLUMNS)
        self.anomalies = RowBuffer(ANOMALY_COLUMNS)
        self.sessions = RowBuffer(SESSION_COLUMNS)
        self.latency = LatencyRecorder(start)
        self.incidents: list[dict[str, object]] = []
        #: cumulative counts: outcome kinds, anomaly kinds and ``ops``
        self.counts: Counter[str] = Counter()
        self._request = request_event
        self._stats = stats

    def record_outcome(self, outcome: Outcome) -> None:
        ok = outcome.kind == "ok"
        response_ms = outcome.response_ms
        notify_ms = outcome.notify_ms if ok else _NAN
        from_intended_ms = outcome.notify_from_intended_ms if ok else _NAN
        self.events.append(outcome.event_values(self.worker))
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
        if request is not None:
            request.fire(
                request_type="POST",
                name=operation,
                response_time=sample_ms(response_ms),
                response_length=0,
                exception=row_error(outcome.error) if outcome.kind in HTTP_FAILURES else None,
                context={},
            )
        stats = self._stats
        if stats is not None and (ok or outcome.kind in NOTIFY_FAILURES):
            log_apart(
                stats,
                NOTIFY_REQUEST_TYPE,
                f"{outcome.notification_type} {outcome.expected_state}",
                notify_ms if ok else None,
                None if ok else row_error(f"{outcome.kind}: {outcome.error}"),
            )

    def record_anomaly(self, anomaly: Anomaly) -> None:
        age_ms = anomaly.age_ms
        self.anomalies.append(anomaly.anomaly_values(self.worker))
        self.counts[anomaly.kind] += 1
        if self._stats is not None:
            log_apart(self._stats, ANOMALY_REQUEST_TYPE, anomaly.kind, sample_ms(age_ms))

    def record_session_step(
        self,
        ts: float,
        *,
        agent: str,
        operation: str,
        response_ms: float,
        http_status: int | None,
        status_code: int,
        error: str,
    ) -> None:
        """One setup or session step (``http_status`` None: no response arrived)."""
        outcome = (
            "transport_error" if http_status is None else response_outcome(http_status, status_code)
        )
        self.sessions.append(
            (
                ts,
                self.worker,
                agent,
                operation,
                outcome,
                http_status or 0,
                status_code,
                error,
                response_ms,
            )
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
