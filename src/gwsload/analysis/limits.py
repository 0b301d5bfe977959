"""Who limited a period: the target, the load generator or the embedded simulator.

Every measuring process (each load-generator worker, from ``generator.csv``; the
embedded simulator, from ``simulator.csv``) is judged over its samples of the period
by the one saturation rule (gwsload.contract.saturation). A knee, or an SLO breach,
in a period where one of them was saturated is that process's, not the target's:
docs/reports.md, "Whose limit".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gwsload.analysis.load import RunFolder
from gwsload.contract.saturation import Saturation, judge

__all__ = [
    "GENERATOR",
    "NONE",
    "REMEDY",
    "SIMULATOR",
    "TARGET",
    "PeriodHealth",
    "ProcessHealth",
    "period_health",
    "run_health",
]

#: the values of a capacity step's "limited by"
TARGET = "target"
GENERATOR = "load generator"
SIMULATOR = "simulator"
NONE = "none"

REMEDY = {
    GENERATOR: "add workers (`--workers N`)",
    SIMULATOR: "give the simulator its own machine (`gwsload simulate` there, `--target URL` here)",
}
#: when a process lagged because other processes held the CPUs, not because of its load
_CROWDED = "run where nothing else competes for the CPUs"


@dataclass(frozen=True, slots=True)
class ProcessHealth:
    """One measuring process over one period."""

    kind: str
    name: str
    saturation: Saturation
    cpu_max_percent: float
    #: the worker id of a load-generator process ("" for the simulator)
    worker: str = ""

    @property
    def remedy(self) -> str:
        return _CROWDED if self.saturation.crowded else REMEDY[self.kind]

    @property
    def finding(self) -> str:
        """E.g. ``the load generator was saturated (event-loop lag > 10 ms in 61 % of samples)``."""
        return f"{self.name} was saturated ({self.saturation.reason})"


@dataclass(frozen=True, slots=True)
class PeriodHealth:
    """Every measuring process over one period."""

    processes: tuple[ProcessHealth, ...]

    @property
    def saturated(self) -> tuple[ProcessHealth, ...]:
        return tuple(p for p in self.processes if p.saturation.saturated)

    @property
    def limiter(self) -> str | None:
        """``GENERATOR`` or ``SIMULATOR`` if one was saturated (the generator first), else None."""
        kinds = {p.kind for p in self.saturated}
        for kind in (GENERATOR, SIMULATOR):
            if kind in kinds:
                return kind
        return None

    @property
    def reason(self) -> str:
        """Every saturated process with its figures, joined by "and"; "" when none was."""
        return " and ".join(p.finding for p in self.saturated)

    @property
    def remedy(self) -> str:
        return " and ".join(dict.fromkeys(p.remedy for p in self.saturated))

    @property
    def healthy_processes(self) -> str:
        """What was checked and found healthy: ``the load generator and the simulator``."""
        kinds = [k for k in (GENERATOR, SIMULATOR) if k in {p.kind for p in self.processes}]
        return " and ".join(f"the {k}" for k in kinds)

    def share(self, kind: str, what: str) -> float:
        """The worst ``lag`` or ``busy`` share of the processes of ``kind`` (NaN if none)."""
        values = [
            p.saturation.lag_share if what == "lag" else p.saturation.busy_share
            for p in self.processes
            if p.kind == kind and p.saturation.samples
        ]
        return max(values) if values else float("nan")

    def cpu_wait(self, kind: str) -> float:
        """The worst mean CPU wait % of the processes of ``kind`` (NaN if unknown)."""
        values = [
            p.saturation.cpu_wait_percent
            for p in self.processes
            if p.kind == kind and not math.isnan(p.saturation.cpu_wait_percent)
        ]
        return max(values) if values else math.nan

    def cpu_max(self, kind: str) -> float:
        values = [p.cpu_max_percent for p in self.processes if p.kind == kind]
        return max(values) if values else float("nan")


def _floats(frame: pd.DataFrame, column: str) -> list[float]:
    if column not in frame:
        return []
    return [float(v) for v in frame[column].to_numpy(dtype=np.float64)]


def _process(kind: str, name: str, samples: pd.DataFrame, worker: str = "") -> ProcessHealth:
    cpu = _floats(samples, "cpu_percent")
    saturation = judge(cpu, _floats(samples, "loop_lag_ms"), _floats(samples, "cpu_wait_percent"))
    finite = [c for c in cpu if not math.isnan(c)]
    return ProcessHealth(kind, name, saturation, max(finite) if finite else math.nan, worker)


def period_health(run: RunFolder, from_s: float, to_s: float) -> PeriodHealth:
    """The health of every measuring process over the samples taken in ``[from_s, to_s]``.

    A sample describes the interval that ends at its timestamp, so the window is closed
    on the right: a step's last sample belongs to it.
    """
    processes = []
    generator = run.generator
    if len(generator):
        in_period = generator[(generator["t_s"] > from_s) & (generator["t_s"] <= to_s)]
        workers = sorted(str(w) for w in generator["worker"].unique())
        for worker in workers:
            name = "the load generator" if len(workers) == 1 else f"load generator worker {worker}"
            rows = in_period[in_period["worker"].astype(str) == worker]
            processes.append(_process(GENERATOR, name, rows, worker))
    simulator = run.simulator
    if len(simulator):
        rows = simulator[(simulator["t_s"] > from_s) & (simulator["t_s"] <= to_s)]
        processes.append(_process(SIMULATOR, "the embedded simulator", rows))
    return PeriodHealth(tuple(processes))


def run_health(run: RunFolder) -> PeriodHealth:
    """The health of every measuring process over the run, from the end of warm-up: the
    samples gwsload run judges for its own verdict, so the report and the console agree."""
    return period_health(run, run.warmup_s, math.inf)
