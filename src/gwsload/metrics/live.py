"""Live metrics of a running test, served to Prometheus (OpenMetrics text format).

The master (or single process) feeds every batch its load processes ship
(:func:`~gwsload.harness.roles.make_batch`) into :class:`LiveMetrics`::

    live = LiveMetrics(run_id="20261130T120000Z-smoke", labels={"gws_build": "8.5.2"})
    live.serve("127.0.0.1", 9464)         # GET /metrics from now on
    live.accept(batch)                     # cheap: queued
    live.update()                          # in the writer thread: counts and histograms

Names (docs/reports.md, "Live metrics"): operations by operation and outcome,
notification and HTTP latency histograms (seconds, buckets from 1 ms to 10 s),
late/duplicate/unexpected notifications, incidents by kind, setup steps by outcome,
agents by phase, users, and per worker CPU, event-loop lag and RSS. ``gwsload_run_info``
carries the run id and labels. A registry of its own: nothing global is touched.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from gwsload.contract.agent_states import PHASES

__all__ = ["LATENCY_BUCKETS_S", "LiveMetrics", "metric_label"]

#: 1 ms to 10 s on a 1-2-5 ladder (Prometheus convention: seconds)
LATENCY_BUCKETS_S = (
    0.001,
    0.002,
    0.005,
    0.01,
    0.02,
    0.05,
    0.1,
    0.2,
    0.5,
    1.0,
    2.0,
    5.0,
    10.0,
)
_LABEL = re.compile(r"[^a-zA-Z0-9_]")


def metric_label(key: str) -> str:
    """A run label's key as a Prometheus label name: ``label_<key>``, other chars ``_``."""
    return "label_" + _LABEL.sub("_", key)


class LiveMetrics:
    """The run's metrics in one registry; fed batch by batch (see module doc)."""

    def __init__(self, *, run_id: str, labels: Mapping[str, str] | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        labels = dict(labels or {})
        names = ["run_id", *(metric_label(k) for k in labels)]
        info = Gauge("gwsload_run_info", "The run: id and labels", names, registry=self.registry)
        info.labels(run_id, *labels.values()).set(1)
        reg = self.registry
        self.operations = Counter(
            "gwsload_operations", "Operations by final outcome", ["operation", "outcome"],
            registry=reg,
        )  # fmt: skip
        self.notify = Histogram(
            "gwsload_notification_latency_seconds",
            "From request sent to the matching notification (ok operations)",
            ["operation"], buckets=LATENCY_BUCKETS_S, registry=reg,
        )  # fmt: skip
        self.response = Histogram(
            "gwsload_http_response_seconds", "HTTP response time of the operations",
            ["operation"], buckets=LATENCY_BUCKETS_S, registry=reg,
        )  # fmt: skip
        self.anomalies = Counter(
            "gwsload_notification_anomalies", "Late, duplicate and unexpected notifications",
            ["kind"], registry=reg,
        )  # fmt: skip
        self.incidents = Counter(
            "gwsload_incidents", "Incidents (reconnects, re-handshakes...) by kind", ["kind"],
            registry=reg,
        )  # fmt: skip
        self.sessions = Counter(
            "gwsload_session_steps", "Setup and session steps (login, Dial...) by outcome",
            ["operation", "outcome"], registry=reg,
        )  # fmt: skip
        self.agents = Gauge(
            "gwsload_agents", "Agents by phase (operating, setting_up, failing)", ["phase"],
            registry=reg,
        )  # fmt: skip
        self.users = Gauge("gwsload_users", "Locust users running", ["worker"], registry=reg)
        self.cpu = Gauge(
            "gwsload_generator_cpu_percent", "Load process CPU, % of one core", ["worker"],
            registry=reg,
        )  # fmt: skip
        self.lag = Gauge(
            "gwsload_generator_loop_lag_seconds", "Load process event-loop lag", ["worker"],
            registry=reg,
        )  # fmt: skip
        self.rss = Gauge(
            "gwsload_generator_rss_bytes", "Load process resident memory", ["worker"],
            registry=reg,
        )  # fmt: skip
        self._queued: list[Mapping[str, Any]] = []
        self._lock = threading.Lock()
        self._agent_states: dict[str, Mapping[str, Any]] = {}
        self._server: Any = None

    def serve(self, host: str, port: int) -> None:
        """Serve ``/metrics`` on ``host:port`` from a daemon thread until the process ends."""
        self._server, _ = start_http_server(port, addr=host, registry=self.registry)

    def accept(self, batch: Mapping[str, Any]) -> None:
        """Queue one load-process batch (cheap; taken by the next :meth:`update`)."""
        with self._lock:
            self._queued.append(batch)

    def update(self) -> None:
        """Take the queued batches into the metrics."""
        with self._lock:
            queued, self._queued = self._queued, []
        for batch in queued:
            self._take(batch)
        totals = dict.fromkeys(PHASES, 0)
        for summary in self._agent_states.values():
            for phase in PHASES:
                totals[phase] += int(summary.get(phase, 0) or 0)
        for phase, count in totals.items():
            self.agents.labels(phase).set(count)

    def _take(self, batch: Mapping[str, Any]) -> None:
        worker = str(batch.get("worker", "local"))
        events = batch.get("events") or {}
        operations = events.get("operation") or []
        outcomes = events.get("outcome") or []
        responses = events.get("response_ms") or []
        notifies = events.get("notify_ms") or []
        for operation, outcome, response_ms, notify_ms in zip(
            operations, outcomes, responses, notifies, strict=False
        ):
            self.operations.labels(operation, outcome).inc()
            if not math.isnan(response_ms):  # there was a response
                self.response.labels(operation).observe(response_ms / 1000.0)
            if outcome == "ok" and not math.isnan(notify_ms):
                self.notify.labels(operation).observe(notify_ms / 1000.0)
        for kind in (batch.get("anomalies") or {}).get("kind") or []:
            self.anomalies.labels(kind).inc()
        sessions = batch.get("sessions") or {}
        for operation, outcome in zip(
            sessions.get("operation") or [], sessions.get("outcome") or [], strict=False
        ):
            self.sessions.labels(operation, outcome).inc()
        for record in batch.get("incidents") or []:
            self.incidents.labels(str(record.get("kind", "?"))).inc()
        states = batch.get("agent_states")
        if states:
            self._agent_states[worker] = states
        if "users" in batch:
            self.users.labels(worker).set(float(batch["users"]))
        samples = batch.get("samples") or []
        if samples:
            last = samples[-1]
            self._set(self.cpu, worker, last.get("cpu_percent"), 1.0)
            self._set(self.lag, worker, last.get("loop_lag_ms"), 0.001)
            self._set(self.rss, worker, last.get("rss_bytes"), 1.0)

    @staticmethod
    def _set(gauge: Gauge, worker: str, value: object, scale: float) -> None:
        if isinstance(value, int | float) and math.isfinite(value):
            gauge.labels(worker).set(float(value) * scale)
