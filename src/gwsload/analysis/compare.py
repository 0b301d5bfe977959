"""Regression verdict between a baseline and a candidate: one run each or several.

With several runs on a side, verdicts come from the variation between runs
(gwsload.analysis.compare_across). With one run per side, each run's measured
period is cut into windows of equal length. For a latency statistic (p50 ... p99.9
of ``notify_ms``, ``response_ms``, ``server_notify_ms`` or ``delivery_ms``: the
notification latency's two parts, latency_split) each window keeps an HDR
histogram (gwsload.analysis.compare_windows: one more streamed pass per run, no row
kept; percentiles within 0.1 %); a bootstrap replicate draws windows with
replacement in both runs, pools their histograms and takes the percentile, so the
interval reflects how the run varies over time, not only sampling noise.
Throughput is the mean of per-window ops/s. The change is ``candidate / baseline -
1`` with a 95 % percentile interval.

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
from gwsload.analysis.compare_windows import compare_windows, has_server_part
from gwsload.analysis.hdr import percentile_rows_us
from gwsload.analysis.load import RunFolder
from gwsload.analysis.metrics import ALL, choose_window_s
from gwsload.contract.operations import ERROR_OUTCOMES
from gwsload.errors import ConfigError

__all__ = [
    "COMPARED_STATS",
    "DEFAULT_RATIO_TOLERANCE",
    "check_comparable",
    "compare_runs",
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


def _resample_weights(rng: np.random.Generator, n_windows: int) -> npt.NDArray[np.float64]:
    # row 0: the data as measured; rows 1..B: bootstrap draws of the windows
    draws = rng.multinomial(
        n_windows, np.full(n_windows, 1.0 / n_windows), size=BOOTSTRAP_REPLICATES
    ).astype(np.float64)
    return np.vstack([np.ones((1, n_windows)), draws])


def _percentiles(
    weights: npt.NDArray[np.float64], matrix: npt.NDArray[np.int64]
) -> dict[str, npt.NDArray[np.float64]]:
    """Each compared stat (ms) of the windows pooled with each row of ``weights``."""
    # whole-number weights and counts: the float product is exact, and BLAS-fast
    pooled = np.rint(weights @ matrix.astype(np.float64)).astype(np.int64)
    values = percentile_rows_us(pooled, [100.0 * q for q in COMPARED_STATS.values()]) / 1000.0
    return {stat: values[:, j] for j, stat in enumerate(COMPARED_STATS)}


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
        self,
        runs: list[RunFolder],
        window_s: float,
        rng: np.random.Generator | None,
        metrics: tuple[str, ...],
    ) -> None:
        """``rng`` None: no bootstrap, each run only as measured (the across-runs test)."""
        self.windows = [compare_windows(run, window_s, metrics) for run in runs]
        self.window_s = window_s
        self.weights = [
            _resample_weights(rng, w.n_windows) if rng is not None else np.ones((1, w.n_windows))
            for w in self.windows
        ]
        self._stats: dict[tuple[str, str], tuple[list[dict[str, Any]], int]] = {}

    def rates(self, operation: str) -> list[npt.NDArray[np.float64]]:
        return [
            w @ windows.window_counts(_code(operation)) / w.sum(1) / self.window_s
            for windows, w in zip(self.windows, self.weights, strict=True)
        ]

    def ratios(
        self, operation: str, numerator: tuple[str, ...], denominator: tuple[str, ...] | None
    ) -> list[npt.NDArray[np.float64]]:
        out = []
        for windows, w in zip(self.windows, self.weights, strict=True):
            with np.errstate(invalid="ignore", divide="ignore"):
                out.append(
                    (w @ windows.window_counts(_code(operation), numerator))
                    / (w @ windows.window_counts(_code(operation), denominator))
                )
        return out

    def percentiles(
        self, metric: str, operation: str, stat: str
    ) -> tuple[list[npt.NDArray[np.float64]], int]:
        """Each run's percentile replicates, and the fewest values any run had."""
        key = (metric, operation)
        if key not in self._stats:  # every stat from one pooling per run
            stats, fewest = [], None
            for windows, w in zip(self.windows, self.weights, strict=True):
                matrix = windows.window_histograms(metric, _code(operation))
                stats.append(_percentiles(w, matrix))
                count = int(matrix.sum())
                fewest = count if fewest is None else min(fewest, count)
            self._stats[key] = (stats, fewest or 0)
        stats, fewest = self._stats[key]
        return [s[stat] for s in stats], fewest


def _code(operation: str) -> str | None:
    return None if operation == ALL else operation


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
    ops = sorted(set.intersection(*(set(run.digest.operations) for run in all_runs)))
    metrics = [*COMPARED_METRICS]
    if all(has_server_part(run) for run in all_runs):
        metrics += [SERVER_METRIC, DELIVERY_METRIC]
    sides = (
        _Side(base_runs, window_s, None if across else rng, tuple(metrics)),
        _Side(cand_runs, window_s, None if across else rng, tuple(metrics)),
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
                    side.percentiles(metric, operation, stat) for side in sides
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
