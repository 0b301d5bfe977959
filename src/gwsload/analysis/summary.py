"""Everything ``gwsload report`` says about one run, and its JSON and Markdown forms.

``analyze_run`` computes (no files written); ``summary_json`` gives the documented,
stable ``summary.json`` structure (docs/reports.md); ``summary_markdown`` the text
for a CI comment or a ticket.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from gwsload.analysis.accounting import compute_outcomes
from gwsload.analysis.attribution import attribute_breaches, breach_note
from gwsload.analysis.capacity import CapacityResult, compute_capacity
from gwsload.analysis.drift import DriftResult, compute_drift, compute_harness_drift
from gwsload.analysis.latency_split import LatencySplit, split_latency, split_over_time
from gwsload.analysis.load import RunFolder
from gwsload.analysis.metrics import (
    ALL,
    LATENCY_METRICS,
    STATS,
    choose_window_s,
    compute_headline,
    compute_notify_order,
    compute_time_series,
    number,
    row_of,
)
from gwsload.analysis.outages import outages
from gwsload.analysis.per_node import per_node
from gwsload.analysis.slo import Slo, evaluate_slos, format_value, parse_slos
from gwsload.analysis.throttling import count_throttled
from gwsload.analysis.validity import Finding, assess_validity, harness_drift_findings
from gwsload.contract import numbers
from gwsload.contract.activity import run_failures

__all__ = ["SCHEMA", "RunAnalysis", "analyze_run", "summary_json", "summary_markdown"]

SCHEMA = "gwsload.summary/1"
_COUNTERS = (
    "operations",
    "ops_per_s",
    "ok",
    "http_error",
    "api_error",
    "transport_error",
    "async_error",
    "lost",
    "late",
    "duplicate",
    "unexpected",
    "error_ratio",
    "lost_ratio",
    "late_ratio",
    "duplicate_ratio",
)


@dataclass(frozen=True)
class RunAnalysis:
    run: RunFolder
    headline: pd.DataFrame
    window_s: float
    series: pd.DataFrame
    outcomes: pd.DataFrame
    notify_order: dict[str, float]
    slos: list[Slo]
    slo_results: pd.DataFrame
    findings: list[Finding]
    capacity: CapacityResult | None
    #: the target's drift (latency, errors, losses)
    drift: list[DriftResult]
    #: the measuring side's drift (generator and simulator memory, fds, CPU): a finding
    #: about the tool, also stated in ``findings``
    harness_drift: list[DriftResult]
    #: why the run did not test (the failed-run rule); empty when it did
    failed_run: list[str]
    #: SLO name -> the saturated process ("load generator" / "simulator") during whose
    #: saturation it broke (analysis.attribution); breaches of the target are absent
    breaches: dict[str, str] = field(default_factory=dict)
    #: server time vs delivery per operation (not available from every target)
    latency_split: LatencySplit = field(default_factory=lambda: LatencySplit(False, "not computed"))
    #: latency, errors, losses, late and duplicate notifications per server node (None:
    #: fewer than two nodes named)
    nodes: pd.DataFrame | None = None
    #: server time vs delivery per window (latency_split.split_over_time); None when
    #: the split is not available
    split_series: pd.DataFrame | None = None
    #: requests the target throttled (429/503 with Retry-After), whole run:
    #: operations (recording) and session_steps (setup and session)
    throttled: dict[str, int] = field(default_factory=dict)

    @property
    def slo_verdict(self) -> str:
        if not len(self.slo_results):
            return "none"
        return "pass" if bool(self.slo_results["passed"].all()) else "fail"

    @property
    def verdict(self) -> str:
        """``fail`` when the run did not test or an SLO is breached, else the SLO verdict."""
        return "fail" if self.failed_run else self.slo_verdict

    @property
    def verdict_sentence(self) -> str:
        """The decision in one sentence."""
        pooled = {k: number(v) for k, v in row_of(self.headline, ALL).items()}
        facts = (
            f"{numbers.count(pooled['operations'])} operations at "
            f"{numbers.rate(pooled['ops_per_s'])}, "
            f"notification p99 {numbers.latency_ms(pooled['notify_ms_p99'])}, "
            f"errors {numbers.percent(pooled['error_ratio'])}, "
            f"lost {numbers.percent(pooled['lost_ratio'])}"
        )
        warnings = sum(f.severity == "warning" for f in self.findings)
        caveat = f" ({warnings} validity warning{'s' * (warnings != 1)})" if warnings else ""
        if self.failed_run:
            return f"FAIL: the run did not test: {'; '.join(self.failed_run)}; {facts}{caveat}."
        if self.slo_verdict == "none":
            return f"NO SLOs to check: {facts}{caveat}."
        failed = int((~self.slo_results["passed"]).sum())
        total = len(self.slo_results)
        if failed:
            during = ""
            if self.breaches:
                who = " and ".join(sorted(set(self.breaches.values())))
                during = (
                    f" ({len(self.breaches)} during {who} saturation: not a verdict on the target)"
                )
            return f"FAIL: {failed} of {total} SLOs breached{during}; {facts}{caveat}."
        holds = "the SLO holds" if total == 1 else f"all {total} SLOs hold"
        return f"PASS: {holds}; {facts}{caveat}."


def analyze_run(run: RunFolder, slos: list[Slo] | None = None) -> RunAnalysis:
    """All the numbers of a report. SLOs default to the manifest's."""
    if slos is None:
        slos = parse_slos(run.manifest.get("slo") or [], source=f"{run.path}/manifest.json")
    headline = compute_headline(run)
    window_s = choose_window_s(run.end_s)
    series = compute_time_series(run, window_s)
    slo_results = evaluate_slos(slos, headline)
    capacity = compute_capacity(run, slos)
    harness_drift = compute_harness_drift(run, window_s=window_s)
    latency_split = split_latency(run.digest)
    return RunAnalysis(
        run=run,
        headline=headline,
        window_s=window_s,
        series=series,
        outcomes=compute_outcomes(run),
        notify_order=compute_notify_order(run.digest.notify_order),
        slos=slos,
        slo_results=slo_results,
        findings=assess_validity(run, headline) + harness_drift_findings(harness_drift),
        capacity=capacity,
        drift=compute_drift(series, window_s=window_s),
        harness_drift=harness_drift,
        failed_run=run_failures(run.path, run.manifest),
        breaches=attribute_breaches(run, slo_results, capacity),
        latency_split=latency_split,
        nodes=per_node(
            run.path,
            t0=run.t0,
            from_s=run.warmup_s,
            to_s=run.measure_end_s,
            anomalies=run.anomalies,
        ),
        split_series=split_over_time(run.digest, latency_split, window_s=window_s),
        throttled=count_throttled(run),
    )


def _clean(value: Any) -> Any:
    """JSON-safe: NaN -> null, numpy scalars -> Python."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _operation_block(row: dict[str, Any]) -> dict[str, Any]:
    block: dict[str, Any] = {key: row[key] for key in _COUNTERS}
    block["latency_ms"] = {
        metric: {stat: row[f"{metric}_{stat}"] for stat in ("min", *STATS, "mean")}
        for metric in LATENCY_METRICS
    }
    return block


def _drift_entry(d: DriftResult) -> dict[str, Any]:
    return {
        "quantity": d.quantity,
        "unit": d.unit,
        "slope_per_hour": d.slope_per_hour,
        "change_over_run": d.change_over_run,
        "p_value": d.p_value,
        "windows": d.windows,
        "drifting": d.drifting,
        "sentence": d.sentence,
    }


def summary_json(analysis: RunAnalysis) -> dict[str, Any]:
    """The ``summary.json`` document (keys documented in docs/reports.md)."""
    run, headline = analysis.run, analysis.headline
    capacity = analysis.capacity
    document = {
        "schema": SCHEMA,
        "run_id": run.run_id,
        "scenario": (run.manifest.get("scenario") or {}).get("name")
        or run.manifest.get("scenario_file"),
        "status": run.manifest.get("status"),
        "workload": run.workload_model,
        "transport": run.manifest.get("transport"),
        "verdict": analysis.verdict_sentence,
        "failed_run": analysis.failed_run,
        "measured": {
            "warmup_s": run.warmup_s,
            "from_s": run.warmup_s,
            "to_s": run.end_s,
            "seconds": run.end_s - run.warmup_s,
        },
        "latency_source": "hdr" if run.hdr is not None else "events",
        "all": _operation_block(row_of(headline, ALL)),
        "operations": {
            str(op): _operation_block(row_of(headline, str(op)))
            for op in headline.index
            if op != ALL
        },
        "notification_order": analysis.notify_order,
        "outcomes": analysis.outcomes.to_dict(orient="records"),
        "slo": {
            "verdict": analysis.slo_verdict,
            "results": [
                {**r, "during_saturation": analysis.breaches.get(str(r["name"]))}
                for r in analysis.slo_results.to_dict(orient="records")
            ],
        },
        "validity": [{"severity": f.severity, "text": f.text} for f in analysis.findings],
        "capacity": None
        if capacity is None
        else {
            "sentence": capacity.sentence,
            "capacity_step": capacity.capacity_step,
            "capacity_is_lower_bound": capacity.is_lower_bound,
            "limit_step": capacity.limit_step,
            "limited_by": capacity.limited_by,
            "limit_reason": None
            if capacity.limit_step is None
            else capacity.health[capacity.limit_step].reason or None,
            "throughput_knee_step": capacity.throughput_knee_step,
            "latency_knee_step": capacity.latency_knee_step,
            "steps": capacity.steps.to_dict(orient="records"),
        },
        "drift": [_drift_entry(d) for d in analysis.drift],
        "harness_drift": [_drift_entry(d) for d in analysis.harness_drift],
        "latency_split": analysis.latency_split.to_json(),
        "nodes": None if analysis.nodes is None else analysis.nodes.to_dict(orient="records"),
        "throttled": analysis.throttled,
        "outages": [
            {
                "line": o.line(),
                "start_s": o.start_s,
                "back_s": o.back_s,
                "agents": o.agents,
                "relogins": o.relogins,
                "first_operation_after_s": o.first_operation_after_s,
            }
            for o in outages(run)
        ],
    }
    return dict(_clean(document))


def summary_markdown(analysis: RunAnalysis) -> str:
    """A short Markdown summary: verdict, headline table, SLOs, findings, capacity, drift."""
    run, headline = analysis.run, analysis.headline
    lines = [
        f"## gwsload run `{run.run_id}`",
        "",
        f"**{analysis.verdict_sentence}**",
        "",
        f"Measured {numbers.significant(run.warmup_s)}-{numbers.duration_s(run.end_s)} "
        "(warm-up excluded); latency from "
        f"{'latency.hlog' if run.hdr is not None else 'events'}, ms.",
        "",
        "| operation | ops | ops/s | notify p50 | p90 | p99 | p99.9 | max | HTTP p99 "
        "| errors | lost |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for op, row in headline.iterrows():
        name = "**all**" if op == ALL else str(op)
        lines.append(
            f"| {name} | {numbers.count(row['operations'])} | "
            f"{numbers.significant(row['ops_per_s'], 4)} | "
            + " | ".join(
                numbers.significant(row[f"notify_ms_{s}"])
                for s in ("p50", "p90", "p99", "p99.9", "max")
            )
            + f" | {numbers.significant(row['response_ms_p99'])} | "
            f"{numbers.percent(row['error_ratio'])} | {numbers.percent(row['lost_ratio'])} |"
        )
    if len(analysis.slo_results):
        lines += ["", "| SLO | measured | result |", "|---|--:|---|"]
        for r in analysis.slo_results.itertuples():
            verdict = "pass" if r.passed else "**FAIL**"
            if str(r.name) in analysis.breaches:
                verdict += f" ({breach_note(analysis.breaches[str(r.name)])})"
            measured = format_value(str(r.metric), number(r.value))
            lines.append(f"| {r.label} | {measured} | {verdict} |")
    found = outages(run)
    if found:
        lines += ["", "**Target outages**", ""] + [f"- {o.line()}" for o in found]
    if analysis.findings:
        lines += ["", "**Validity**", ""]
        lines += [f"- {'⚠ ' if f.severity == 'warning' else ''}{f.text}" for f in analysis.findings]
    if analysis.capacity is not None:
        lines += ["", f"**{analysis.capacity.sentence}**"]
    drifting = [d.sentence for d in analysis.drift if d.drifting]
    if not analysis.drift:
        drift_text = "not tested (measured period under 10 minutes)."
    else:
        drift_text = "; ".join(drifting) if drifting else "no drift detected."
    lines += ["", "**Drift:** " + drift_text]
    return "\n".join(lines) + "\n"
