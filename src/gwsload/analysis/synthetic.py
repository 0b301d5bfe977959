"""Write a run folder with known properties, for the tests and the benchmark.

Latencies are log-normal per operation (median and spread given), with an
optional planted regression (a factor), drift (ms per hour), step load with a
knee (throughput capped at ``capacity_ops_s``, latency rising past it), injected
errors and losses, anomalies, incidents and generator samples. Events are
generated span by span in time order (analysis.synthetic_events, vectorised), so
memory stays bounded whatever the number of operations, and the HDR interval log
is written from the same values.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from gwsload.analysis.synthetic_events import OPERATIONS, T0, EventWriter
from gwsload.analysis.synthetic_spec import Stage, SyntheticRun
from gwsload.contract.saturation import SIMULATOR_HEALTH_FILE

__all__ = ["OPERATIONS", "T0", "Stage", "SyntheticRun", "write_run"]


def _manifest(spec: SyntheticRun, duration: float) -> dict[str, Any]:
    stages, start = [], 0.0
    for index, stage in enumerate(spec.stages):
        stages.append(
            {
                "index": index,
                "start_s": start,
                "end_s": start + stage.duration_s,
                "users": stage.users,
                "spawn_rate": stage.spawn_rate,
                "rate_per_s": stage.rate_per_s,
            }
        )
        start += stage.duration_s
    return {
        "format": 1,
        "run_id": f"20261129T120000Z-{spec.scenario}",
        "status": "completed",
        "exit_code": 0,
        "t0": T0,
        "started_utc": "2026-11-29T12:00:00Z",
        "ended_utc": None,
        "duration_s": duration,
        "scenario_file": f"scenarios/{spec.scenario}.toml",
        "scenario": {
            "name": spec.scenario,
            "description": f"synthetic {spec.scenario} run",
            "stages": stages,
            "workload": {
                "model": "open" if spec.open_workload else "closed",
                "hold_s": {"distribution": "uniform", "min": 0.5, "max": 1.5},
                "think_time_s": {"distribution": "fixed", "value": 0.5},
                "pause_share": 0.0,
            },
        },
        "target": {"kind": spec.target_kind, "url": "http://127.0.0.1:40111"},
        "transport": "long-polling",
        "workload": {"model": "open" if spec.open_workload else "closed"},
        "stages": stages,
        "warmup_s": spec.warmup_s,
        "notification_timeout_s": 10.0,
        "slo": list(spec.slo),
        "workers": 0,
        "labels": dict(spec.labels),
        "host": {"hostname": "synthetic", "cpu_count": 2, "platform": "Linux", "python": "3.11"},
        "versions": {"gwsload": "0.1.0"},
        "git_revision": None,
        "command_line": ["synthetic"],
        "generator": {"saturated": False, "findings": []},
    }


def write_run(path: Path | str, spec: SyntheticRun | None = None) -> Path:
    """Write a complete run folder for ``spec`` at ``path`` (created) and return it."""
    spec = spec or SyntheticRun()
    path = Path(path)
    (path / "events").mkdir(parents=True, exist_ok=True)
    (path / "anomalies").mkdir(exist_ok=True)
    duration = sum(s.duration_s for s in spec.stages)
    writer = EventWriter(spec, path)
    hlog = (path / "latency.hlog").open("w", encoding="utf-8") if spec.write_hlog else None
    try:
        if hlog is not None:
            hlog.write(f"#[StartTime: {T0:.3f} (seconds since epoch)]\n")
            hlog.write(
                '"StartTimestamp","Interval_Length","Interval_Max",'
                '"Interval_Compressed_Histogram"\n'
            )
        stage_start = 0.0
        for stage in spec.stages:
            spans = max(1, math.ceil(stage.duration_s / spec.span_s))
            bounds = np.linspace(stage_start, stage_start + stage.duration_s, spans + 1)
            for lo, hi in itertools.pairwise(bounds):
                writer.span(float(lo), float(hi), stage, hlog)
            stage_start += stage.duration_s
    finally:
        if hlog is not None:
            hlog.close()
    rng = writer.rng
    for i in range(spec.unexpected_count):
        t = rng.uniform(spec.warmup_s or 0.0, duration)
        writer.anomaly_rows.append(
            {
                "ts": T0 + t,
                "kind": "unexpected",
                "operation": "",
                "age_ms": np.nan,
                "call_id": f"c{i}",
            }
        )
    if writer.anomaly_rows:
        rows = writer.anomaly_rows
        table = pa.table(
            {
                "ts": [r["ts"] for r in rows],
                "worker": ["local"] * len(rows),
                "agent": ["agent0000"] * len(rows),
                "call_id": [r.get("call_id", "c") for r in rows],
                "kind": [r["kind"] for r in rows],
                "notification_type": ["CallRecordingStateChange"] * len(rows),
                "recording_state": ["Recording"] * len(rows),
                "operation": [r["operation"] for r in rows],
                "age_ms": [r["age_ms"] for r in rows],
                "server_seq": [-1] * len(rows),
            }
        )
        pq.write_table(table, path / "anomalies" / "part-local-000000.parquet")
    with (path / "incidents.jsonl").open("w", encoding="utf-8") as out:
        for t, kind in spec.incidents:
            out.write(
                json.dumps(
                    {
                        "ts": T0 + t,
                        "worker": "local",
                        "agent": "agent0001",
                        "kind": kind,
                        "detail": "402::session_unknown",
                        "duration_ms": 800.0,
                    }
                )
                + "\n"
            )
    _write_generator(path, spec, duration)
    _write_sessions(path, spec, duration, rng)
    manifest = _manifest(spec, duration)
    (path / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return path


_LOGIN = ("GetMe", "CometdHandshake", "StartContactCenterSession", "Ready", "Dial")


def _write_sessions(path: Path, spec: SyntheticRun, duration: float, rng: Any) -> None:
    """Each agent logs in and dials at its start, hangs up and logs out at the end."""
    users = max(s.users for s in spec.stages)
    steps = [(op, 0.05 * i) for i, op in enumerate(_LOGIN)]
    steps += [("Hangup", duration + 0.1), ("EndContactCenterSession", duration + 0.2)]
    rows = [(f"agent{a:04d}", op, t + a * 0.01) for a in range(users) for op, t in steps]
    n = len(rows)
    failed = np.zeros(n, bool)
    if spec.error_ratio > 0:
        failed[:: max(1, round(1 / spec.error_ratio))] = True
    table = pa.table(
        {
            "ts": [T0 + t for _, _, t in rows],
            "worker": ["local"] * n,
            "agent": [a for a, _, _ in rows],
            "operation": [op for _, op, _ in rows],
            "outcome": np.where(failed, "api_error", "ok").tolist(),
            "http_status": pa.array(np.where(failed, 503, 200), pa.int32()),
            "status_code": pa.array(np.where(failed, 4, 0), pa.int32()),
            "error": np.where(failed, "statusCode 4: service unavailable", "").tolist(),
            "response_ms": spec.response_median_ms * np.exp(0.4 * rng.standard_normal(n)),
        }
    )
    (path / "sessions").mkdir(exist_ok=True)
    pq.write_table(table, path / "sessions" / "part-local-000000.parquet")


def _write_generator(path: Path, spec: SyntheticRun, duration: float) -> None:
    lines = ["ts,worker,users,cpu_percent,rss_bytes,open_fds,greenlets,loop_lag_ms"]
    simulator = ["ts,cpu_percent,cpu_wait_percent,rss_bytes,open_fds,tasks,loop_lag_ms"]
    start, bounds = 0.0, []
    for index, stage in enumerate(spec.stages):
        bounds.append((start, start + stage.duration_s, stage.users, index))
        start += stage.duration_s
    # a sample describes the interval that ends at its timestamp
    for t in np.arange(5.0, duration + 1e-9, 5.0):
        users, index = next((u, i) for lo, hi, u, i in bounds if lo < t <= hi)
        grown_s = t if spec.rss_growth_until_s is None else min(t, spec.rss_growth_until_s)
        rss = 80e6 + spec.rss_growth_bytes_per_hour * grown_s / 3600.0
        lag = spec.stage_loop_lag_ms[index] if spec.stage_loop_lag_ms else spec.loop_lag_ms
        lines.append(
            f"{T0 + t:.3f},local,{users},{spec.cpu_percent:.1f},{rss:.0f},"
            f"{40 + users},{users * 3},{lag:.2f}"
        )
        if spec.simulator_stage_loop_lag_ms:
            sim_lag = spec.simulator_stage_loop_lag_ms[index]
            simulator.append(
                f"{T0 + t:.3f},30.0,2.0,60000000,{20 + users},{users * 2},{sim_lag:.2f}"
            )
    (path / "generator.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if spec.simulator_stage_loop_lag_ms:
        (path / SIMULATOR_HEALTH_FILE).write_text("\n".join(simulator) + "\n", encoding="utf-8")
