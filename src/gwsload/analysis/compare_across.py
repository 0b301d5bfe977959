"""Verdicts from repeated runs: a two-sample t test across runs.

Two runs of one build on one machine differ by more than the windows of one run vary
(the machine's state, the simulator's and the generator's warm-up, neighbours): a
bootstrap over the windows of one run cannot see that. With several runs per side
each run gives one value per statistic (its p99 over its measured period, its ops/s,
its lost ratio); the change is judged against how much those values vary between runs
of the same side, pooled over both sides (Student's t with ``n_a + n_b - 2`` degrees
of freedom). Latencies and throughput are compared as ratios (t test on the
logarithms; the values shown are geometric means of the runs), error and lost
ratios as differences. The smallest change the set of runs could have called,
``detectable``, is the tolerance plus the interval's half-width.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["T_975", "across_runs_row", "t_quantile_975"]

#: two-sided 95 % quantiles of Student's t by degrees of freedom (beyond 30: 1.96 + ...)
T_975 = {
    1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
    9: 2.262, 10: 2.228, 11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120,
    17: 2.110, 18: 2.101, 19: 2.093, 20: 2.086, 22: 2.074, 24: 2.064, 26: 2.056, 28: 2.048,
    30: 2.042,
}  # fmt: skip


def t_quantile_975(df: int) -> float:
    """Student's t 97.5 % quantile for ``df`` >= 1 degrees of freedom (table, then
    the Cornish-Fisher expansion, within 0.001 of the exact value beyond 30)."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df}")
    if df in T_975:
        return T_975[df]
    if df < 30:
        below = max(k for k in T_975 if k < df)
        return T_975[below]  # the next smaller table entry: a little conservative
    z = 1.959964
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


def _pooled_se(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> tuple[float, int]:
    df = len(a) + len(b) - 2
    squares = float(((a - a.mean()) ** 2).sum() + ((b - b.mean()) ** 2).sum())
    sd = math.sqrt(squares / df)
    return sd * math.sqrt(1 / len(a) + 1 / len(b)), df


def across_runs_row(
    base: Sequence[float],
    cand: Sequence[float],
    *,
    relative: bool,
    tolerance: float,
) -> dict[str, Any]:
    """Values, change, 95 % interval, run-to-run spread and ``detectable`` of one row.

    ``relative``: change = candidate / baseline - 1 (values > 0, compared in logs);
    otherwise candidate - baseline. NaN everywhere when a side has no usable value or
    the two sides have fewer than three runs together.
    """
    a = np.array([v for v in base if math.isfinite(v) and (v > 0 or not relative)])
    b = np.array([v for v in cand if math.isfinite(v) and (v > 0 or not relative)])
    nan = math.nan
    if len(a) == 0 or len(b) == 0 or len(a) + len(b) < 3:
        return {
            "baseline": float(np.exp(np.log(a).mean())) if relative and len(a) else nan,
            "candidate": float(np.exp(np.log(b).mean())) if relative and len(b) else nan,
            "change": nan, "ci_low": nan, "ci_high": nan, "run_sd": nan, "detectable": nan,
        }  # fmt: skip
    if relative:
        a, b = np.log(a), np.log(b)
    se, df = _pooled_se(a, b)
    half = t_quantile_975(df) * se
    diff = float(b.mean() - a.mean())
    run_sd = se / math.sqrt(1 / len(a) + 1 / len(b))
    if relative:
        return {
            "baseline": float(np.exp(a.mean())),
            "candidate": float(np.exp(b.mean())),
            "change": math.expm1(diff),
            "ci_low": math.expm1(diff - half),
            "ci_high": math.expm1(diff + half),
            "run_sd": math.expm1(run_sd),
            "detectable": math.expm1(math.log1p(tolerance) + half),
        }
    return {
        "baseline": float(a.mean()),
        "candidate": float(b.mean()),
        "change": diff,
        "ci_low": diff - half,
        "ci_high": diff + half,
        "run_sd": run_sd,
        "detectable": tolerance + half,
    }
