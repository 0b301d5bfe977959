"""The environment fingerprint of a run, and when two runs' generators differ too much.

Every run folder holds ``environment.json`` (docs/run-folder.md): where the run ran
(host, CPU model and count), with what (Python, Locust, gevent, gwsload), against what
(target kind, node count), its labels, and how healthy the measuring side was over the
measured period: the generator's (and, when recorded, the embedded simulator's) CPU
and event-loop lag, and the machine's CPU busy share, steal and load from ``/proc``
(``machine.csv``, sampled during the run). Each health measure is summarised as a
distribution (:func:`distribution`).

The rule :func:`health_differences` decides when two runs' measuring side differed
materially: a latency gap between such runs may be the machine's, not the target's,
so compare calls those verdicts inconclusive instead of blaming the target.
Pure: stdlib only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from gwsload.contract import numbers

__all__ = [
    "ENVIRONMENT_FILE",
    "HEALTH_MEASURES",
    "MACHINE_COLUMNS",
    "MACHINE_FILE",
    "HealthDifference",
    "HealthMeasure",
    "distribution",
    "health_differences",
    "lag_gap",
]

ENVIRONMENT_FILE = "environment.json"
#: machine-wide samples from /proc during the run, one row every couple of seconds
MACHINE_FILE = "machine.csv"
#: ``cpu_busy_percent`` and ``steal_percent`` are of all CPUs (100 = every CPU), over the
#: period since the previous row; ``others_cpu_percent`` is CPU used by processes that
#: are not this run's (launcher, Locust, simulator), in % of one core; ``load1`` is the
#: 1-minute load average; ``running`` the runnable tasks.
MACHINE_COLUMNS = (
    "ts",
    "cpus",
    "cpu_busy_percent",
    "steal_percent",
    "iowait_percent",
    "others_cpu_percent",
    "load1",
    "running",
)


def distribution(values: Iterable[float]) -> dict[str, float | int | None]:
    """``{"n", "mean", "p50", "p90", "p99", "max"}`` of the finite values (nearest rank;
    None when there are none). The one summary every health measure uses."""
    ordered = sorted(v for v in values if isinstance(v, int | float) and math.isfinite(v))
    if not ordered:
        return {"n": 0, "mean": None, "p50": None, "p90": None, "p99": None, "max": None}

    def rank(q: float) -> float:
        return ordered[max(1, math.ceil(q * len(ordered))) - 1]

    return {
        "n": len(ordered),
        "mean": round(sum(ordered) / len(ordered), 3),
        "p50": round(rank(0.50), 3),
        "p90": round(rank(0.90), 3),
        "p99": round(rank(0.99), 3),
        "max": round(ordered[-1], 3),
    }


@dataclass(frozen=True, slots=True)
class HealthMeasure:
    """One measure of the rule: ``environment.json`` ``health[section][key][stat]``.

    Two runs differ materially on it when the larger value is at least ``floor`` and
    at least ``factor`` times the smaller one.
    """

    section: str
    key: str
    stat: str
    label: str
    unit: str
    factor: float
    floor: float

    def value(self, health: Mapping[str, object]) -> float | None:
        section = health.get(self.section)
        summary = section.get(self.key) if isinstance(section, Mapping) else None
        found = summary.get(self.stat) if isinstance(summary, Mapping) else None
        return float(found) if isinstance(found, int | float) else None


#: THE rule "the measuring side differed materially" (docs/reports.md). Each
#: generator.csv lag sample is the worst wake-up delay of a ~2 s window, so its p99 is
#: what the tail of every latency the generator measured may carry. Under the 10 ms
#: floor a quiet shared machine already varies between runs (measured: 3-10 ms);
#: steal is the hypervisor handing the CPU to another guest, invisible as load. CPU
#: wait (runnable but waiting for a core, /proc/<pid>/schedstat) is a competing job on
#: the same machine: its delays are too short to reach a 2-s window's worst lag
#: (measured: two CPU burners left lag p99 at 5 -> 6 ms but took CPU wait from 3 % to
#: 8 % and doubled the HTTP p95), and too frequent to spare the tails.
HEALTH_MEASURES: tuple[HealthMeasure, ...] = (
    HealthMeasure("generator", "loop_lag_ms", "p99", "generator lag p99", "ms", 2.0, 10.0),
    HealthMeasure("simulator", "loop_lag_ms", "p99", "simulator lag p99", "ms", 2.0, 10.0),
    HealthMeasure("generator", "cpu_wait_percent", "mean", "generator CPU wait", "%", 2.0, 5.0),
    HealthMeasure("simulator", "cpu_wait_percent", "mean", "simulator CPU wait", "%", 2.0, 5.0),
    HealthMeasure("machine", "steal_percent", "mean", "CPU steal", "%", 2.0, 5.0),
)


@dataclass(frozen=True, slots=True)
class HealthDifference:
    """One measure on which the two sides differ materially."""

    measure: HealthMeasure
    baseline: float
    candidate: float
    #: e.g. "the baseline's generator lag p99 was 18 ms, the candidate's 2 ms"
    reason: str


def _shown(value: float, unit: str) -> str:
    if unit == "ms":
        return numbers.latency_ms(value)
    return numbers.quantity(value, unit.strip())


def lag_gap(
    baseline: Sequence[Mapping[str, object]],
    candidate: Sequence[Mapping[str, object]],
    measures: Sequence[HealthMeasure] = HEALTH_MEASURES,
) -> tuple[float, str]:
    """The largest gap between the two sides' worst event-loop lag p99 (generator or
    simulator), in ms, and its reason; (0, "") when no lag was recorded.

    Below the materiality floor too: a latency that moved by no more than this gap
    may have moved with the measuring side, whatever the gap's size."""
    best = (0.0, "")
    for measure in measures:
        if measure.unit != "ms":
            continue
        base = [v for v in (measure.value(h) for h in baseline) if v is not None]
        cand = [v for v in (measure.value(h) for h in candidate) if v is not None]
        if base and cand and abs(max(base) - max(cand)) > best[0]:
            b, c = max(base), max(cand)
            best = (
                abs(b - c),
                f"the baseline's {measure.label} was {_shown(b, measure.unit)}, "
                f"the candidate's {_shown(c, measure.unit)}",
            )
    return best


def health_differences(
    baseline: Sequence[Mapping[str, object]],
    candidate: Sequence[Mapping[str, object]],
    measures: Sequence[HealthMeasure] = HEALTH_MEASURES,
) -> list[HealthDifference]:
    """Where the two sides' measuring health differs materially, one entry per measure
    (empty when it does not). With several runs per side the worst run of each side counts (one
    noisy repetition is enough to spoil a side's tail)."""
    reasons: list[HealthDifference] = []
    for measure in measures:
        base = [v for v in (measure.value(h) for h in baseline) if v is not None]
        cand = [v for v in (measure.value(h) for h in candidate) if v is not None]
        if not base or not cand:
            continue
        b, c = max(base), max(cand)
        high, low = max(b, c), min(b, c)
        if high >= measure.floor and high >= measure.factor * max(low, 1e-9):
            worst = "worst " if len(base) > 1 or len(cand) > 1 else ""
            reason = (
                f"the baseline's {worst}{measure.label} was {_shown(b, measure.unit)}, "
                f"the candidate's {_shown(c, measure.unit)}"
            )
            reasons.append(HealthDifference(measure, b, c, reason))
    return reasons
