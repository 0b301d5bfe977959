"""Capacity of a step-load run: per-step table and the knee.

Each stage of the manifest is a step. A step is measured from the end of its ramp
(``|users - previous users| / spawn_rate``, and never before the warm-up ends) to
its end. The offered load is the step's ``rate_per_s`` (open workload) or its
users (closed). Three findings, in docs/reports.md terms:

- capacity: the highest step such that it and every step below it hold every SLO;
- throughput knee: the first step whose scaling efficiency
  ``(achieved / achieved_first) / (load / load_first)`` falls below 0.9;
- latency knee: the first step whose notification p99 is at least twice the first step's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gwsload.analysis.load import RunFolder
from gwsload.analysis.metrics import ALL, number, row_of, summarize_period
from gwsload.analysis.slo import Slo, evaluate_slos
from gwsload.contract import numbers

__all__ = ["CapacityResult", "compute_capacity", "compute_steps"]

EFFICIENCY_FLOOR = 0.9
LATENCY_FACTOR = 2.0


def compute_steps(run: RunFolder, slos: list[Slo]) -> pd.DataFrame:
    """One row per step: users, offered load, achieved ops/s, latency stats, ratios, slo_ok."""
    stages = run.manifest.get("stages") or []
    rows: list[dict[str, object]] = []
    previous_users = 0.0
    for stage in stages:
        start, end = float(stage.get("start_s", 0)), float(stage.get("end_s", 0))
        users = float(stage.get("users") or 0)
        rate = stage.get("rate_per_s")
        spawn = float(stage.get("spawn_rate") or 0) or math.inf
        settle = math.ceil(abs(users - previous_users) / spawn) if spawn != math.inf else 0
        previous_users = users
        lo = max(start + settle, run.warmup_s)
        hi = min(end, run.end_s)
        if hi - lo <= 0:
            continue
        t = run.events["t_s"].to_numpy()
        in_step = (t >= lo) & (t < hi)
        if not in_step.any():
            continue
        at = run.anomalies["t_s"]
        anomalies = run.anomalies[(at >= lo) & (at < hi)]
        table = summarize_period(run.events, anomalies, hi - lo, mask=in_step)
        passed = evaluate_slos(slos, table)["passed"]
        pooled = {k: number(v) for k, v in row_of(table, ALL).items()}
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
            }
        )
    steps = pd.DataFrame(rows)
    if len(steps):
        first = steps.iloc[0]
        steps["efficiency"] = (steps["ops_per_s"] / first["ops_per_s"]) / (
            steps["offered"] / first["offered"]
        )
        steps["p99_vs_first"] = steps["notify_ms_p99"] / first["notify_ms_p99"]
    return steps


@dataclass(frozen=True, slots=True)
class CapacityResult:
    steps: pd.DataFrame
    capacity_step: int | None
    throughput_knee_step: int | None
    latency_knee_step: int | None
    has_slos: bool

    def _load(self, step: int) -> str:
        row = self.steps.set_index("step").loc[step]
        if row["offered_unit"] == "ops/s":
            return f"{numbers.rate(number(row['offered']))} offered"
        return f"{numbers.count(number(row['users']))} agents"

    def _describe(self, step: int, extra: str = "") -> str:
        row = self.steps.set_index("step").loc[step]
        return f"{self._load(step)} ({numbers.rate(number(row['ops_per_s']))} achieved{extra})"

    @property
    def sentence(self) -> str:
        """The capacity-planning answer in one sentence (plus the knees)."""
        parts = []
        if self.capacity_step is None:
            held = "every SLO" if self.has_slos else "its latency"
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
            p99 = number(self.steps.set_index("step").loc[self.capacity_step, "notify_ms_p99"])
            described = self._describe(
                self.capacity_step, f", notification p99 {numbers.latency_ms(p99)}"
            )
            parts.append(f"Capacity: {described}, {rule}")
        if self.throughput_knee_step is not None:
            parts.append(
                f"throughput stops following load at {self._describe(self.throughput_knee_step)}"
            )
        if self.latency_knee_step is not None:
            row = self.steps.set_index("step").loc[self.latency_knee_step]
            parts.append(
                f"notification p99 turns sharply upward at "
                f"{self._load(self.latency_knee_step)} "
                f"({numbers.latency_ms(number(row['notify_ms_p99']))}, "
                f"{numbers.significant(number(row['p99_vs_first']))}x the "
                f"first step)"
            )
        return "; ".join(parts) + "."


def _first(mask: pd.Series, steps: pd.DataFrame) -> int | None:
    hits = steps.loc[mask.to_numpy(), "step"]
    return int(hits.iloc[0]) if len(hits) else None


def compute_capacity(run: RunFolder, slos: list[Slo]) -> CapacityResult | None:
    """The knee of a step-load run; None when the run has fewer than two distinct loads."""
    loads = {(s.get("users"), s.get("rate_per_s")) for s in run.manifest.get("stages") or []}
    if len(loads) < 2:
        return None
    steps = compute_steps(run, slos)
    if len(steps) < 2 or steps["offered"].nunique() < 2:
        return None
    throughput_knee = _first(steps["efficiency"] < EFFICIENCY_FLOOR, steps)
    latency_knee = _first(steps["p99_vs_first"] >= LATENCY_FACTOR, steps)
    if slos:
        holding = np.logical_and.accumulate(steps["slo_ok"].to_numpy())
    else:
        knees = [k for k in (throughput_knee, latency_knee) if k is not None]
        limit = min(knees) if knees else math.inf
        holding = (steps["step"] < limit).to_numpy()
    capacity = int(steps.loc[holding, "step"].iloc[-1]) if holding.any() else None
    return CapacityResult(steps, capacity, throughput_knee, latency_knee, bool(slos))
