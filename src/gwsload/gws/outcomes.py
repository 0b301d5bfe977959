"""What the matcher produces: one :class:`Outcome` per operation and one :class:`Anomaly`
per notification that is not a clean match. Both turn into rows of the run folder
(docs/run-folder.md, ``events/`` and ``anomalies/``).

Times are monotonic seconds (``time.perf_counter()``); ``wall_offset`` converts them to
UNIX seconds (``unix = t + wall_offset``). Pure: standard library only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from gwsload.contract.operations import AnomalyKind, OutcomeKind

__all__ = ["Anomaly", "AnomalyKind", "Outcome", "OutcomeKind"]


_NAN = math.nan


def _ms(later: float | None, earlier: float | None) -> float:
    if later is None or earlier is None:
        return _NAN
    return (later - earlier) * 1000.0


@dataclass(frozen=True, slots=True)
class Outcome:
    """The final result of one operation; times are monotonic seconds (see module doc)."""

    kind: OutcomeKind
    agent: str
    call_id: str
    operation: str
    notification_type: str
    expected_state: str
    t_intended: float
    t_sent: float
    t_response: float | None
    t_notified: float | None
    http_status: int
    status_code: int
    error: str
    server_ts: float | None
    server_seq: int
    wall_offset: float

    @property
    def ts(self) -> float:
        """When the request was sent, UNIX seconds."""
        return self.t_sent + self.wall_offset

    @property
    def response_ms(self) -> float:
        return _ms(self.t_response, self.t_sent)

    @property
    def notify_ms(self) -> float:
        return _ms(self.t_notified, self.t_sent)

    @property
    def notify_after_response_ms(self) -> float:
        """Negative when the notification came before the HTTP response."""
        return _ms(self.t_notified, self.t_response)

    @property
    def notify_from_intended_ms(self) -> float:
        return _ms(self.t_notified, self.t_intended)

    @property
    def start_lag_ms(self) -> float:
        return _ms(self.t_sent, self.t_intended)

    @property
    def publish_lag_ms(self) -> float:
        """Arrival minus the server's own publish timestamp (NaN when it sent none)."""
        if self.t_notified is None or self.server_ts is None:
            return _NAN
        return (self.t_notified + self.wall_offset - self.server_ts) * 1000.0

    def event_row(self, worker: str) -> dict[str, Any]:
        """One row of the run folder's ``events/`` table (docs/run-folder.md)."""
        ok = self.kind == "ok"
        return {
            "ts": self.ts,
            "worker": worker,
            "agent": self.agent,
            "call_id": self.call_id,
            "operation": self.operation,
            "expected_state": self.expected_state,
            "outcome": self.kind,
            "http_status": self.http_status,
            "status_code": self.status_code,
            "error": self.error,
            "response_ms": self.response_ms,
            # only ok rows carry notification latencies (run-folder rule)
            "notify_ms": self.notify_ms if ok else _NAN,
            "notify_after_response_ms": self.notify_after_response_ms if ok else _NAN,
            "notify_from_intended_ms": self.notify_from_intended_ms if ok else _NAN,
            "start_lag_ms": self.start_lag_ms,
            "publish_lag_ms": self.publish_lag_ms if ok else _NAN,
            "server_seq": self.server_seq,
        }


@dataclass(frozen=True, slots=True)
class Anomaly:
    """A notification that is not a clean match (late, duplicate or unexpected)."""

    kind: AnomalyKind
    agent: str
    call_id: str
    notification_type: str
    recording_state: str
    operation: str  # '' for unexpected
    t_received: float
    t_sent: float | None  # the related operation's send time, None for unexpected
    server_ts: float | None
    server_seq: int
    wall_offset: float

    @property
    def ts(self) -> float:
        """When the notification arrived, UNIX seconds."""
        return self.t_received + self.wall_offset

    @property
    def age_ms(self) -> float:
        """Time since the related operation was sent (NaN for unexpected)."""
        return _ms(self.t_received, self.t_sent)

    def anomaly_row(self, worker: str) -> dict[str, Any]:
        """One row of the run folder's ``anomalies/`` table (docs/run-folder.md)."""
        return {
            "ts": self.ts,
            "worker": worker,
            "agent": self.agent,
            "call_id": self.call_id,
            "kind": self.kind,
            "notification_type": self.notification_type,
            "recording_state": self.recording_state,
            "operation": self.operation,
            "age_ms": self.age_ms,
            "server_seq": self.server_seq,
        }
