"""Regression verdict between two runs: bootstrap over time windows.

Each run's measured period is cut into windows of equal length. For a latency
statistic (p50/p95/p99 of ``notify_ms`` or ``response_ms``) each window keeps a
histogram on a fine log grid (0.5 % wide bins); a bootstrap replicate draws
windows with replacement in both runs, pools their histograms and takes the
percentile, so the interval reflects how the run varies over time, not only
sampling noise. Throughput is the mean of per-window ops/s. The change is
``candidate / baseline - 1`` with a 95 % percentile interval.

Verdict per row, with tolerance ``tol`` (docs/reports.md): *worse* when the whole
interval lies beyond ``tol`` on the bad side (the change is significantly larger
than the tolerance, not merely significant) and, for latencies, the absolute
change is at least ``min_change_ms``; *better* symmetrically; otherwise *same*.
Two runs of one build differ by a few percent from machine noise alone, and with
dozens of rows a plain "interval excludes zero" rule flags some of them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from gwsload.analysis.load import RunFolder
from gwsload.analysis.metrics import ALL, choose_window_s
from gwsload.contract.operations import ERROR_OUTCOMES
from gwsload.errors import ConfigError

__all__ = [
    "COMPARED_STATS",
    "DEFAULT_RATIO_TOLERANCE",
    "check_comparable",
    "compare_runs",
    "window_histograms",
]

COMPARED_STATS = {"p50": 0.50, "p95": 0.95, "p99": 0.99}
COMPARED_METRICS = ("notify_ms", "response_ms")
DEFAULT_TOLERANCE = 0.10
#: latency changes smaller than this are never a verdict, whatever their ratio
DEFAULT_MIN_CHANGE_MS = 1.0
#: error and lost ratios: a change of the difference beyond 0.1 percentage point counts
DEFAULT_RATIO_TOLERANCE = 0.001
#: metric, outcomes counted, outcomes it is a share of (docs/reports.md ratio definitions)
_RATIOS = (
    ("error_ratio", ERROR_OUTCOMES, None),
    ("lost_ratio", ("lost",), ("ok", "lost")),
)
BOOTSTRAP_REPLICATES = 500
_GRID_LOW_MS = 0.01
_GRID_RATIO = 1.005
_GRID_BINS = math.ceil(math.log(3_600_000 / _GRID_LOW_MS) / math.log(_GRID_RATIO)) + 1
#: bin centre (ms) of the log grid
GRID_VALUES_MS = _GRID_LOW_MS * _GRID_RATIO ** (np.arange(_GRID_BINS) + 0.5)


def _shape(manifest: dict[str, Any]) -> dict[str, Any]:
    scenario = manifest.get("scenario") or {}
    name = scenario.get("name") if isinstance(scenario, dict) else None
    stages = [
        (
            s.get("users"),
            s.get("rate_per_s"),
            round(float(s.get("end_s", 0)) - float(s.get("start_s", 0))),
        )
        for s in manifest.get("stages") or []
    ]
    return {
        "scenario": name or manifest.get("scenario_file"),
        "workload": (manifest.get("workload") or {}).get("model"),
        "transport": manifest.get("transport"),
        "stages (users, rate, seconds)": stages,
    }


def check_comparable(baseline: RunFolder, candidate: RunFolder) -> None:
    """ConfigError naming every difference when the runs used other scenarios or loads."""
    a, b = _shape(baseline.manifest), _shape(candidate.manifest)
    diffs = [f"{key} {a[key]!r} vs {b[key]!r}" for key in a if a[key] != b[key]]
    if diffs:
        raise ConfigError(
            "runs are not comparable (baseline vs candidate): "
            + "; ".join(diffs)
            + " (use --force to compare anyway)"
        )


def window_histograms(
    run: RunFolder, column: str, operation: str, window_s: float
) -> npt.NDArray[np.float64]:
    """Matrix (full measured windows x grid bins) of counts of ``column`` for ``operation``."""
    events = run.events
    n_windows = int((run.measure_end_s - run.warmup_s) // window_s)
    t = events["t_s"].to_numpy()
    keep = (t >= run.warmup_s) & (t < run.warmup_s + n_windows * window_s)
    if operation != ALL:
        keep &= (events["operation"] == operation).to_numpy()
    values = events[column].to_numpy()[keep].astype(np.float64)
    window = ((t[keep] - run.warmup_s) // window_s).astype(np.int64)
    finite = np.isfinite(values) & (values > 0)
    bins = np.log(np.maximum(values[finite], _GRID_LOW_MS) / _GRID_LOW_MS) / math.log(_GRID_RATIO)
    bins = np.clip(bins.astype(np.int64), 0, _GRID_BINS - 1)
    flat = np.bincount(window[finite] * _GRID_BINS + bins, minlength=n_windows * _GRID_BINS)
    return flat.reshape(n_windows, _GRID_BINS).astype(np.float64)


def _window_counts(
    run: RunFolder, operation: str, window_s: float, outcomes: tuple[str, ...] | None = None
) -> npt.NDArray[np.float64]:
    n_windows = int((run.measure_end_s - run.warmup_s) // window_s)
    events = run.events
    t = events["t_s"].to_numpy()
    keep = (t >= run.warmup_s) & (t < run.warmup_s + n_windows * window_s)
    if operation != ALL:
        keep &= (events["operation"] == operation).to_numpy()
    if outcomes is not None:
        keep &= events["outcome"].isin(outcomes).to_numpy()
    window = ((t[keep] - run.warmup_s) // window_s).astype(np.int64)
    return np.bincount(window, minlength=n_windows).astype(np.float64)


def _resample_weights(rng: np.random.Generator, n_windows: int) -> npt.NDArray[np.float64]:
    # row 0: the data as measured; rows 1..B: bootstrap draws of the windows
    draws = rng.multinomial(
        n_windows, np.full(n_windows, 1.0 / n_windows), size=BOOTSTRAP_REPLICATES
    ).astype(np.float64)
    return np.vstack([np.ones((1, n_windows)), draws])


def _percentiles(
    weights: npt.NDArray[np.float64], matrix: npt.NDArray[np.float64], q: float
) -> npt.NDArray[np.float64]:
    pooled = weights @ matrix
    cumulative = np.cumsum(pooled, axis=1)
    total = cumulative[:, -1]
    target = np.maximum(np.ceil(q * total), 1)
    index = (cumulative < target[:, None]).sum(axis=1)
    out = GRID_VALUES_MS[np.minimum(index, _GRID_BINS - 1)]
    return np.where(total > 0, out, np.nan)


def _verdict(low: float, high: float, *, higher_is_worse: bool, tol: float, material: bool) -> str:
    if not (math.isfinite(low) and math.isfinite(high)) or not material:
        return "same"
    worse_low, worse_high = (low, high) if higher_is_worse else (-high, -low)
    if worse_low > tol:
        return "worse"
    if worse_high < -tol:
        return "better"
    return "same"


def _row(
    operation: str,
    metric: str,
    stat: str,
    base: npt.NDArray[np.float64],
    cand: npt.NDArray[np.float64],
    *,
    higher_is_worse: bool,
    tol: float,
    min_change: float,
    absolute: bool = False,
) -> dict[str, Any]:
    with np.errstate(invalid="ignore", divide="ignore"):
        changes = cand - base if absolute else cand / base - 1.0
    replicates = changes[1:][np.isfinite(changes[1:])]
    low, high = np.quantile(replicates, [0.025, 0.975]) if len(replicates) else (math.nan, math.nan)
    change = float(changes[0])
    return {
        "operation": operation,
        "metric": metric,
        "stat": stat,
        "baseline": float(base[0]),
        "candidate": float(cand[0]),
        "change": change,
        "change_kind": "absolute" if absolute else "relative",
        "ci_low": float(low),
        "ci_high": float(high),
        "verdict": _verdict(
            float(low),
            float(high),
            higher_is_worse=higher_is_worse,
            tol=tol,
            material=abs(cand[0] - base[0]) >= min_change,
        ),
    }


def compare_runs(
    baseline: RunFolder,
    candidate: RunFolder,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    min_change_ms: float = DEFAULT_MIN_CHANGE_MS,
    ratio_tolerance: float = DEFAULT_RATIO_TOLERANCE,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per operation x metric x stat: values, change, 95 % CI, verdict.

    Latency and throughput changes are relative (``candidate / baseline - 1``); error
    and lost ratios change by their difference (``candidate - baseline``), judged
    against ``ratio_tolerance`` (a fraction: 0.001 = 0.1 percentage point).
    """
    shortest = min(
        baseline.measure_end_s - baseline.warmup_s, candidate.measure_end_s - candidate.warmup_s
    )
    window_s = choose_window_s(shortest, target_windows=60)
    if shortest // window_s < 5:
        raise ConfigError(
            f"runs too short to compare: {shortest:.0f} s measured, "
            f"need at least 5 windows of {window_s:g} s"
        )
    rng = np.random.default_rng(seed)
    ops = sorted(
        set(map(str, baseline.events["operation"].unique()))
        & set(map(str, candidate.events["operation"].unique()))
    )
    rows = []
    for operation in [ALL, *ops]:
        wb = _resample_weights(rng, int((baseline.measure_end_s - baseline.warmup_s) // window_s))
        wc = _resample_weights(rng, int((candidate.measure_end_s - candidate.warmup_s) // window_s))
        rates_b = wb @ _window_counts(baseline, operation, window_s) / wb.sum(1) / window_s
        rates_c = wc @ _window_counts(candidate, operation, window_s) / wc.sum(1) / window_s
        rows.append(
            _row(
                operation,
                "throughput",
                "ops_per_s",
                rates_b,
                rates_c,
                higher_is_worse=False,
                tol=tolerance,
                min_change=0.0,
            )
        )
        for metric, numerator, denominator in _RATIOS:
            ratios = []
            for run, weights in ((baseline, wb), (candidate, wc)):
                with np.errstate(invalid="ignore", divide="ignore"):
                    ratios.append(
                        (weights @ _window_counts(run, operation, window_s, numerator))
                        / (weights @ _window_counts(run, operation, window_s, denominator))
                    )
            rows.append(
                _row(
                    operation,
                    metric,
                    "ratio",
                    ratios[0],
                    ratios[1],
                    higher_is_worse=True,
                    tol=ratio_tolerance,
                    min_change=0.0,
                    absolute=True,
                )
            )
        for metric in COMPARED_METRICS:
            mb = window_histograms(baseline, metric, operation, window_s)
            mc = window_histograms(candidate, metric, operation, window_s)
            for stat, q in COMPARED_STATS.items():
                rows.append(
                    _row(
                        operation,
                        metric,
                        stat,
                        _percentiles(wb, mb, q),
                        _percentiles(wc, mc, q),
                        higher_is_worse=True,
                        tol=tolerance,
                        min_change=min_change_ms,
                    )
                )
    table = pd.DataFrame(rows)
    table.attrs["window_s"] = window_s
    table.attrs["tolerance"] = tolerance
    table.attrs["min_change_ms"] = min_change_ms
    table.attrs["ratio_tolerance"] = ratio_tolerance
    return table
