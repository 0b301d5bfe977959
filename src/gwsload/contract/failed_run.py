"""The failed-run rule: a run that did not test never passes.

A run fails, whatever its SLOs say, when it made no operation in its measured
period, or when fewer than ``min_active_share`` (scenario key, default 1.0) of its
agents (the peak users of its stages) made at least one operation in that period:
an agent that never got past its login or its call did not test the target.

``gwsload run`` (the console verdict), ``gwsload check`` and ``gwsload report`` all
read the run folder with :func:`gwsload.contract.activity.read_activity` and judge it with
:func:`failed_run_reasons`, so they cannot disagree. Pure: stdlib only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gwsload.contract.operations import ERROR_OUTCOMES

__all__ = [
    "DEFAULT_MIN_ACTIVE_SHARE",
    "FAILING_KINDS",
    "Activity",
    "count_failures",
    "failed_run_reasons",
    "min_active_share",
    "planned_agents",
]

#: outcomes and anomalies of which one fails a run that ran (the run's exit code,
#: whether started by ``gwsload run`` or by plain Locust), in the order reported
FAILING_KINDS = ("lost", *ERROR_OUTCOMES, "unexpected")

#: every agent must operate unless the scenario says otherwise
DEFAULT_MIN_ACTIVE_SHARE = 1.0


@dataclass(frozen=True, slots=True)
class Activity:
    """What a run did in its measured period."""

    #: recording operations sent (any outcome)
    operations: int
    #: distinct agents that sent at least one
    agents_operated: int
    #: agents the run was to use: the peak users of its stages
    agents_planned: int


def planned_agents(manifest: Mapping[str, Any]) -> int:
    """The peak users of the manifest's stages (0 when it lists none)."""
    users = [
        int(s["users"])
        for s in manifest.get("stages") or ()
        if isinstance(s, dict) and isinstance(s.get("users"), int | float)
    ]
    return max(users, default=0)


def min_active_share(manifest: Mapping[str, Any]) -> float:
    """The manifest's ``min_active_share`` (run folders without it: the default)."""
    value = manifest.get("min_active_share")
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value <= 1:
        return float(value)
    return DEFAULT_MIN_ACTIVE_SHARE


def failed_run_reasons(activity: Activity, min_share: float) -> list[str]:
    """Why the run did not test (one line each); empty when it did."""
    if activity.operations == 0:
        return ["no operation was made in the measured period"]
    planned = activity.agents_planned
    needed = math.ceil(min_share * planned - 1e-9)
    if planned and activity.agents_operated < needed:
        return [
            f"only {activity.agents_operated} of {planned} agents made an operation in the "
            f"measured period (min_active_share {min_share:g} needs {needed})"
        ]
    return []


def count_failures(counts: Mapping[str, int], missing_workers: Iterable[str] = ()) -> list[str]:
    """Why a run that ran fails by its whole-run counts (one line each): any lost
    notification, error or unexpected notification, and a worker whose final results
    never arrived. Empty when none."""
    reasons = [
        f"failed: {counts[kind]} {kind.replace('_', ' ')}"
        for kind in FAILING_KINDS
        if counts.get(kind, 0)
    ]
    reasons += [f"failed: worker {w} did not deliver its final results" for w in missing_workers]
    return reasons
