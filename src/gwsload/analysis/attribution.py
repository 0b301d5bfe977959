"""Whose breach it is: an SLO broken only while a measuring process was saturated.

A breach measured through a saturated load generator (or embedded simulator) says
more about this machine than about the target, so CI must be able to tell a bad
build from a bad machine. In a step-load run an SLO breach is the generator's (or
the simulator's) when every step that breaks the SLO on its own was saturated; in
any other run, when the measured period as a whole was saturated (analysis.limits).
The breach still fails the check: a run that did not test must never pass.
"""

from __future__ import annotations

import pandas as pd

from gwsload.analysis.capacity import CapacityResult
from gwsload.analysis.limits import GENERATOR, SIMULATOR, run_health
from gwsload.analysis.load import RunFolder

__all__ = ["attribute_breaches", "breach_note"]

_WHO = {GENERATOR: "generator", SIMULATOR: "simulator"}


def breach_note(limiter: str) -> str:
    """``breach during generator saturation: not a verdict on the target``."""
    return f"breach during {_WHO[limiter]} saturation: not a verdict on the target"


def attribute_breaches(
    run: RunFolder, results: pd.DataFrame, capacity: CapacityResult | None
) -> dict[str, str]:
    """SLO name -> ``GENERATOR`` or ``SIMULATOR`` for each breach that is not the target's."""
    failed = (
        [str(n) for n in results.loc[~results["passed"].astype(bool), "name"]]
        if len(results)
        else []
    )
    if not failed:
        return {}
    if capacity is None:
        limiter = run_health(run).limiter
        return dict.fromkeys(failed, limiter) if limiter else {}
    steps = capacity.steps
    attributed = {}
    for name in failed:
        breaking = steps[[name in listed for listed in steps["slo_failed"]]]
        limiters = set(breaking["limited_by"])
        if len(breaking) and limiters <= {GENERATOR, SIMULATOR}:
            attributed[name] = GENERATOR if GENERATOR in limiters else SIMULATOR
    return attributed
