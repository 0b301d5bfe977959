"""What the one pass over the events aggregates, decided before it starts: the
measured period, the capacity steps, the time windows, the latency bands, the outage
ends and the display sample, from the manifest, the incidents and the segments'
footers (:func:`make_plan`); and the rules behind them that the report sections share.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from gwsload.analysis.digest import DISPLAY_SAMPLE, DigestPlan, choose_window_s
from gwsload.analysis.load_events import EventFacts
from gwsload.contract.periods import measured_end_seconds, warmup_seconds
from gwsload.scenario import DEFAULT_LATENCY_BANDS_MS

__all__ = [
    "JOIN_GAP_S",
    "LATE_START_MS",
    "band_edges_ms",
    "make_plan",
    "outage_backs",
    "outage_spans",
    "span_ends_s",
    "step_periods",
]

#: spans closer than this belong to one outage
JOIN_GAP_S = 1.0
#: an operation that started more than this after its schedule started late (ms)
LATE_START_MS = 10.0


def band_edges_ms(manifest: dict[str, Any]) -> tuple[float, ...]:
    """The run's band edges: the scenario's, else the defaults."""
    report = (manifest.get("scenario") or {}).get("report") or {}
    edges = report.get("latency_bands_ms")
    if isinstance(edges, list) and edges and all(isinstance(e, int | float) for e in edges):
        return tuple(float(e) for e in edges)
    return DEFAULT_LATENCY_BANDS_MS


def step_periods(
    manifest: dict[str, Any], warmup_s: float, end_s: float
) -> dict[int, tuple[float, float]]:
    """[from_s, to_s) of each stage (by position) measured as a capacity step: after the
    warm-up and after the users of the step settled in at the stage's spawn rate."""
    stages = manifest.get("stages") or []
    periods: dict[int, tuple[float, float]] = {}
    previous_users = 0.0
    for position, stage in enumerate(stages):
        start, end = float(stage.get("start_s", 0)), float(stage.get("end_s", 0))
        users = float(stage.get("users") or 0)
        spawn = float(stage.get("spawn_rate") or 0) or math.inf
        settle = math.ceil(abs(users - previous_users) / spawn) if spawn != math.inf else 0
        previous_users = users
        lo = max(start + settle, warmup_s)
        hi = min(end, end_s)
        if hi - lo > 0:
            periods[position] = (lo, hi)
    return periods


def outage_spans(incidents: pd.DataFrame) -> tuple[pd.DataFrame, list[list[int]]]:
    """The ``target_unreachable`` spans and the members of each outage (oldest first)."""
    spans = incidents[incidents["kind"] == "target_unreachable"]
    starts = spans["t_s"].to_numpy(dtype=float)
    ends = starts + spans["duration_ms"].to_numpy(dtype=float) / 1000.0
    order = np.argsort(starts, kind="stable")
    groups: list[list[int]] = []
    group_end = -np.inf
    for i in order:
        if not groups or starts[i] > group_end + JOIN_GAP_S:
            groups.append([])
            group_end = -np.inf
        groups[-1].append(int(i))
        group_end = max(group_end, ends[i])
    return spans, groups


def span_ends_s(spans: pd.DataFrame) -> npt.NDArray[np.float64]:
    starts = spans["t_s"].to_numpy(dtype=float)
    ends: npt.NDArray[np.float64] = starts + spans["duration_ms"].to_numpy(dtype=float) / 1000.0
    return ends


def outage_backs(incidents: pd.DataFrame) -> list[float]:
    """When the target was back from each outage (seconds since t0, oldest first): the
    times after which the analysis looks for the first ok operation."""
    spans, groups = outage_spans(incidents)
    ends = span_ends_s(spans)
    return [float(ends[members].min()) for members in groups]


def make_plan(
    manifest: dict[str, Any], t0: float, facts: EventFacts, incidents: pd.DataFrame
) -> DigestPlan:
    """What the pass aggregates: periods, windows, bands and outage ends from the
    manifest and the incidents, the run's end from the segments' footers."""
    rows, last_ts = facts
    warmup = warmup_seconds(manifest)
    observed_end = float(np.float32(last_ts - t0)) if rows and math.isfinite(last_ts) else 0.0
    duration = manifest.get("duration_s")
    end_s = float(duration) if isinstance(duration, int | float) and duration > 0 else observed_end
    # a run stopped during its warm-up has an empty measured period (the failed-run
    # rule then says so); its end is never before its start
    end_s = max(end_s, observed_end, warmup)
    window_s = choose_window_s(end_s)
    return DigestPlan(
        warmup_s=warmup,
        end_s=end_s,
        measure_end_s=measured_end_seconds(manifest, end_s),
        window_s=window_s,
        n_windows=int(np.floor(end_s / window_s)) + 1,
        steps=step_periods(manifest, warmup, end_s),
        band_edges_ms=band_edges_ms(manifest),
        first_ok_after_s=tuple(outage_backs(incidents)),
        sample_every=max(1, rows // DISPLAY_SAMPLE),
        late_start_ms=LATE_START_MS,
    )
