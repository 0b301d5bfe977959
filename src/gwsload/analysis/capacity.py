"""Capacity of a step-load run: per-step table and the knee.

Each stage of the manifest is a step. A step is measured from the end of its ramp
(``|users - previous users| / spawn_rate``, and never before the warm-up ends) to
its end. The offered load is the step's ``rate_per_s`` (open workload) or its
users (closed). Three findings, in docs/reports.md terms:

- capacity: the highest step such that it and every step below it hold every SLO;
- throughput knee: the first step whose scaling efficiency
  ``(achieved / achieved_first) / (load / load_first)`` falls below 0.9;
- latency knee: the first step whose notification p99 is at least twice the first step's.

Each step also says who limited it (``limited_by``): the load generator or the
embedded simulator when one of them was saturated during the step (analysis.limits),
else the target when the step breaks an SLO or is past a knee, else none. Capacity
walks up the steps and stops at the first step that either fails or was saturated:
only a failing step with healthy generators and simulator is the target's knee;
a saturated one makes the capacity a lower bound ("at least").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gwsload.analysis.digest_plan import step_periods
from gwsload.analysis.limits import (
    GENERATOR,
    NONE,
    SIMULATOR,
    TARGET,
    PeriodHealth,
    period_health,
)
from gwsload.analysis.load import RunFolder
from gwsload.analysis.metrics import ALL, number, row_of, summarize_digest
from gwsload.analysis.slo import Slo, evaluate_slos
from gwsload.contract import numbers

__all__ = ["CapacityResult", "compute_capacity", "compute_steps", "step_periods"]

EFFICIENCY_FLOOR = 0.9
LATENCY_FACTOR = 2.0


def compute_steps(run: RunFolder, slos: list[Slo]) -> pd.DataFrame:
    """One row per step: users, offered load, achieved ops/s, latency stats, ratios, slo_ok,
    the SLOs it breaks, and the health of the generators and the simulator during it."""
    return _measure_steps(run, slos)[0]


def _measure_steps(run: RunFolder, slos: list[Slo]) -> tuple[pd.DataFrame, dict[int, PeriodHealth]]:
    stages = run.manifest.get("stages") or []
    rows: list[dict[str, object]] = []
    healths: dict[int, PeriodHealth] = {}
    digest = run.digest
    for position, stage in enumerate(stages):
        users = float(stage.get("users") or 0)
        rate = stage.get("rate_per_s")
        if position not in digest.steps or position not in digest.plan.steps:
            continue
        lo, hi = digest.plan.steps[position]
        period = digest.steps[position]
        if not period.counts.any():
            continue
        at = run.anomalies["t_s"]
        anomalies = run.anomalies[(at >= lo) & (at < hi)]
        table = summarize_digest(digest, period, anomalies, hi - lo)
        results = evaluate_slos(slos, table)
        passed = results["passed"]
        pooled = {k: number(v) for k, v in row_of(table, ALL).items()}
        health = period_health(run, lo, hi)
        rows.append(
            {
                "step": int(stage.get("index", len(rows))),
                "users": users,
                "offered": float(rate) if rate is not None else users,
                "offered_unit": "ops/s" if rate is not None else "users",
                "measured_from_s": lo,
                "measured_to_s": hi,
                "ops_per_s": pooled["ops_per_s"],
                "notify_ms_p50": pooled["notify_ms_p50"],
                "notify_ms_p90": pooled["notify_ms_p90"],
                "notify_ms_p99": pooled["notify_ms_p99"],
                "response_ms_p99": pooled["response_ms_p99"],
                "error_ratio": pooled["error_ratio"],
                "lost_ratio": pooled["lost_ratio"],
                "slo_ok": bool(passed.all()) if len(passed) else True,
                "slo_failed": [str(n) for n in results.loc[~passed, "name"]],
                "generator_cpu_max_percent": health.cpu_max(GENERATOR),
                "generator_lag_share": health.share(GENERATOR, "lag"),
                "generator_cpu_wait_percent": health.cpu_wait(GENERATOR),
                "simulator_cpu_max_percent": health.cpu_max(SIMULATOR),
                "simulator_lag_share": health.share(SIMULATOR, "lag"),
                "simulator_cpu_wait_percent": health.cpu_wait(SIMULATOR),
                "saturated": health.limiter or "",
                "saturation": health.reason,
            }
        )
        healths[int(stage.get("index", len(rows) - 1))] = health
    steps = pd.DataFrame(rows)
    if len(steps):
        first = steps.iloc[0]
        steps["efficiency"] = (steps["ops_per_s"] / first["ops_per_s"]) / (
            steps["offered"] / first["offered"]
        )
        steps["p99_vs_first"] = steps["notify_ms_p99"] / first["notify_ms_p99"]
    return steps, healths


@dataclass(frozen=True, slots=True)
class CapacityResult:
    """The capacity answer. ``limit_step`` is where the walk up the steps stopped (None:
    every step held with healthy generators and simulator); ``limited_by`` who limited
    it there (``TARGET``, ``GENERATOR``, ``SIMULATOR``, or ``NONE`` when nothing did)."""

    steps: pd.DataFrame
    capacity_step: int | None
    throughput_knee_step: int | None
    latency_knee_step: int | None
    has_slos: bool
    health: dict[int, PeriodHealth] = field(default_factory=dict)
    limit_step: int | None = None

    @property
    def limited_by(self) -> str:
        if self.limit_step is None:
            return NONE
        return str(self.steps.set_index("step").loc[self.limit_step, "limited_by"])

    @property
    def is_lower_bound(self) -> bool:
        """True when the target's knee was not reached: capacity is "at least" this."""
        return self.limited_by != TARGET

    def _load(self, step: int) -> str:
        row = self.steps.set_index("step").loc[step]
        if row["offered_unit"] == "ops/s":
            return f"{numbers.rate(number(row['offered']))} offered"
        return f"{numbers.count(number(row['users']))} agents"

    def _describe(self, step: int, extra: str = "") -> str:
        row = self.steps.set_index("step").loc[step]
        return f"{self._load(step)} ({numbers.rate(number(row['ops_per_s']))} achieved{extra})"

    def _with_p99(self, step: int) -> str:
        p99 = number(self.steps.set_index("step").loc[step, "notify_ms_p99"])
        return self._describe(step, f", notification p99 {numbers.latency_ms(p99)}")

    @property
    def sentence(self) -> str:
        """The capacity-planning answer in one sentence: the figure and whose limit it is."""
        held = "every SLO" if self.has_slos else "its latency"
        if self.limited_by in (GENERATOR, SIMULATOR):
            assert self.limit_step is not None
            health = self.health[self.limit_step]
            at = self._load(self.limit_step)
            if self.capacity_step is None:
                head = f"No capacity figure: at the first step ({at})"
            else:
                head = f"Capacity: at least {self._load(self.capacity_step)}; at {at}"
            return (
                f"{head} {health.reason}, so the target's knee was not reached: "
                f"{health.remedy} and run again."
            )
        if self.limited_by == NONE:
            assert self.capacity_step is not None
            checked = self.health.get(self.capacity_step)
            healthy = f" with {checked.healthy_processes} healthy" if checked else ""
            held = "every SLO" if self.has_slos else "its throughput and latency"
            return (
                f"Capacity: at least {self._with_p99(self.capacity_step)}: every step holds "
                f"{held}{healthy}, so the target's knee lies beyond the highest step."
            )
        assert self.limit_step is not None
        parts = []
        if self.capacity_step is None:
            parts.append(
                f"No step holds {held}: capacity is below the first step "
                f"({self._describe(int(self.steps['step'].iloc[0]))})"
            )
        else:
            rule = (
                "the highest step that holds every SLO"
                if self.has_slos
                else "the last step before the knee (no SLOs given)"
            )
            parts.append(f"Capacity: {self._with_p99(self.capacity_step)}, {rule}")
        checked = self.health.get(self.limit_step)
        if checked is not None and checked.processes:
            names = checked.healthy_processes
            parts.append(
                f"{names} {'were' if ' and ' in names else 'was'} healthy at "
                f"{self._load(self.limit_step)}, so this is the target's limit"
            )
        if self.throughput_knee_step is not None:
            parts.append(
                f"throughput stops following load at {self._describe(self.throughput_knee_step)}"
                f"{self._not_target(self.throughput_knee_step)}"
            )
        if self.latency_knee_step is not None:
            row = self.steps.set_index("step").loc[self.latency_knee_step]
            parts.append(
                f"notification p99 turns sharply upward at "
                f"{self._load(self.latency_knee_step)} "
                f"({numbers.latency_ms(number(row['notify_ms_p99']))}, "
                f"{numbers.significant(number(row['p99_vs_first']))}x the "
                f"first step){self._not_target(self.latency_knee_step)}"
            )
        return "; ".join(parts) + "."

    def _not_target(self, step: int) -> str:
        limiter = self.steps.set_index("step").loc[step, "limited_by"]
        return f" (where the {limiter} was saturated)" if limiter in (GENERATOR, SIMULATOR) else ""


def _first(mask: pd.Series, steps: pd.DataFrame) -> int | None:
    hits = steps.loc[mask.to_numpy(), "step"]
    return int(hits.iloc[0]) if len(hits) else None


def compute_capacity(run: RunFolder, slos: list[Slo]) -> CapacityResult | None:
    """The knee of a step-load run and whose it is; None with fewer than two distinct loads."""
    loads = {(s.get("users"), s.get("rate_per_s")) for s in run.manifest.get("stages") or []}
    if len(loads) < 2:
        return None
    steps, health = _measure_steps(run, slos)
    if len(steps) < 2 or steps["offered"].nunique() < 2:
        return None
    throughput_knee = _first(steps["efficiency"] < EFFICIENCY_FLOOR, steps)
    latency_knee = _first(steps["p99_vs_first"] >= LATENCY_FACTOR, steps)
    if slos:
        holds = steps["slo_ok"].to_numpy(dtype=bool)
    else:
        knees = [k for k in (throughput_knee, latency_knee) if k is not None]
        holds = (steps["step"] < (min(knees) if knees else math.inf)).to_numpy()
    saturated = steps["saturated"].to_numpy(dtype=object)
    steps["limited_by"] = [
        str(limiter) if limiter else (NONE if ok else TARGET)
        for limiter, ok in zip(saturated, holds, strict=True)
    ]
    # walk up: the first step that fails or was saturated ends the walk
    stops = (~holds) | np.array([bool(v) for v in saturated])
    limit_step = int(steps.loc[stops, "step"].iloc[0]) if stops.any() else None
    good = ~np.logical_or.accumulate(stops)
    capacity = int(steps.loc[good, "step"].iloc[-1]) if good.any() else None
    return CapacityResult(
        steps, capacity, throughput_knee, latency_knee, bool(slos), health, limit_step
    )
