"""Regression verdict between a baseline and a candidate: one run each or several.

With several runs on a side, verdicts come from the variation between runs
(gwsload.analysis.compare_across). With one run per side, each run's measured
period is cut into windows of equal length. For a latency statistic (p50 ... p99.9
of ``notify_ms``, ``response_ms``, ``server_notify_ms`` or ``delivery_ms``: the
notification latency's two parts, latency_split) each window keeps a
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
dozens of rows a plain "interval excludes zero" rule flags some of them. One run per
side cannot see the variation between runs, which is larger: ``detectable`` (the
smallest change that would have been called) is then a lower bound.

Verdicts a difference in the measuring side's health may explain become
*inconclusive* (gwsload.analysis.compare_health).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from gwsload.analysis.compare_across import across_runs_row
from gwsload.analysis.compare_health import DELIVERY_METRIC, SERVER_METRIC, judge_health
from gwsload.analysis.latency_split import least_offset_ms
from gwsload.analysis.load import RunFolder
from gwsload.analysis.metrics import ALL, choose_window_s
from gwsload.contract.operations import ERROR_OUTCOMES
from gwsload.errors import ConfigError

__all__ = [
    "COMPARED_STATS",
    "DEFAULT_RATIO_TOLERANCE",
    "check_comparable",
    "compare_runs",
    "metric_values",
    "window_histograms",
]

COMPARED_STATS = {"p50": 0.50, "p95": 0.95, "p99": 0.99, "p99.9": 0.999}
COMPARED_METRICS = ("notify_ms", "response_ms")
#: a percentile q is judged only when every run has at least this many values beyond
#: it (n * (1 - q) >= 10: p99 needs 1,000 values, p99.9 10,000); below that it is the
#: few slowest operations of the run, which move from run to run whatever the build
MIN_TAIL_VALUES = 10
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


def check_comparable(
    baseline: RunFolder | Sequence[RunFolder], candidate: RunFolder | Sequence[RunFolder]
) -> None:
    """ConfigError naming every difference when the runs used other scenarios or loads."""
    base, cand = _runs(baseline), _runs(candidate)
    a = _shape(base[0].manifest)
    for run, side in [(r, "baseline") for r in base[1:]] + [(r, "candidate") for r in cand]:
        b = _shape(run.manifest)
        diffs = [f"{key} {a[key]!r} vs {b[key]!r}" for key in a if a[key] != b[key]]
        if diffs:
            raise ConfigError(
                f"runs are not comparable ({base[0].run_id} vs {side} {run.run_id}): "
                + "; ".join(diffs)
                + " (use --force to compare anyway)"
            )


def _runs(side: RunFolder | Sequence[RunFolder]) -> list[RunFolder]:
    return [side] if isinstance(side, RunFolder) else list(side)


def _n_windows(run: RunFolder, window_s: float) -> int:
    return int((run.measure_end_s - run.warmup_s) // window_s)


def metric_values(run: RunFolder, metric: str) -> npt.NDArray[np.float64]:
    """One value per event row. The two parts of the notification latency,
    ``server_notify_ms`` and ``delivery_ms`` (= ``notify_ms - server_notify_ms``), are
    corrected by the run's least clock offset (latency_split.least_offset_ms: none
    when the run shows no disagreement between the clocks); NaN without a stamp."""
    events = run.events
    if metric not in (SERVER_METRIC, DELIVERY_METRIC):
        return events[metric].to_numpy().astype(np.float64)
    notify = events["notify_ms"].to_numpy(np.float64)
    server = events[SERVER_METRIC].to_numpy(np.float64)
    ok = (events["outcome"] == "ok").to_numpy()
    offset = least_offset_ms(notify[ok], server[ok])
    part = server - offset if metric == SERVER_METRIC else notify - server + offset
    return np.asarray(part, dtype=np.float64)


def window_histograms(
    run: RunFolder,
    column: str,
    operation: str,
    window_s: float,
    values: npt.NDArray[np.float64] | None = None,
) -> npt.NDArray[np.float64]:
    """Matrix (full measured windows x grid bins) of counts of ``column`` for ``operation``
    (``values``: that column already computed, :func:`metric_values`)."""
    events = run.events
    n_windows = int((run.measure_end_s - run.warmup_s) // window_s)
    t = events["t_s"].to_numpy()
    keep = (t >= run.warmup_s) & (t < run.warmup_s + n_windows * window_s)
    if operation != ALL:
        keep &= (events["operation"] == operation).to_numpy()
    if values is None:
        values = metric_values(run, column)
    values = values[keep]
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
    base: npt.NDArray[np.float64],
    cand: npt.NDArray[np.float64],
    *,
    absolute: bool,
    tol: float,
) -> dict[str, Any]:
    """Bootstrap row: element 0 is the data as measured, the rest are replicates."""
    with np.errstate(invalid="ignore", divide="ignore"):
        changes = cand - base if absolute else cand / base - 1.0
    replicates = changes[1:][np.isfinite(changes[1:])]
    low, high = np.quantile(replicates, [0.025, 0.975]) if len(replicates) else (math.nan, math.nan)
    return {
        "baseline": float(base[0]),
        "candidate": float(cand[0]),
        "change": float(changes[0]),
        "ci_low": float(low),
        "ci_high": float(high),
        "run_sd": math.nan,
        "detectable": tol + (float(high) - float(low)) / 2,
    }


class _Side:
    """One side's runs cut into windows, with the bootstrap weights of each run."""

    def __init__(
        self, runs: list[RunFolder], window_s: float, rng: np.random.Generator | None
    ) -> None:
        """``rng`` None: no bootstrap, each run only as measured (the across-runs test)."""
        self.runs, self.window_s = runs, window_s
        self.weights = [
            _resample_weights(rng, _n_windows(run, window_s))
            if rng is not None
            else np.ones((1, _n_windows(run, window_s)))
            for run in runs
        ]
        self._values: dict[tuple[int, str], npt.NDArray[np.float64]] = {}

    def _metric(self, index: int, metric: str) -> npt.NDArray[np.float64]:
        key = (index, metric)
        if key not in self._values:  # computed once per run, not per operation and stat
            self._values[key] = metric_values(self.runs[index], metric)
        return self._values[key]

    def rates(self, operation: str) -> list[npt.NDArray[np.float64]]:
        return [
            w @ _window_counts(run, operation, self.window_s) / w.sum(1) / self.window_s
            for run, w in zip(self.runs, self.weights, strict=True)
        ]

    def ratios(
        self, operation: str, numerator: tuple[str, ...], denominator: tuple[str, ...] | None
    ) -> list[npt.NDArray[np.float64]]:
        out = []
        for run, w in zip(self.runs, self.weights, strict=True):
            with np.errstate(invalid="ignore", divide="ignore"):
                out.append(
                    (w @ _window_counts(run, operation, self.window_s, numerator))
                    / (w @ _window_counts(run, operation, self.window_s, denominator))
                )
        return out

    def percentiles(
        self, metric: str, operation: str, q: float
    ) -> tuple[list[npt.NDArray[np.float64]], int]:
        """Each run's percentile replicates, and the fewest values any run had."""
        out, fewest = [], None
        for index, (run, w) in enumerate(zip(self.runs, self.weights, strict=True)):
            values = self._metric(index, metric)
            matrix = window_histograms(run, metric, operation, self.window_s, values)
            out.append(_percentiles(w, matrix, q))
            count = int(matrix.sum())
            fewest = count if fewest is None else min(fewest, count)
        return out, fewest or 0


def _has_server_part(run: RunFolder) -> bool:
    ok = run.events["outcome"] == "ok"
    values = run.events.loc[ok, SERVER_METRIC].to_numpy()
    return len(values) > 0 and bool(np.isfinite(values).mean() > 0.5)


def compare_runs(
    baseline: RunFolder | Sequence[RunFolder],
    candidate: RunFolder | Sequence[RunFolder],
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    min_change_ms: float = DEFAULT_MIN_CHANGE_MS,
    ratio_tolerance: float = DEFAULT_RATIO_TOLERANCE,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per operation x metric x stat: values, change, 95 % CI, verdict.

    Latency and throughput changes are relative (``candidate / baseline - 1``); error
    and lost ratios change by their difference (``candidate - baseline``), judged
    against ``ratio_tolerance`` (a fraction: 0.001 = 0.1 percentage point). With one
    run per side the interval is a bootstrap over windows; with more, a t test across
    runs (``run_sd``: the run-to-run standard deviation, relative or absolute).
    ``detectable``: the smallest change the runs could have called.
    """
    base_runs, cand_runs = _runs(baseline), _runs(candidate)
    all_runs = [*base_runs, *cand_runs]
    shortest = min(run.measure_end_s - run.warmup_s for run in all_runs)
    window_s = choose_window_s(shortest, target_windows=60)
    if shortest // window_s < 5:
        raise ConfigError(
            f"runs too short to compare: {shortest:.0f} s measured, "
            f"need at least 5 windows of {window_s:g} s"
        )
    rng = np.random.default_rng(seed)
    across = len(all_runs) > 2
    ops = sorted(
        set.intersection(*(set(map(str, r.events["operation"].unique())) for r in all_runs))
    )
    metrics = [*COMPARED_METRICS]
    if all(_has_server_part(run) for run in all_runs):
        metrics += [SERVER_METRIC, DELIVERY_METRIC]
    sides = (
        _Side(base_runs, window_s, None if across else rng),
        _Side(cand_runs, window_s, None if across else rng),
    )

    def judged(
        values: tuple[list[npt.NDArray[np.float64]], list[npt.NDArray[np.float64]]],
        *,
        absolute: bool,
        tol: float,
    ) -> dict[str, Any]:
        if across:  # element 0 of each run's array is the run as measured
            return across_runs_row(
                [float(v[0]) for v in values[0]],
                [float(v[0]) for v in values[1]],
                relative=not absolute,
                tolerance=tol,
            )
        return _row(values[0][0], values[1][0], absolute=absolute, tol=tol)

    rows = []
    for operation in [ALL, *ops]:
        row = judged(
            (sides[0].rates(operation), sides[1].rates(operation)), absolute=False, tol=tolerance
        )
        rows.append(
            _finish(
                row,
                operation,
                "throughput",
                "ops_per_s",
                tol=tolerance,
                min_change=0.0,
                higher_is_worse=False,
            )
        )
        for metric, numerator, denominator in _RATIOS:
            values = tuple(side.ratios(operation, numerator, denominator) for side in sides)
            row = judged((values[0], values[1]), absolute=True, tol=ratio_tolerance)
            rows.append(
                _finish(
                    row,
                    operation,
                    metric,
                    "ratio",
                    tol=ratio_tolerance,
                    min_change=0.0,
                    absolute=True,
                )
            )
        for metric in metrics:
            for stat, q in COMPARED_STATS.items():
                (base, n_base), (cand, n_cand) = (
                    side.percentiles(metric, operation, q) for side in sides
                )
                row = judged((base, cand), absolute=False, tol=tolerance)
                finished = _finish(
                    row, operation, metric, stat, tol=tolerance, min_change=min_change_ms
                )
                needed = math.ceil(MIN_TAIL_VALUES / (1.0 - q))
                if min(n_base, n_cand) < needed:
                    finished["verdict"] = "too few"
                    finished["reason"] = (
                        f"{min(n_base, n_cand)} values in a run; {stat} needs {needed}"
                    )
                rows.append(finished)
    table = pd.DataFrame(rows)
    table.attrs.update(
        window_s=window_s,
        tolerance=tolerance,
        min_change_ms=min_change_ms,
        ratio_tolerance=ratio_tolerance,
        method="t test across runs" if across else "bootstrap over windows",
        baseline_runs=[run.run_id for run in base_runs],
        candidate_runs=[run.run_id for run in cand_runs],
    )
    return judge_health(table, base_runs, cand_runs)


def _finish(
    row: dict[str, Any],
    operation: str,
    metric: str,
    stat: str,
    *,
    tol: float,
    min_change: float,
    higher_is_worse: bool = True,
    absolute: bool = False,
) -> dict[str, Any]:
    verdict = _verdict(
        row["ci_low"],
        row["ci_high"],
        higher_is_worse=higher_is_worse,
        tol=tol,
        material=abs(row["candidate"] - row["baseline"]) >= min_change,
    )
    return {
        "operation": operation,
        "metric": metric,
        "stat": stat,
        **row,
        "change_kind": "absolute" if absolute else "relative",
        "verdict": verdict,
        "reason": "",
    }
