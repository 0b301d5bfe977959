"""What the matcher produces: one :class:`Outcome` per operation and one :class:`Anomaly`
per notification that is not a clean match. Both turn into rows of the run folder
(docs/run-folder.md, ``events/`` and ``anomalies/``).

Times are monotonic seconds (``time.perf_counter()``); ``wall_offset`` converts them to
UNIX seconds (``unix = t + wall_offset``). Pure: standard library only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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
    #: the server node that answered the request ("" when the target does not name it)
    node: str = ""

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
        """Arrival minus the server's generation timestamp (NaN when it sent none):
        the delivery part of ``notify_ms``, offset by the two clocks' difference."""
        if self.t_notified is None or self.server_ts is None:
            return _NAN
        return (self.t_notified + self.wall_offset - self.server_ts) * 1000.0

    @property
    def server_ms(self) -> float:
        """The server's generation timestamp minus the send time (NaN when it sent none):
        the server part of ``notify_ms``, offset by the two clocks' difference."""
        if self.t_notified is None or self.server_ts is None:
            return _NAN
        return (self.server_ts - self.ts) * 1000.0

    def event_values(self, worker: str) -> tuple[object, ...]:
        """One row of the run folder's ``events/`` table, in the order of
        :data:`gwsload.contract.segments.EVENT_COLUMNS` (a tuple: no dict per row)."""
        ok = self.kind == "ok"
        return (
            self.ts,
            worker,
            self.agent,
            self.call_id,
            self.operation,
            self.expected_state,
            self.kind,
            self.http_status,
            self.status_code,
            self.error,
            self.response_ms,
            # only ok rows carry notification latencies (run-folder rule)
            self.notify_ms if ok else _NAN,
            self.notify_after_response_ms if ok else _NAN,
            self.notify_from_intended_ms if ok else _NAN,
            self.start_lag_ms,
            self.publish_lag_ms if ok else _NAN,
            self.server_seq,
            self.server_ms if ok else _NAN,
            self.node,
        )


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
    #: the server node that answered the related operation's request ("" when none)
    node: str = ""

    @property
    def ts(self) -> float:
        """When the notification arrived, UNIX seconds."""
        return self.t_received + self.wall_offset

    @property
    def age_ms(self) -> float:
        """Time since the related operation was sent (NaN for unexpected)."""
        return _ms(self.t_received, self.t_sent)

    def anomaly_values(self, worker: str) -> tuple[object, ...]:
        """One row of the run folder's ``anomalies/`` table, in the order of
        :data:`gwsload.contract.segments.ANOMALY_COLUMNS`."""
        return (
            self.ts,
            worker,
            self.agent,
            self.call_id,
            self.kind,
            self.notification_type,
            self.recording_state,
            self.operation,
            self.age_ms,
            self.server_seq,
            self.node,
        )
