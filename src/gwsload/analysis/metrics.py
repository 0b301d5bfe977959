"""Headline numbers and time windows: pure functions of a run's columns.

Conventions (docs/reports.md): the measured period is ``[warmup_s, end_s]``;
``*`` as an operation means all operations pooled; ratios are
``error_ratio = (http_error + api_error + transport_error + async_error) / operations``
and
``lost_ratio = lost / (ok + lost)`` (loss among requests the server accepted);
late and duplicate ratios use the same denominator as ``lost_ratio``.

Everything works on numpy columns with masks and ``bincount`` (no per-group
DataFrame copies), so a 10-million-row run costs a few passes over its columns.
Latency percentiles, per run and per window, use the HDR buckets (3 significant digits).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, SupportsFloat, cast

import numpy as np
import numpy.typing as npt
import pandas as pd

from gwsload.analysis.digest import EventDigest, PeriodDigest, SignedHistogram, choose_window_s
from gwsload.analysis.hdr import (
    COUNTS_LEN,
    HdrCounts,
    index_of_values,
    lowest_value_of_index,
    percentile_rows_us,
    percentile_us,
    round_sig,
    signed_percentile_us,
)
from gwsload.analysis.load import RunFolder
from gwsload.analysis.load_events import read_events
from gwsload.contract.operations import ERROR_OUTCOMES
from gwsload.contract.slo import STAT_PERCENTILES

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
    "compute_users",
    "hdr_counts_by_key",
    "latency_histograms",
    "measured_mask",
    "number",
    "period_histograms",
    "row_of",
    "summarize_digest",
    "window_percentiles",
]

ALL = "*"
#: latency metric (column in events, SLO name) -> tag prefix in latency.hlog
LATENCY_METRICS = {
    "response_ms": "response",
    "notify_ms": "notify",
    "notify_from_intended_ms": "notify_from_intended",
}
#: stat name -> percentile (100 = max)
STATS = STAT_PERCENTILES

Mask = npt.NDArray[np.bool_]
KeyOf = Callable[[slice], npt.NDArray[np.int64]]
#: rows per chunk: bounds the temporaries of a pass over a column (about 8 MB each)
_CHUNK = 1 << 20


def number(value: object) -> float:
    """A table cell as a float (pandas-stubs type cells as any scalar)."""
    return float(cast(SupportsFloat, value))


def row_of(frame: pd.DataFrame, key: str) -> dict[str, Any]:
    """One row of a table indexed by operation, as a plain dict."""
    return {str(k): v for k, v in frame.loc[key].items()}


def measured_mask(run: RunFolder) -> Mask:
    """Which events belong to the measured period (warm-up and sign-off excluded);
    needs the kept events (``load_run(..., keep_events=True)``)."""
    t = run.events["t_s"].to_numpy()
    mask: Mask = (t >= run.warmup_s) & (t < run.measure_end_s)
    return mask


def _values_us(values_ms: npt.NDArray[np.floating]) -> npt.NDArray[np.int64]:
    return np.round(values_ms.astype(np.float64) * 1000.0).astype(np.int64)


def hdr_counts_by_key(
    key_of: KeyOf | list[KeyOf],
    n_keys: int,
    values_ms: npt.NDArray[np.floating],
    *,
    width: int | None = None,
) -> npt.NDArray[np.int64]:
    """(key x HDR bucket) counts of ``values_ms``, in chunks so temporaries stay small.

    ``key_of(rows)`` gives the key (0..n_keys-1, or -1 to skip) of a slice of rows;
    with several key functions every row is counted once under each.
    ``width`` defaults to the buckets needed by the largest value.
    """
    key_makers = key_of if isinstance(key_of, list) else [key_of]
    if width is None:
        width = _width(values_ms)
    counts = np.zeros(n_keys * width, dtype=np.int64)
    for start in range(0, len(values_ms), _CHUNK):
        rows = slice(start, start + _CHUNK)
        values = values_ms[rows]
        finite = np.isfinite(values)
        index = np.minimum(index_of_values(_values_us(values[finite])), width - 1)
        for make_keys in key_makers:
            keys = make_keys(rows)[finite]
            keep = keys >= 0
            counts += np.bincount(keys[keep] * width + index[keep], minlength=n_keys * width)
    return counts.reshape(n_keys, width)


def period_histograms(digest: EventDigest, period: PeriodDigest) -> list[HdrCounts]:
    """HDR histograms (canonical layout) per latency metric and operation of a period."""
    result = []
    for column, metric in LATENCY_METRICS.items():
        table = period.histograms.get(column)
        for code, counts in enumerate(table if table is not None else []):
            if counts.any():
                result.append(HdrCounts(metric, digest.operations[code], counts))
    return result


def latency_histograms(run: RunFolder) -> list[HdrCounts]:
    """Post-warm-up histograms per metric and operation: from latency.hlog, else from events."""
    if run.hdr is not None:
        return run.hdr
    return period_histograms(run.digest, run.digest.measured)


def _pooled(histograms: list[HdrCounts]) -> dict[tuple[str, str], npt.NDArray[np.int64]]:
    pooled: dict[tuple[str, str], npt.NDArray[np.int64]] = {}
    for h in histograms:
        pooled[(h.metric, h.operation)] = h.counts
        key = (h.metric, ALL)
        pooled[key] = pooled[key] + h.counts if key in pooled else h.counts.copy()
    return pooled


def _latency_stats(counts: npt.NDArray[np.int64] | None) -> dict[str, float]:
    if counts is None or counts.sum() == 0:
        return {"min": np.nan, **{s: np.nan for s in STATS}, "mean": np.nan}
    values_ms = percentile_us(counts, list(STATS.values())) / 1000.0
    index = np.flatnonzero(counts)
    # the lowest value of the first bucket, as hdrh's get_min_value
    stats = {"min": round_sig(float(lowest_value_of_index(index[:1])[0]) / 1000.0)}
    stats.update({s: round_sig(float(v)) for s, v in zip(STATS, values_ms, strict=True)})
    centre_us = (lowest_value_of_index(index) + lowest_value_of_index(index + 1)) / 2.0
    stats["mean"] = round_sig(float((centre_us * counts[index]).sum() / counts.sum() / 1000.0))
    return stats


def compute_headline(run: RunFolder) -> pd.DataFrame:
    """One row per operation and one for ``*``: counts, ops/s, ratios, latency stats (ms).

    Latency columns are ``<metric>_<stat>`` (e.g. ``notify_ms_p99``), from the HDR
    data (latency.hlog, else events), 3 significant digits.
    """
    t = run.anomalies["t_s"]
    anomalies = run.anomalies[(t >= run.warmup_s) & (t < run.measure_end_s)]
    return summarize_digest(
        run.digest,
        run.digest.measured,
        anomalies,
        run.measure_end_s - run.warmup_s,
        histograms=latency_histograms(run),
    )


def summarize_digest(
    digest: EventDigest,
    period: PeriodDigest,
    anomalies: pd.DataFrame,
    seconds: float,
    *,
    histograms: list[HdrCounts] | None = None,
) -> pd.DataFrame:
    """The headline table of a period of the digest (the measured period or a step).

    ``anomalies`` must already be cut to the period. Without ``histograms`` the
    latency stats come from the period's own histograms.
    """
    if histograms is None:
        histograms = period_histograms(digest, period)
    seconds = max(seconds, 1e-9)
    pooled = _pooled(histograms)
    op_names, out_names = digest.operations, digest.outcomes
    table = np.zeros((len(op_names), len(out_names)), np.int64)
    rows_seen, cols_seen = period.counts.shape
    table[:rows_seen, :cols_seen] = period.counts
    by_outcome = pd.DataFrame(table, index=list(op_names), columns=list(out_names))
    by_outcome = by_outcome[by_outcome.sum(axis=1) > 0]
    by_outcome.loc[ALL] = by_outcome.sum(axis=0)
    rows = []
    for operation, outcome in by_outcome.sort_index(key=lambda i: i == ALL).iterrows():
        total = int(outcome.sum())
        count: dict[str, int] = {k: int(outcome.get(k, 0)) for k in ("ok", *ERROR_OUTCOMES, "lost")}
        anomalies_op = (
            anomalies
            if operation == ALL or "operation" not in anomalies
            else anomalies[anomalies["operation"] == operation]
        )
        kinds = anomalies_op["kind"].value_counts()
        accepted = count["ok"] + count["lost"]
        row: dict[str, object] = {
            "operation": operation,
            "operations": total,
            "ops_per_s": total / seconds,
            **count,
            "late": int(kinds.get("late", 0)),
            "duplicate": int(kinds.get("duplicate", 0)),
            "unexpected": int(kinds.get("unexpected", 0)),
            "error_ratio": sum(count[k] for k in ERROR_OUTCOMES) / total if total else np.nan,
            "lost_ratio": count["lost"] / accepted if accepted else np.nan,
            "late_ratio": int(kinds.get("late", 0)) / accepted if accepted else np.nan,
            "duplicate_ratio": int(kinds.get("duplicate", 0)) / accepted if accepted else np.nan,
        }
        for column, metric in LATENCY_METRICS.items():
            for stat, value in _latency_stats(pooled.get((metric, str(operation)))).items():
                row[f"{column}_{stat}"] = value
        rows.append(row)
    return pd.DataFrame(rows).set_index("operation")


def window_percentiles(
    keys: npt.NDArray[np.int64],
    n_keys: int,
    values_ms: npt.NDArray[np.floating],
    percentiles: list[float],
) -> npt.NDArray[np.float64]:
    """HDR percentiles (ms, 3 significant digits) of ``values_ms`` per integer key.

    Shape (n_keys, len(percentiles)); NaN where a key has no value; NaN values ignored.
    """
    return _percentiles_ms(
        hdr_counts_by_key(lambda rows: keys[rows], n_keys, values_ms), percentiles
    )


def _percentiles_ms(
    counts: npt.NDArray[np.int64], percentiles: list[float]
) -> npt.NDArray[np.float64]:
    values = percentile_rows_us(counts, percentiles) / 1000.0
    rounded: npt.NDArray[np.float64] = np.vectorize(round_sig, otypes=[float])(values)
    return rounded


def _digest_for(run: RunFolder, window_s: float) -> EventDigest:
    """The run's digest, or (another window length) the segments streamed again."""
    plan = run.digest.plan
    if window_s == plan.window_s:
        return run.digest
    other = dataclasses.replace(
        plan, window_s=window_s, n_windows=int(np.floor(plan.end_s / window_s)) + 1
    )
    return read_events(run.path, run.t0, lambda _facts: other, keep=False)[0]


def compute_time_series(run: RunFolder, window_s: float) -> pd.DataFrame:
    """Tidy per-window table (warm-up included), one row per window and operation (+ ``*``).

    Columns: window_s (start), operation, operations, ok, errors, lost, ops_per_s,
    ``response_ms_p50/p90/p99``, ``notify_ms_p50/p90/p99``, warmup (bool).
    """
    digest = _digest_for(run, window_s)
    n_windows = digest.plan.n_windows
    op_names, out_names = digest.operations, digest.outcomes
    cube = np.zeros((n_windows, len(op_names) + 1, len(out_names)), np.int64)
    _, ops_seen, outs_seen = digest.window_counts.shape
    cube[:, :ops_seen, :outs_seen] = digest.window_counts
    cube[:, -1] = cube[:, :-1].sum(axis=1)  # the last slot is "all operations"
    error_codes = [out_names.index(o) for o in ERROR_OUTCOMES if o in out_names]
    lost = (
        cube[:, :, out_names.index("lost")]
        if "lost" in out_names
        else np.zeros(cube.shape[:2], np.int64)
    )
    frame = pd.DataFrame(
        {
            "window_s": np.repeat(np.arange(n_windows) * window_s, len(op_names) + 1),
            "operation": np.tile([*op_names, ALL], n_windows),
            "operations": cube.sum(axis=2).reshape(-1),
            "errors": cube[:, :, error_codes].sum(axis=2).reshape(-1),
            "lost": lost.reshape(-1),
        }
    )
    for column in ("response_ms", "notify_ms"):
        table = digest.window_histograms.get(column)
        stats = np.full((n_windows, len(op_names) + 1, 3), np.nan)
        pooled = np.zeros((n_windows, COUNTS_LEN), np.int64)
        # one operation at a time: the temporaries stay one (window x bucket) matrix
        for code in range(table.shape[1] if table is not None else 0):
            counts = cast(npt.NDArray[np.int64], table)[:, code]
            stats[:, code] = _percentiles_ms(counts, [50, 90, 99])
            pooled += counts
        stats[:, -1] = _percentiles_ms(pooled, [50, 90, 99])
        for j, stat in enumerate(("p50", "p90", "p99")):
            frame[f"{column}_{stat}"] = stats[:, :, j].reshape(-1)
    series = frame[frame["operations"] > 0].copy()
    # the last window may be partial: rate over the time actually covered
    covered = np.minimum(series["window_s"] + window_s, run.end_s) - series["window_s"]
    series["ops_per_s"] = series["operations"] / np.maximum(covered, 1e-9)
    series["ok"] = series["operations"] - series["errors"] - series["lost"]
    series["warmup"] = series["window_s"] < run.warmup_s
    series["cooldown"] = series["window_s"] >= run.measure_end_s
    return series.sort_values(["operation", "window_s"]).reset_index(drop=True)


def _width(values_ms: npt.NDArray[np.floating]) -> int:
    finite_max = np.nanmax(values_ms) if np.isfinite(values_ms).any() else 0.0
    return int(index_of_values(_values_us(np.array([finite_max])))[0]) + 1


def compute_users(generator: pd.DataFrame, window_s: float) -> pd.DataFrame:
    """Users per window: each worker's last sample in the window, summed over workers."""
    window = np.floor(generator["t_s"].to_numpy() / window_s) * window_s
    last = generator.assign(t_s=window).groupby(["t_s", "worker"])["users"].last()
    return last.groupby(level="t_s").sum().reset_index()


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
    return pd.DataFrame(
        {"percentile": percentiles, "inverse_tail": 10.0**nines, "value_ms": values}
    )


def compute_notify_order(order: SignedHistogram) -> dict[str, float]:
    """How notifications arrive relative to HTTP responses (ms; negative = notification
    first): the count and the share below zero exact, the percentiles from the HDR
    buckets (:func:`gwsload.analysis.hdr.signed_percentile_us`)."""
    count = order.count
    if count == 0:
        return {
            "count": 0,
            "notification_first_ratio": np.nan,
            "p1": np.nan,
            "p50": np.nan,
            "p99": np.nan,
        }
    p1, p50, p99 = signed_percentile_us(order.negative, order.positive, [1, 50, 99]) / 1000.0
    return {
        "count": count,
        "notification_first_ratio": order.below_zero / count,
        "p1": float(p1),
        "p50": float(p50),
        "p99": float(p99),
    }
