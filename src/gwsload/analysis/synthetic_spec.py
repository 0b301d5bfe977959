"""What a synthetic run holds: its stages and properties (analysis.synthetic writes it,
analysis.synthetic_events generates its events; both read this, neither the other)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Stage", "SyntheticRun"]


@dataclass(frozen=True)
class Stage:
    """``users`` agents for ``duration_s`` seconds (offered load ``users * ops_per_user_s``)."""

    users: int
    duration_s: float
    spawn_rate: float = 1000.0
    rate_per_s: float | None = None


@dataclass(frozen=True)
class SyntheticRun:
    """What to generate. Defaults: a 2-minute, 10-agent closed run, no faults."""

    scenario: str = "synthetic"
    stages: tuple[Stage, ...] = (Stage(users=10, duration_s=120.0),)
    ops_per_user_s: float = 2.0
    warmup_s: float | None = 10.0
    #: median notification latency (ms) per operation
    notify_median_ms: dict[str, float] = field(
        default_factory=lambda: {"StartCallRecording": 40.0, "StopCallRecording": 60.0}
    )
    notify_sigma: float = 0.5
    response_median_ms: float = 20.0
    response_sigma: float = 0.4
    #: planted regression: every latency multiplied by this
    latency_factor: float = 1.0
    #: planted drift: notification latency grows by this many ms per hour of run time
    drift_ms_per_hour: float = 0.0
    #: achieved ops/s never exceeds this; past it latency grows with the overload
    capacity_ops_s: float | None = None
    error_ratio: float = 0.0
    lost_ratio: float = 0.0
    late_per_lost: float = 0.0
    duplicate_ratio: float = 0.0
    unexpected_count: int = 0
    #: (t_s, kind) incidents written to incidents.jsonl
    incidents: tuple[tuple[float, str], ...] = ()
    open_workload: bool = False
    start_lag_mean_ms: float = 0.0
    cpu_percent: float = 35.0
    loop_lag_ms: float = 1.0
    #: per stage, the generator's event-loop lag (ms) instead of ``loop_lag_ms``
    stage_loop_lag_ms: tuple[float, ...] = ()
    #: write simulator.csv (the embedded simulator's health), with this lag (ms) per
    #: stage; empty: no simulator.csv
    simulator_stage_loop_lag_ms: tuple[float, ...] = ()
    rss_growth_bytes_per_hour: float = 0.0
    #: the RSS growth stops here (seconds since t0): start-up growth; None: it never stops
    rss_growth_until_s: float | None = None
    slo: tuple[dict[str, Any], ...] = ()
    span_s: float = 10.0
    hlog_interval_s: float = 5.0
    write_hlog: bool = True
    seed: int = 1
    #: share of each notification latency spent before the server published it; None:
    #: the server sends no publish timestamp (``publish_lag_ms`` and ``server_ms`` NaN)
    server_fraction: float | None = None
    #: the server's clock minus the generator's (ms), in ``server_ms``
    server_clock_offset_ms: float = 0.0
    #: planted regressions (ms) added to every notification latency: before the server
    #: stamped it (server side) or after (delivery)
    server_extra_ms: float = 0.0
    delivery_extra_ms: float = 0.0
    #: manifest ``target.kind``
    target_kind: str = "embedded-simulator"
    #: manifest ``labels`` (``gwsload run --label``)
    labels: tuple[tuple[str, str], ...] = ()
