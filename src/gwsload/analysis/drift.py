"""Drift over a long run: Mann-Kendall trend test and Theil-Sen slope, numpy only.

Each quantity is one value per time window (post warm-up). Mann-Kendall gives the
significance of a monotonic trend (normal approximation with the tie
correction); Theil-Sen gives a slope robust to outliers (median of pairwise
slopes). A quantity *drifts* when the trend is significant (p < alpha) and
material: the slope over the measured period moves it by at least 10 % of its
median, or by a floor for quantities that sit near zero (docs/reports.md).

The target's drift (latency, errors, losses) and the measuring side's (the load
generator's and the embedded simulator's memory, fds, greenlets, CPU) are computed
apart: the second is a finding about the tool, judged from the end of warm-up and
ramp, when start-up growth is over.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from gwsload.analysis.load import RunFolder
from gwsload.contract import numbers

__all__ = [
    "DriftResult",
    "compute_drift",
    "compute_harness_drift",
    "mann_kendall",
    "steady_from_s",
    "theil_sen_slope",
]

ALPHA = 0.05
MATERIAL_RELATIVE = 0.10
MIN_WINDOWS = 8
#: shorter measured periods are not tested: start-up effects would read as drift
MIN_DURATION_S = 600.0

FloatArray = npt.NDArray[np.float64]


def mann_kendall(values: npt.ArrayLike) -> tuple[float, float]:
    """Mann-Kendall ``(z, two-sided p)`` for a series in time order (NaN dropped)."""
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    n = len(x)
    if n < 3:
        return 0.0, 1.0
    upper = np.triu_indices(n, k=1)
    s = float(np.sign(x[upper[1]] - x[upper[0]]).sum())
    _, ties = np.unique(x, return_counts=True)
    variance = (n * (n - 1) * (2 * n + 5) - float((ties * (ties - 1) * (2 * ties + 5)).sum())) / 18
    if variance <= 0:
        return 0.0, 1.0
    z = (s - np.sign(s)) / math.sqrt(variance)
    return z, math.erfc(abs(z) / math.sqrt(2.0))


def theil_sen_slope(t: npt.ArrayLike, values: npt.ArrayLike) -> float:
    """Median of the pairwise slopes (units of value per unit of t); NaN pairs dropped."""
    tt, x = np.asarray(t, dtype=np.float64), np.asarray(values, dtype=np.float64)
    keep = np.isfinite(tt) & np.isfinite(x)
    tt, x = tt[keep], x[keep]
    i, j = np.triu_indices(len(x), k=1)
    dt = tt[j] - tt[i]
    usable = dt != 0
    if not usable.any():
        return math.nan
    return float(np.median((x[j] - x[i])[usable] / dt[usable]))


@dataclass(frozen=True, slots=True)
class DriftResult:
    quantity: str
    unit: str
    slope_per_hour: float
    change_over_run: float
    median: float
    p_value: float
    windows: int
    drifting: bool

    @property
    def sentence(self) -> str:
        if self.windows < MIN_WINDOWS:
            return f"{self.quantity}: too few windows ({self.windows}) to test for drift"
        direction = "grew" if self.slope_per_hour > 0 else "fell"
        amount = f"{numbers.quantity(abs(self.slope_per_hour), self.unit)}/hour"
        if self.drifting:
            return (
                f"{self.quantity} {direction} {amount} (significant, Mann-Kendall "
                f"{numbers.p_value(self.p_value)}; "
                f"{numbers.signed(self.change_over_run, self.unit)} over the run)"
            )
        if self.p_value < ALPHA:
            return (
                f"{self.quantity}: no drift (trend {direction} {amount} is significant, "
                f"{numbers.p_value(self.p_value)}, but under the materiality bound)"
            )
        return f"{self.quantity}: no drift ({numbers.p_value(self.p_value)})"


def _test(
    quantity: str, unit: str, t_s: FloatArray, values: FloatArray, floor: float
) -> DriftResult:
    keep = np.isfinite(values)
    t_s, values = t_s[keep], values[keep]
    n = len(values)
    if n < MIN_WINDOWS:
        return DriftResult(quantity, unit, math.nan, math.nan, math.nan, 1.0, n, False)
    _, p = mann_kendall(values)
    slope_s = theil_sen_slope(t_s, values)
    change = slope_s * float(t_s[-1] - t_s[0])
    median = float(np.median(values))
    material = abs(change) >= max(MATERIAL_RELATIVE * abs(median), floor)
    return DriftResult(
        quantity, unit, slope_s * 3600.0, change, median, p, n, bool(p < ALPHA and material)
    )


def compute_drift(series: pd.DataFrame, *, window_s: float) -> list[DriftResult]:
    """Drift of the target: latency p99s, error and loss rates (pooled series).

    ``series`` is ``compute_time_series`` output. The last window is left out (it may
    be partial). Runs measured for less than ``MIN_DURATION_S`` give no result:
    start-up effects would read as drift.
    """
    measured = ~series["warmup"]
    if "cooldown" in series:
        measured &= ~series["cooldown"]
    pooled = series[(series["operation"] == "*") & measured].sort_values("window_s")
    measured_s = len(pooled) * window_s
    if measured_s < MIN_DURATION_S:
        return []
    if len(pooled) > 1:
        pooled = pooled.iloc[:-1]
    t = pooled["window_s"].to_numpy(dtype=np.float64) + window_s / 2
    ops = pooled["operations"].to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        error_rate = pooled["errors"].to_numpy(dtype=np.float64) / ops
        lost_rate = pooled["lost"].to_numpy(dtype=np.float64) / ops
    return [
        _test("notification p99", "ms", t, pooled["notify_ms_p99"].to_numpy(np.float64), 1.0),
        _test("HTTP response p99", "ms", t, pooled["response_ms_p99"].to_numpy(np.float64), 1.0),
        _test("error ratio", "", t, error_rate, 0.001),
        _test("lost ratio", "", t, lost_rate, 0.001),
    ]


def steady_from_s(run: RunFolder) -> float:
    """Where the measuring side is steady: the end of warm-up or of the first ramp, the later.

    A process's memory grows while agents log in and its caches fill; judged from the
    start, that growth would read as a leak.
    """
    stages = run.manifest.get("stages") or []
    ramp_end = 0.0
    if stages and isinstance(stages[0], dict):
        first = stages[0]
        users, rate = first.get("users"), first.get("spawn_rate")
        if isinstance(users, int | float) and isinstance(rate, int | float) and rate > 0:
            ramp_end = float(first.get("start_s") or 0.0) + math.ceil(users / rate)
    return max(run.warmup_s, ramp_end)


#: (column, quantity, unit, scale, materiality floor) of the measuring side's samples
_GENERATOR_MEASURES = (
    ("rss_bytes", "the load generator's memory (RSS)", "MB", 1e-6, 5.0),
    ("open_fds", "the load generator's open fds", "fds", 1.0, 5.0),
    ("greenlets", "the load generator's greenlets", "greenlets", 1.0, 5.0),
    ("cpu_percent", "the load generator's CPU", "%", 1.0, 5.0),
)
_SIMULATOR_MEASURES = (
    ("rss_bytes", "the embedded simulator's memory (RSS)", "MB", 1e-6, 5.0),
    ("cpu_percent", "the embedded simulator's CPU", "%", 1.0, 5.0),
)


def _sample_drift(
    frame: pd.DataFrame,
    measures: tuple[tuple[str, str, str, float, float], ...],
    *,
    window_s: float,
    since_s: float,
    until_s: float,
) -> list[DriftResult]:
    rows = frame[(frame["t_s"] >= since_s) & (frame["t_s"] <= until_s)]
    if not len(rows):
        return []
    window = np.floor(rows["t_s"].to_numpy() / window_s)
    columns = [m[0] for m in measures]
    if "worker" in rows:
        # per window: mean per worker, summed over workers
        per_worker = rows.assign(window=window).groupby(["window", "worker"])[columns].mean()
        totals = per_worker.groupby("window").sum()
    else:
        totals = rows.assign(window=window).groupby("window")[columns].mean()
    if len(totals) > 1:
        totals = totals.iloc[:-1]  # the last window may be partial
    t = totals.index.to_numpy(dtype=np.float64) * window_s + window_s / 2
    return [
        _test(quantity, unit, t, totals[column].to_numpy(np.float64) * scale, floor)
        for column, quantity, unit, scale, floor in measures
    ]


def compute_harness_drift(run: RunFolder, *, window_s: float) -> list[DriftResult]:
    """Drift of the measuring side: the load generator's memory, fds, greenlets and CPU
    (and the embedded simulator's memory and CPU), from :func:`steady_from_s` to the end
    of the measured period. A finding about the tool, never the target's drift; empty
    when that steady period is shorter than ``MIN_DURATION_S``."""
    since, until = steady_from_s(run), run.measure_end_s
    if until - since < MIN_DURATION_S:
        return []
    results = _sample_drift(
        run.generator, _GENERATOR_MEASURES, window_s=window_s, since_s=since, until_s=until
    )
    if len(run.simulator):
        results += _sample_drift(
            run.simulator, _SIMULATOR_MEASURES, window_s=window_s, since_s=since, until_s=until
        )
    return results
