"""Live metrics: a batch becomes the documented series; the shipped Grafana dashboard
asks only for series the exporter serves."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from gwsload.metrics.live import LiveMetrics, metric_label

DASHBOARD = Path(__file__).parents[2] / "docs" / "grafana-dashboard.json"


def _batch() -> dict[str, object]:
    return {
        "worker": "w1",
        "events": {
            "operation": ["StartCallRecording", "StopCallRecording", "StopCallRecording"],
            "outcome": ["ok", "ok", "lost"],
            "response_ms": [3.0, 4.0, 5.0],
            "notify_ms": [12.0, 1500.0, math.nan],
        },
        "anomalies": {"kind": ["late", "duplicate"]},
        "sessions": {"operation": ["GetMe", "Dial"], "outcome": ["ok", "api_error"]},
        "incidents": [{"kind": "rehandshake"}],
        "samples": [{"cpu_percent": 40.0, "loop_lag_ms": 3.0, "rss_bytes": 1e8}],
        "users": 7,
        "agent_states": {"operating": 5, "setting_up": 1, "failing": 1},
    }


def _samples(live: LiveMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(live.registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_a_batch_becomes_the_documented_series() -> None:
    live = LiveMetrics(run_id="r1", labels={"gws_build": "8.5.2", "env-name": "staging"})
    live.accept(_batch())
    assert not any(k[0] == "gwsload_operations_total" for k in _samples(live))  # queued
    live.update()
    got = _samples(live)
    info = (("label_env_name", "staging"), ("label_gws_build", "8.5.2"), ("run_id", "r1"))
    assert got[("gwsload_run_info", info)] == 1.0
    ops = (("operation", "StopCallRecording"), ("outcome", "lost"))
    assert got[("gwsload_operations_total", ops)] == 1.0
    # latency in seconds: 12 ms under the 20 ms bucket, 1.5 s under 2 s; a lost one has none
    start = (("le", "0.02"), ("operation", "StartCallRecording"))
    assert got[("gwsload_notification_latency_seconds_bucket", start)] == 1.0
    stop = (("operation", "StopCallRecording"),)
    assert got[("gwsload_notification_latency_seconds_count", stop)] == 1.0
    assert got[("gwsload_notification_latency_seconds_sum", stop)] == 1.5
    assert got[("gwsload_http_response_seconds_count", stop)] == 2.0
    assert got[("gwsload_notification_anomalies_total", (("kind", "late"),))] == 1.0
    assert got[("gwsload_incidents_total", (("kind", "rehandshake"),))] == 1.0
    steps = (("operation", "Dial"), ("outcome", "api_error"))
    assert got[("gwsload_session_steps_total", steps)] == 1.0
    assert got[("gwsload_agents", (("phase", "failing"),))] == 1.0
    assert got[("gwsload_generator_loop_lag_seconds", (("worker", "w1"),))] == 0.003
    assert got[("gwsload_users", (("worker", "w1"),))] == 7.0
    assert metric_label("a.b-c") == "label_a_b_c"


def test_the_dashboard_asks_only_for_served_series() -> None:
    live = LiveMetrics(run_id="r1")
    live.accept(_batch())
    live.update()
    served = {name for name, _ in _samples(live)}
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["__inputs"][0]["pluginId"] == "prometheus"
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert len(exprs) >= 12
    asked = {name for e in exprs for name in re.findall(r"\bgwsload_[a-z_]+", e)}
    assert asked and asked <= served, asked - served
