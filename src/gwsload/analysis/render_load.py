"""The report's "Load" section and its agent-session table: what ran, against what.

Everything comes from the manifest (the resolved scenario, target, workers,
generator verdict, labels) and the generator samples; pure HTML strings.
"""

from __future__ import annotations

import html
import math
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import pandas as pd

from gwsload.analysis import plots_time
from gwsload.analysis.hdr import round_sig
from gwsload.analysis.load import RunFolder
from gwsload.analysis.markup import table
from gwsload.contract import numbers
from gwsload.contract.operations import SESSION_OPERATIONS_ORDER

__all__ = ["describe_distribution", "load_section", "public_url", "sessions_section"]


def describe_distribution(spec: object) -> str:
    """``{"distribution": "uniform", "min": 0.5, "max": 1.5}`` -> ``uniform 0.5-1.5 s``."""
    if isinstance(spec, int | float):
        return numbers.duration_s(spec)
    if not isinstance(spec, dict):
        return "n/a"
    kind = spec.get("distribution")
    if kind == "fixed":
        return f"fixed {numbers.duration_s(spec.get('value', 0))}"
    if kind == "uniform":
        return (
            f"uniform {numbers.significant(spec.get('min', 0))}-"
            f"{numbers.duration_s(spec.get('max', 0))}"
        )
    if kind == "exponential":
        return f"exponential, mean {numbers.duration_s(spec.get('mean', 0))}"
    return html.escape(str(spec))


def public_url(url: str) -> str:
    """The URL without user info, query or fragment (where secrets could hide)."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _facts(rows: list[tuple[str, object]]) -> str:
    cells = "".join(
        f"<tr><th>{html.escape(k)}</th><td class='text'>{v}</td></tr>"
        for k, v in rows
        if v is not None
    )
    return f'<table class="facts"><tbody>{cells}</tbody></table>'


def _stages_table(stages: list[dict[str, Any]], open_model: bool) -> pd.DataFrame:
    rows = []
    for i, stage in enumerate(stages):
        row: dict[str, object] = {
            "stage": i + 1,
            "from (s)": numbers.significant(float(stage.get("start_s", 0)), 6),
            "to (s)": numbers.significant(float(stage.get("end_s", 0)), 6),
            "users": int(stage.get("users", 0)),
            "spawn rate (users/s)": numbers.significant(float(stage.get("spawn_rate") or 0)),
        }
        if open_model:
            rate = stage.get("rate_per_s")
            row["cycles/s"] = "n/a" if rate is None else numbers.significant(float(rate), 4)
        rows.append(row)
    return pd.DataFrame(rows)


def _generator_summary(run: RunFolder) -> str:
    verdict = run.manifest.get("generator") or {}
    findings = [str(f) for f in verdict.get("findings") or []]
    head = (
        "<b>saturated</b>: its latencies may be the generator's, not the target's"
        if verdict.get("saturated")
        else "not saturated"
    )
    samples = run.generator
    if not len(samples):
        return head + ("; " + html.escape("; ".join(findings)) if findings else "")
    per_worker = []
    for worker, group in samples.groupby("worker"):
        lag = group["loop_lag_ms"].to_numpy(dtype=float)
        cpu = group["cpu_percent"].to_numpy(dtype=float)
        rss = group["rss_bytes"].to_numpy(dtype=float)
        per_worker.append(
            f"{html.escape(str(worker))}: CPU p95 {numbers.quantity(_q(cpu, 95), '%', 2)}, "
            f"loop lag p99 {numbers.latency_ms(_q(lag, 99))}, "
            f"RSS max {numbers.quantity(np.nanmax(rss) / 2**20, 'MiB')}"
        )
    notes = "".join(f"<li>{html.escape(f)}</li>" for f in findings)
    return f"{head}<br>{'<br>'.join(per_worker)}" + (f"<ul>{notes}</ul>" if notes else "")


def _q(values: np.ndarray[Any, np.dtype[np.float64]], q: float) -> float:
    finite = values[np.isfinite(values)]
    return float(np.percentile(finite, q)) if len(finite) else math.nan


def load_section(run: RunFolder, figure: str) -> str:
    """The Load section; ``figure`` turns the stage-profile Axes into an <img>."""
    m = run.manifest
    scenario = m.get("scenario") or {}
    workload = scenario.get("workload") or {}
    model = run.workload_model
    target = m.get("target") or {}
    stages = [s for s in m.get("stages") or [] if isinstance(s, dict)]
    labels = m.get("labels") or {}
    simulator = target.get("simulator") or scenario.get("simulator")
    if target.get("kind") == "embedded-simulator":
        target_text = f"embedded simulator at {html.escape(public_url(str(target.get('url'))))}"
    else:
        target_text = f"external GWS at {html.escape(public_url(str(target.get('url', '?'))))}"
    rows: list[tuple[str, object]] = [
        ("scenario", f"<b>{html.escape(str(scenario.get('name') or m.get('scenario_file')))}</b>"),
        ("description", html.escape(str(scenario.get("description") or "")) or None),
        (
            "labels",
            ", ".join(f"{html.escape(str(k))}={html.escape(str(v))}" for k, v in labels.items())
            or None,
        ),
        ("users", f"{max((int(s.get('users', 0)) for s in stages), default=0)} at peak"),
        (
            "workload",
            f"{model} ("
            + ("cycles scheduled by rate" if model == "open" else "agents pace themselves")
            + ")",
        ),
        ("hold (recording kept)", describe_distribution(workload.get("hold_s"))),
        (
            "think time",
            describe_distribution(workload.get("think_time_s")) if model == "closed" else None,
        ),
        ("arrivals", workload.get("arrivals") if model == "open" else None),
        (
            "pause share",
            f"{numbers.percent(float(workload.get('pause_share') or 0))} of cycles pause and "
            "resume",
        ),
        ("transport", html.escape(str(m.get("transport")))),
        ("notification timeout", numbers.duration_s(m.get("notification_timeout_s"))),
        ("target", target_text),
        (
            "simulator",
            ", ".join(f"{html.escape(str(k))}={html.escape(str(v))}" for k, v in simulator.items())
            if isinstance(simulator, dict) and target.get("kind") != "external"
            else "none: external GWS",
        ),
        (
            "generator",
            (
                f"{m.get('workers')} Locust worker processes"
                if m.get("workers")
                else "one process (no Locust workers)"
            )
            + f" on {(m.get('host') or {}).get('cpu_count', '?')} CPUs",
        ),
        ("generator health", _generator_summary(run)),
    ]
    stages_html = ""
    if stages:
        stages_html = "<h3>Stages</h3>" + table(_stages_table(stages, model == "open")) + figure
    return "<h2>Load</h2>" + _facts(rows) + stages_html


def plot_profile(run: RunFolder) -> Any:
    """The planned user profile (ramps at the spawn rate) over the run's time axis."""
    stages = [s for s in run.manifest.get("stages") or [] if isinstance(s, dict)]
    return plots_time.plot_stage_profile(stages, end_s=run.end_s, warmup_s=run.warmup_s)


def sessions_section(run: RunFolder) -> pd.DataFrame | None:
    """Setup and session steps per operation: counts, failures, response-time stats (ms)."""
    sessions = run.sessions
    if not len(sessions):
        return None
    order = {name: i for i, name in enumerate(SESSION_OPERATIONS_ORDER)}
    rows = []
    for operation, group in sessions.groupby("operation"):
        times = group["response_ms"].to_numpy(dtype=float)
        times = times[np.isfinite(times)]
        failed = group[group["outcome"] != "ok"]
        quantiles = (
            np.percentile(times, [0, 50, 95, 99, 99.9, 100], method="inverted_cdf")
            if len(times)
            else [math.nan] * 6
        )
        reasons = failed["error"].astype(str).value_counts()
        rows.append(
            {
                "operation": str(operation),
                "count": len(group),
                "failed": len(failed),
                **dict(
                    zip(
                        ("min", "p50", "p95", "p99", "p99.9", "max"),
                        (round_sig(float(q)) for q in quantiles),
                        strict=True,
                    )
                ),
                "first failure reason": (
                    f"{reasons.index[0][:80]} ({int(reasons.iloc[0])}x)" if len(reasons) else ""
                ),
            }
        )
    frame = pd.DataFrame(rows)
    rank = frame["operation"].map(lambda o: order.get(o, len(order)))
    return frame.assign(_rank=rank).sort_values(["_rank", "operation"]).drop(columns="_rank")
