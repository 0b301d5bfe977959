"""Headline numbers, time windows and outcome accounting: pure functions of a run.

Conventions (docs/reports.md): the measured period is ``[warmup_s, end_s]``;
``*`` as an operation means all operations pooled; ratios are
``error_ratio = (http_error + api_error + transport_error) / operations`` and
``lost_ratio = lost / (ok + lost)`` (loss among requests the server accepted);
late and duplicate ratios use the same denominator as ``lost_ratio``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from gwsload.analysis.hdr import (
    HdrCounts,
    counts_from_values_us,
    lowest_value_of_index,
    percentile_us,
    round_sig,
)
from gwsload.analysis.load import RunFolder

__all__ = [
    "ALL",
    "ERROR_OUTCOMES",
    "LATENCY_METRICS",
    "STATS",
    "choose_window_s",
    "compute_headline",
    "compute_notify_order",
    "compute_spectrum",
    "compute_time_series",
    "grouped_quantiles",
    "latency_histograms",
    "measured_events",
    "summarize_period",
]

ALL = "*"
#: latency metric (column in events, SLO name) -> tag prefix in latency.hlog
LATENCY_METRICS = {"response_ms": "response", "notify_ms": "notify",
                   "notify_from_intended_ms": "notify_from_intended"}
#: stat name -> percentile (100 = max)
STATS = {"p50": 50.0, "p90": 90.0, "p95": 95.0, "p99": 99.0, "p99.9": 99.9, "max": 100.0}
ERROR_OUTCOMES = ("http_error", "api_error", "transport_error")
_WINDOW_CHOICES = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)


def choose_window_s(duration_s: float, *, target_windows: int = 120) -> float:
    """The smallest round window length giving at most ``target_windows`` windows."""
    for window in _WINDOW_CHOICES:
        if duration_s / window <= target_windows:
            return float(window)
    return float(_WINDOW_CHOICES[-1])


def measured_events(run: RunFolder) -> pd.DataFrame:
    """Events of the measured period (warm-up excluded)."""
    events = run.events
    return events[events["t_s"] >= run.warmup_s]


def latency_histograms(run: RunFolder) -> list[HdrCounts]:
    """Post-warm-up histograms per metric and operation: from latency.hlog, else from events."""
    if run.hdr is not None:
        return run.hdr
    return _histograms_from_events(measured_events(run))


def _histograms_from_events(events: pd.DataFrame) -> list[HdrCounts]:
    result = []
    for column, metric in LATENCY_METRICS.items():
        for operation, group in events.groupby("operation", observed=True):
            values = group[column].to_numpy(dtype=np.float64)
            values = values[np.isfinite(values)]
            if len(values):
                us = np.round(values * 1000.0).astype(np.int64)
                result.append(HdrCounts(metric, str(operation), counts_from_values_us(us)))
    return result


def _pooled(histograms: list[HdrCounts]) -> dict[tuple[str, str], npt.NDArray[np.int64]]:
    pooled: dict[tuple[str, str], npt.NDArray[np.int64]] = {}
    for h in histograms:
        pooled[(h.metric, h.operation)] = h.counts
        key = (h.metric, ALL)
        pooled[key] = pooled[key] + h.counts if key in pooled else h.counts.copy()
    return pooled


def _latency_stats(counts: npt.NDArray[np.int64] | None) -> dict[str, float]:
    if counts is None or counts.sum() == 0:
        return {**{s: np.nan for s in STATS}, "mean": np.nan}
    values_ms = percentile_us(counts, list(STATS.values())) / 1000.0
    stats = {s: round_sig(float(v)) for s, v in zip(STATS, values_ms, strict=True)}
    index = np.flatnonzero(counts)
    centre_us = (lowest_value_of_index(index) + lowest_value_of_index(index + 1)) / 2.0
    stats["mean"] = round_sig(float((centre_us * counts[index]).sum() / counts.sum() / 1000.0))
    return stats


def compute_headline(run: RunFolder) -> pd.DataFrame:
    """One row per operation and one for ``*``: counts, ops/s, ratios, latency stats (ms).

    Latency columns are ``<metric>_<stat>`` (e.g. ``notify_ms_p99``), from the HDR
    data (latency.hlog, else events), 3 significant digits.
    """
    anomalies = run.anomalies[run.anomalies["t_s"] >= run.warmup_s]
    return summarize_period(measured_events(run), anomalies, run.end_s - run.warmup_s,
                            latency_histograms(run))


def summarize_period(events: pd.DataFrame, anomalies: pd.DataFrame, seconds: float,
                     histograms: list[HdrCounts] | None = None) -> pd.DataFrame:
    """The headline table of any period: ``events`` and ``anomalies`` already cut to it.

    Without ``histograms`` the latency stats come from the events themselves.
    """
    if histograms is None:
        histograms = _histograms_from_events(events)
    seconds = max(seconds, 1e-9)
    pooled = _pooled(histograms)
    operations = sorted(str(o) for o in events["operation"].unique())
    rows = []
    for operation in [*operations, ALL]:
        rows_op = events if operation == ALL else events[events["operation"] == operation]
        outcome = rows_op["outcome"].value_counts()
        total = len(rows_op)
        count = {k: int(outcome.get(k, 0)) for k in ("ok", *ERROR_OUTCOMES, "lost")}
        anomalies_op = (anomalies if operation == ALL or "operation" not in anomalies
                        else anomalies[anomalies["operation"] == operation])
        kinds = anomalies_op["kind"].value_counts()
        accepted = count["ok"] + count["lost"]
        row: dict[str, object] = {
            "operation": operation, "operations": total, "ops_per_s": total / seconds,
            **count,
            "late": int(kinds.get("late", 0)), "duplicate": int(kinds.get("duplicate", 0)),
            "unexpected": int(kinds.get("unexpected", 0)),
            "error_ratio": sum(count[k] for k in ERROR_OUTCOMES) / total if total else np.nan,
            "lost_ratio": count["lost"] / accepted if accepted else np.nan,
            "late_ratio": int(kinds.get("late", 0)) / accepted if accepted else np.nan,
            "duplicate_ratio": int(kinds.get("duplicate", 0)) / accepted if accepted else np.nan,
        }
        for column, metric in LATENCY_METRICS.items():
            for stat, value in _latency_stats(pooled.get((metric, operation))).items():
                row[f"{column}_{stat}"] = value
        rows.append(row)
    return pd.DataFrame(rows).set_index("operation")


def grouped_quantiles(keys: npt.NDArray[np.int64], values: npt.NDArray[np.floating],
                      quantiles: list[float]) -> pd.DataFrame:
    """Nearest-rank quantiles (0..1) of ``values`` per integer key; NaN values ignored.

    One sort of the whole column, no per-group Python work: index = key, columns = quantiles.
    """
    finite = np.isfinite(values)
    keys, values = keys[finite], values[finite]
    order = np.lexsort((values, keys))
    keys, values = keys[order], values[order]
    unique, starts, sizes = np.unique(keys, return_index=True, return_counts=True)
    out = {}
    for q in quantiles:
        rank = np.maximum(np.ceil(q * sizes).astype(np.int64), 1) - 1
        out[q] = values[starts + rank].astype(np.float64)
    return pd.DataFrame(out, index=pd.Index(unique, name="key"))


def compute_time_series(run: RunFolder, window_s: float) -> pd.DataFrame:
    """Tidy per-window table (warm-up included), one row per window and operation (+ ``*``).

    Columns: window_s (start), operation, operations, ops_per_s, errors, lost, ok,
    ``response_ms_p50/p90/p99``, ``notify_ms_p50/p90/p99``, warmup (bool).
    """
    events = run.events
    window = np.floor(events["t_s"].to_numpy() / window_s).astype(np.int64)
    window = np.maximum(window, 0)
    op_codes = events["operation"].cat.codes.to_numpy().astype(np.int64)
    op_names = [str(c) for c in events["operation"].cat.categories]
    outcome = events["outcome"].to_numpy()
    is_error = np.isin(outcome, ERROR_OUTCOMES)
    is_lost = outcome == "lost"
    frames = []
    for label, key, n_ops in (("per-op", window * len(op_names) + op_codes, len(op_names)),
                              (ALL, window, 1)):
        counts = pd.DataFrame({"key": key, "errors": is_error, "lost": is_lost})
        table = counts.groupby("key").agg(operations=("errors", "size"), errors=("errors", "sum"),
                                          lost=("lost", "sum"))
        for column in ("response_ms", "notify_ms"):
            q = grouped_quantiles(key, events[column].to_numpy(), [0.5, 0.9, 0.99])
            q.columns = [f"{column}_p50", f"{column}_p90", f"{column}_p99"]
            table = table.join(q)
        table["window_s"] = (table.index // n_ops) * window_s
        table["operation"] = ([op_names[k % n_ops] for k in table.index] if label == "per-op"
                              else ALL)
        frames.append(table.reset_index(drop=True))
    series = pd.concat(frames, ignore_index=True)
    # the last window may be partial: rate over the time actually covered
    covered = np.minimum(series["window_s"] + window_s, run.end_s) - series["window_s"]
    series["ops_per_s"] = series["operations"] / np.maximum(covered, 1e-9)
    series["ok"] = series["operations"] - series["errors"] - series["lost"]
    series["warmup"] = series["window_s"] < run.warmup_s
    return series.sort_values(["operation", "window_s"]).reset_index(drop=True)


def compute_spectrum(counts: npt.NDArray[np.int64], *, points: int = 200) -> pd.DataFrame:
    """HdrHistogram-style percentile spectrum: percentile, ``1/(1-p)`` and value (ms)."""
    total = int(counts.sum())
    if total == 0:
        return pd.DataFrame({"percentile": [], "inverse_tail": [], "value_ms": []})
    # up to the resolution the sample supports (one value in the tail)
    top = np.log10(max(total, 10))
    nines = np.linspace(0.0, top, points)
    percentiles = 100.0 * (1.0 - 10.0 ** (-nines))
    values = percentile_us(counts, percentiles) / 1000.0
    return pd.DataFrame({"percentile": percentiles, "inverse_tail": 10.0 ** nines,
                         "value_ms": values})


def compute_notify_order(events: pd.DataFrame) -> dict[str, float]:
    """How notifications arrive relative to HTTP responses (ms; negative = notification first)."""
    values = events["notify_after_response_ms"].to_numpy(dtype=np.float64)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return {"count": 0, "notification_first_ratio": np.nan, "p1": np.nan, "p50": np.nan,
                "p99": np.nan}
    p1, p50, p99 = np.quantile(values, [0.01, 0.5, 0.99], method="inverted_cdf")
    return {"count": len(values), "notification_first_ratio": float((values < 0).mean()),
            "p1": float(p1), "p50": float(p50), "p99": float(p99)}
