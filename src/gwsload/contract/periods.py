"""The measured period of a run: after the warm-up, until the last stage ends.

Pure: works on the manifest's dictionary (docs/run-folder.md), times in seconds
since the run's ``t0``.

An event belongs to the period when its ``ts`` does; a latency.hlog interval when
its midpoint does (:func:`interval_is_measured`), with its start and length as the
hlog holds them (milliseconds, :func:`hlog_seconds`). The run's closing summary
(``gwsload run``) and the report both apply it to the same intervals, so they
print the same percentiles.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = [
    "hlog_seconds",
    "interval_is_measured",
    "measured_end_seconds",
    "stages_end_seconds",
    "warmup_seconds",
]


def hlog_seconds(seconds: float) -> float:
    """A time as latency.hlog writes it: seconds, to the millisecond."""
    return float(f"{seconds:.3f}")


def interval_is_measured(start_s: float, length_s: float, from_s: float, to_s: float) -> bool:
    """Whether an interval of histograms counts toward the period ``[from_s, to_s)``:
    its midpoint lies in it. An interval straddling the warm-up's end counts where
    most of it lies, as its events do; times are seconds since ``t0``."""
    return from_s <= start_s + length_s / 2 < to_s


def warmup_seconds(manifest: Mapping[str, Any]) -> float:
    """The warm-up rule: ``warmup_s`` when given, else the first stage's ramp, whole seconds."""
    given = manifest.get("warmup_s")
    if isinstance(given, int | float) and not isinstance(given, bool):
        return float(given)
    stages = manifest.get("stages") or []
    if stages:
        first = stages[0]
        users, rate = first.get("users"), first.get("spawn_rate")
        if isinstance(users, int | float) and isinstance(rate, int | float) and rate > 0:
            return float(math.ceil(users / rate))
    return 0.0


def stages_end_seconds(manifest: Mapping[str, Any]) -> float:
    """When the last stage ends (``inf`` when the manifest lists no timed stage)."""
    ends = [
        float(s["end_s"])
        for s in manifest.get("stages") or ()
        if isinstance(s, dict) and isinstance(s.get("end_s"), int | float)
    ]
    return max(ends) if ends and max(ends) > 0 else math.inf


def measured_end_seconds(manifest: Mapping[str, Any], end_s: float) -> float:
    """The cool-down rule: the measured period ends with the last stage.

    Operations sent after it are the agents signing off (stopping a recording left
    running, hanging up, logging out), all at once: a burst no stage asked for, so
    it stays out of the headline like the warm-up. A run that stopped earlier ends
    where its data ends.
    """
    return min(end_s, stages_end_seconds(manifest))
