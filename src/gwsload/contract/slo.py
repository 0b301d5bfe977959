"""The SLO grammar: what an objective may say, and the objective itself.

An SLO is ``{metric, stat?, operation, max | min}`` (docs/run-folder.md), written as
a scenario's ``[[slo]]`` table, in a ``gwsload check --slo`` file and in the manifest.
``stat`` is for latency metrics only; ``operation`` is a recording operation or ``*``
(all pooled); exactly one of ``max`` (value must not exceed) or ``min`` is set. The
scenario loader and ``gwsload check`` both parse with :func:`parse_slo`, each wording
a problem its own way (:class:`SloGrammarError` says which key, what was expected).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gwsload.contract import numbers
from gwsload.contract.operations import RECORDING_OPERATIONS

__all__ = [
    "ALL_OPERATIONS",
    "LATENCY_METRICS",
    "LATENCY_STATS",
    "OTHER_METRICS",
    "RATIO_METRICS",
    "SLO_KEYS",
    "SLO_METRICS",
    "STAT_PERCENTILES",
    "Slo",
    "SloGrammarError",
    "format_value",
    "parse_slo",
]

#: ``operation`` meaning every operation pooled
ALL_OPERATIONS = "*"
#: metrics taking a ``stat`` (latency distributions, ms)
LATENCY_METRICS = ("response_ms", "notify_ms", "notify_from_intended_ms")
#: metrics that are a share of the operations
RATIO_METRICS = ("lost_ratio", "error_ratio", "late_ratio", "duplicate_ratio")
#: metrics that are one number per run
OTHER_METRICS = ("unexpected_count", "ops_per_s")
SLO_METRICS = (*LATENCY_METRICS, *RATIO_METRICS, *OTHER_METRICS)
#: latency stat -> percentile (100 = max)
STAT_PERCENTILES = {"p50": 50.0, "p90": 90.0, "p95": 95.0, "p99": 99.0, "p99.9": 99.9, "max": 100.0}
LATENCY_STATS = (*STAT_PERCENTILES, "mean")
SLO_KEYS = ("metric", "stat", "operation", "max", "min")


class SloGrammarError(ValueError):
    """An SLO entry that breaks the grammar: ``key`` must be ``expected``, got ``got``
    (``key`` is ``""`` when the entry as a whole is wrong)."""

    def __init__(self, key: str, expected: str, got: object) -> None:
        self.key = key
        self.expected = expected
        self.got = got
        super().__init__(f"{key or 'the entry'} must be {expected}, got {got!r}")


@dataclass(frozen=True, slots=True)
class Slo:
    """One objective. ``bound`` is ``max`` (value must not exceed) or ``min``."""

    metric: str
    stat: str | None
    operation: str
    bound: str
    threshold: float

    @property
    def name(self) -> str:
        stat = f" {self.stat}" if self.stat else ""
        sign = "<=" if self.bound == "max" else ">="
        threshold = numbers.significant(self.threshold, 6)
        return f"{self.metric}{stat} [{self.operation}] {sign} {threshold}"

    @property
    def label(self) -> str:
        """The objective in words, e.g. ``notification latency p99, all operations <= 500 ms``."""
        what = _WORDS[self.metric] + (f" {self.stat}" if self.stat else "")
        scope = "all operations" if self.operation == ALL_OPERATIONS else self.operation
        if self.metric == "unexpected_count":
            scope = "whole run"
        sign = "\u2264" if self.bound == "max" else "\u2265"
        return f"{what}, {scope} {sign} {format_value(self.metric, self.threshold)}"

    def to_dict(self) -> dict[str, object]:
        """The manifest (and scenario) form: only the keys that are set."""
        out: dict[str, object] = {"metric": self.metric}
        if self.stat is not None:
            out["stat"] = self.stat
        out["operation"] = self.operation
        out[self.bound] = self.threshold
        return out


_WORDS = {
    "response_ms": "HTTP response time",
    "notify_ms": "notification latency",
    "notify_from_intended_ms": "notification latency from schedule",
    "lost_ratio": "lost notifications",
    "error_ratio": "errors",
    "late_ratio": "late notifications",
    "duplicate_ratio": "duplicate notifications",
    "unexpected_count": "unexpected notifications",
    "ops_per_s": "throughput",
}


def format_value(metric: str, value: float) -> str:
    """A measured or threshold value of ``metric`` with its unit ("no data" for NaN)."""
    if math.isnan(value):
        return "no data"
    if metric in LATENCY_METRICS:
        return numbers.latency_ms(value)
    if metric in RATIO_METRICS:
        return numbers.percent(value)
    if metric == "ops_per_s":
        return numbers.rate(value)
    return numbers.count(value)


def parse_slo(entry: Mapping[str, Any]) -> Slo:
    """One entry of the grammar; raises :class:`SloGrammarError` on the first bad key."""
    for key in entry:
        if key not in SLO_KEYS:
            raise SloGrammarError(str(key), f"one of the keys {list(SLO_KEYS)}", key)
    metric = entry.get("metric")
    if metric not in SLO_METRICS:
        raise SloGrammarError("metric", f"one of {list(SLO_METRICS)}", metric)
    stat = entry.get("stat")
    if metric in LATENCY_METRICS:
        if stat not in LATENCY_STATS:
            raise SloGrammarError("stat", f"one of {list(LATENCY_STATS)} for {metric}", stat)
    elif stat is not None:
        raise SloGrammarError(
            "stat", f"absent for {metric} (stat applies to latency metrics)", stat
        )
    operation = entry.get("operation", ALL_OPERATIONS)
    if operation != ALL_OPERATIONS and operation not in RECORDING_OPERATIONS:
        raise SloGrammarError("operation", f"'*' or one of {list(RECORDING_OPERATIONS)}", operation)
    bounds = [b for b in ("max", "min") if b in entry]
    if len(bounds) != 1:
        got = "both" if bounds else "neither"
        raise SloGrammarError("", "set with exactly one of max or min", got)
    threshold = entry[bounds[0]]
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise SloGrammarError(bounds[0], "a number", threshold)
    return Slo(str(metric), stat, str(operation), bounds[0], float(threshold))
