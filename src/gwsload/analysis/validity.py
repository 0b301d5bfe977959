"""Can the numbers be trusted? Generator saturation and coordinated omission, in words.

Rules (docs/reports.md): each load-generator worker and the embedded simulator is
judged by the rule of :mod:`gwsload.contract.saturation` over its samples from the end
of warm-up, the rule ``gwsload run`` applies too (its findings are in the manifest and
stand in only when generator.csv is missing): saturated (a warning, with the remedy),
stalled too rarely to be saturated (a note), or healthy (one note). In an open
workload, coordinated omission matters when more than 1 % of operations started
over 10 ms late or the corrected notification p99 exceeds the uncorrected one by
more than 10 %.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from gwsload.analysis.digest_plan import LATE_START_MS
from gwsload.analysis.drift import DriftResult
from gwsload.analysis.limits import GENERATOR, REMEDY, ProcessHealth, run_health
from gwsload.analysis.load import RunFolder
from gwsload.analysis.metrics import ALL, number
from gwsload.contract import numbers
from gwsload.contract.loss_causes import loss_causes_in
from gwsload.contract.saturation import (
    CPU_BUSY_PERCENT,
    LOOP_LAG_MS,
    Saturation,
    load_process_findings,
)

__all__ = ["Finding", "assess_validity", "cut_short_sentence", "harness_drift_findings"]

LATE_START_SHARE = 0.01
CORRECTION_FACTOR = 1.10
#: a run folder still marked running but untouched for this long was cut short (a live
#: run writes its folder every couple of seconds)
QUIET_S = 30.0


@dataclass(frozen=True, slots=True)
class Finding:
    """``warning`` findings affect the numbers; ``note`` findings explain them."""

    severity: str
    text: str


def _stall_note(name: str, verdict: Saturation) -> Finding:
    what = []
    if verdict.lagging_samples:
        what.append(
            f"event-loop lag over {numbers.latency_ms(LOOP_LAG_MS)} in "
            f"{verdict.lagging_samples} of {verdict.samples} samples, worst "
            f"{numbers.latency_ms(verdict.worst_lag_ms)}"
        )
    if verdict.busy_samples:
        what.append(
            f"CPU >= {numbers.significant(CPU_BUSY_PERCENT)} % of a core in "
            f"{verdict.busy_samples} of {verdict.samples} samples"
        )
    return Finding(
        "note",
        f"{name[0].upper() + name[1:]} stalled briefly ({' and '.join(what)}): too rare to "
        "call it saturated, but latencies in those moments include up to that delay.",
    )


def _generator_findings(run: RunFolder) -> list[Finding]:
    """One rule, one statement per measuring process (docs/reports.md, "Validity")."""
    health = run_health(run)
    computed: list[str] = []
    remedies: list[str] = []
    findings: list[Finding] = []
    healthy: list[ProcessHealth] = []
    for process in health.processes:
        verdict = process.saturation
        if process.kind == GENERATOR and verdict.saturated:
            computed += load_process_findings(process.worker, verdict)
            remedies.append(process.remedy)
        elif verdict.saturated:
            findings.append(
                Finding(
                    "warning",
                    f"The embedded simulator was saturated during the measured period "
                    f"({verdict.reason}; worst event-loop lag "
                    f"{numbers.latency_ms(verdict.worst_lag_ms)}): the latencies include its "
                    f"own delays, not the target's: {process.remedy} and run again.",
                )
            )
        elif verdict.lagging_samples or verdict.busy_samples:
            findings.append(_stall_note(process.name, verdict))
        elif verdict.samples:
            healthy.append(process)
    # the report's judgement of generator.csv is the verdict; the manifest's (the same
    # rule, applied by gwsload run) stands in only when there are no samples to judge
    judged = (run.manifest.get("generator") or {}).get("findings") or []
    harness = [
        Finding("warning", f"Harness: {text}")
        for text in (computed if len(run.generator) else judged)
    ]
    if harness:
        harness.append(
            Finding(
                "note",
                "Because the load generator was saturated, the latencies measured through it "
                "include its own delays and the throughput may be its limit, not the target's: "
                f"{' and '.join(dict.fromkeys(remedies or [REMEDY[GENERATOR]]))} and run again.",
            )
        )
    findings = harness + findings
    kinds = run.incidents["kind"].value_counts()
    for kind, label in (("worker_lost", "worker lost"), ("worker_saturated", "worker saturated")):
        if kinds.get(kind, 0):
            findings.append(Finding("warning", f"{kinds[kind]} '{label}' incident(s) recorded."))
    if healthy:
        names = " and ".join(p.name for p in healthy)
        peaks = " and ".join(
            numbers.quantity(p.cpu_max_percent, "%", 2)
            + (f" ({p.name})" if len(healthy) > 1 else "")
            for p in healthy
        )
        verb, pronoun = ("were", "they") if len(healthy) > 1 else ("was", "it")
        findings.append(
            Finding(
                "note",
                f"{names[0].upper() + names[1:]} {verb} healthy: CPU peaked at {peaks} of a "
                f"core and event-loop lag stayed under {numbers.latency_ms(LOOP_LAG_MS)} in "
                f"every sample, so {pronoun} did not shape the numbers.",
            )
        )
    return findings


def _omission_findings(run: RunFolder, headline: pd.DataFrame) -> list[Finding]:
    if run.workload_model != "open":
        return [
            Finding(
                "note",
                (
                    "Closed workload: each agent waits for its previous "
                    "operation, so when the server "
                    "slows down the offered load drops with it; latencies are not corrected for "
                    "coordinated omission (use an open workload for that)."
                ),
            )
        ]
    digest = run.digest  # counted while the events streamed, against LATE_START_MS
    late_share = digest.late_starts / digest.after_warmup if digest.after_warmup else 0.0
    corrected = number(headline.loc[ALL, "notify_from_intended_ms_p99"])
    plain = number(headline.loc[ALL, "notify_ms_p99"])
    if late_share > LATE_START_SHARE or corrected > CORRECTION_FACTOR * plain:
        return [
            Finding(
                "warning",
                (
                    f"Coordinated omission: {numbers.percent(late_share)} of operations started "
                    f"more than {numbers.latency_ms(LATE_START_MS)} after their scheduled time; "
                    f"notification p99 is {numbers.latency_ms(corrected)} measured from the "
                    f"schedule versus {numbers.latency_ms(plain)} from the send. The corrected "
                    "figure is what users would have seen."
                ),
            )
        ]
    return [
        Finding(
            "note",
            (
                f"Open workload: {numbers.percent(late_share)} of operations started late; "
                "corrected and uncorrected notification p99 agree "
                f"({numbers.latency_ms(corrected)} vs {numbers.latency_ms(plain)})."
            ),
        )
    ]


def _last_data_s(run: RunFolder) -> float:
    """Seconds from t0 to the last thing the run recorded (operation, sample, incident)."""
    ends = [float(frame["t_s"].max()) for frame in (run.generator, run.incidents)]
    ends.append(run.digest.last_t_s)
    return max((end for end in ends if np.isfinite(end)), default=0.0)


def _last_write_age_s(run: RunFolder, now: float) -> float:
    """Seconds since anything in the run folder was last written."""
    newest = 0.0
    for folder in (run.path, run.path / "events", run.path / "anomalies"):
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    newest = max(newest, entry.stat().st_mtime)
        except OSError:
            continue
    return now - newest


def cut_short_sentence(run: RunFolder, *, now: float | None = None) -> str | None:
    """For a run whose launcher never closed its folder (killed, machine lost): that it was
    cut short and when, in one sentence; None for a closed run."""
    if run.manifest.get("status") != "running":
        return None
    last_s = _last_data_s(run)
    when = datetime.fromtimestamp(run.t0 + last_s, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    planned = [float(s.get("end_s", 0.0)) for s in run.manifest.get("stages") or ()]
    of_planned = (
        f" of the planned {numbers.duration_s(round(max(planned)))}"
        if planned and max(planned) > 0
        else ""
    )
    age_s = _last_write_age_s(run, time.time() if now is None else now)
    last = numbers.duration_s(round(last_s))
    if age_s < QUIET_S:
        age = numbers.duration_s(round(age_s))
        return (
            f"The run has not ended (status 'running', folder written {age} ago): "
            f"it is still going, or was cut short at {when}; these numbers cover its first "
            f"{last}{of_planned}."
        )
    return (
        f"The run was cut short at {when}, {last}{of_planned} into it: its launcher "
        "ended without closing the run folder (status still 'running'), so the numbers "
        "cover only that part and the last seconds before the cut may be missing."
    )


def _loss_cause_findings(run: RunFolder) -> list[Finding]:
    """The run verdict's line on lost notifications a stalled measuring process may have
    caused (gwsload.contract.loss_causes), read only when the run lost some."""
    digest = run.digest
    if "lost" not in digest.outcomes:
        return []
    lost = int(digest.window_counts[..., digest.outcomes.index("lost")].sum())
    timeout_s = run.manifest.get("notification_timeout_s")
    if not lost or not isinstance(timeout_s, int | float):
        return []
    line = loss_causes_in(run.path, notification_timeout_s=float(timeout_s)).line()
    return [Finding("warning", f"Lost notifications: {line}.")] if line else []


def assess_validity(run: RunFolder, headline: pd.DataFrame) -> list[Finding]:
    """Findings, warnings first."""
    findings = []
    status = run.manifest.get("status")
    cut_short = cut_short_sentence(run)
    if cut_short is not None:
        findings.append(Finding("warning", cut_short))
    elif status != "completed":
        # the launcher's one-line reason (e.g. the deadline it passed), when it gave one
        reason = run.manifest.get("end_reason")
        because = f" ({reason})" if isinstance(reason, str) and reason else ""
        findings.append(
            Finding(
                "warning",
                (
                    f"The run's status is {status!r}, not 'completed'{because}: its last "
                    f"seconds may be missing."
                ),
            )
        )
    findings += _generator_findings(run)
    findings += _loss_cause_findings(run)
    if run.generator.empty:
        findings.append(Finding("note", "No generator.csv: generator saturation is unknown."))
    findings += _omission_findings(run, headline)
    if run.hdr is None:
        findings.append(
            Finding(
                "note",
                (
                    "latency.hlog is absent: latency percentiles were computed from the events "
                    "(same 3-significant-digit buckets)."
                ),
            )
        )
    findings.append(
        Finding(
            "note",
            (
                f"Warm-up: the first {numbers.duration_s(run.warmup_s)} are left out of the "
                "headline numbers "
                "(still shown in the time series)."
            ),
        )
    )
    return sorted(findings, key=lambda f: f.severity != "warning")


def harness_drift_findings(drift: list[DriftResult]) -> list[Finding]:
    """The measuring side's drift as findings about the tool, apart from the target's.

    One sentence per drifting quantity, worded as the harness's problem; one note when
    nothing drifted; nothing when the run was too short to test.
    """
    if not drift:
        return []
    drifting = [d for d in drift if d.drifting]
    if not drifting:
        simulator = any(d.quantity.startswith("the embedded simulator") for d in drift)
        return [
            Finding(
                "note",
                "The measuring side did not drift: the load generator's memory, open fds, "
                "greenlets and CPU"
                + (" and the embedded simulator's memory and CPU" if simulator else "")
                + " stayed flat from the end of warm-up and ramp on (a check of the harness, "
                "apart from the target's drift).",
            )
        ]
    return [
        Finding(
            "warning",
            f"{d.sentence[0].upper() + d.sentence[1:]}, from the end of warm-up and ramp: a "
            "harness problem, not the target's.",
        )
        for d in drifting
    ]
