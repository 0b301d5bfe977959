"""HTML and JSON of ``gwsload compare``: verdict table and overlaid plots."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from gwsload.analysis import plots
from gwsload.analysis.compare_health import exit_code
from gwsload.analysis.compare_text import format_change, labels_line, operation_sentences
from gwsload.analysis.environment import environment_lines
from gwsload.analysis.load import RunFolder
from gwsload.analysis.markup import figure_png, page, table
from gwsload.analysis.metrics import (
    ALL,
    choose_window_s,
    compute_spectrum,
    compute_time_series,
    latency_histograms,
    number,
)
from gwsload.contract import numbers

__all__ = ["compare_document", "compare_verdict", "render_compare"]


def compare_verdict(table_: pd.DataFrame) -> str:
    """One sentence: regression or not, and which rows."""
    worse = table_[table_["verdict"] == "worse"]
    better = table_[table_["verdict"] == "better"]
    unsure = table_[table_["verdict"] == "inconclusive"]
    tol = table_.attrs.get("tolerance", 0.1)
    if len(worse):
        # all-operations rows first, then the largest changes
        ranked = worse.assign(pooled=worse["operation"] != ALL, size=-worse["change"].abs())
        ranked = ranked.sort_values(["pooled", "size"])
        shown = ", ".join(
            f"{r.metric}{'' if r.stat == 'ratio' else ' ' + str(r.stat)} [{r.operation}] "
            f"{format_change(number(r.change), str(r.change_kind))}"
            for r in ranked.head(4).itertuples()
        )
        more = f" and {len(worse) - 4} more" if len(worse) > 4 else ""
        ratio_tol = table_.attrs.get("ratio_tolerance", 0.001) * 100
        return (
            f"REGRESSION: {len(worse)} change(s) significantly beyond tolerance "
            f"({numbers.percent(tol)}; ratios {numbers.significant(ratio_tol)} pp): {shown}{more}."
        )
    extra = f"; {len(better)} significantly better" if len(better) else ""
    if len(unsure):
        why = "; ".join(table_.attrs.get("health_differences") or []) or "see the table"
        return (
            f"INCONCLUSIVE: nothing conclusively worse, but {len(unsure)} verdict(s) could "
            f"not be reached because the measuring side differed ({why}){extra}; re-run "
            "both on a quiet machine or with --repeat."
        )
    return (
        f"NO REGRESSION: nothing significantly worse than the {numbers.percent(tol)} "
        f"tolerance{extra}."
    )


def compare_document(
    baseline: Sequence[RunFolder], candidate: Sequence[RunFolder], table_: pd.DataFrame
) -> dict[str, Any]:
    records = table_.to_dict(orient="records")
    return {
        "schema": "gwsload.compare/1",
        "baseline": baseline[0].run_id,
        "candidate": candidate[0].run_id,
        "baseline_runs": [run.run_id for run in baseline],
        "candidate_runs": [run.run_id for run in candidate],
        "labels": labels_line(baseline, candidate),
        "method": table_.attrs.get("method"),
        "health_differences": table_.attrs.get("health_differences") or [],
        "sentences": operation_sentences(table_),
        "exit_code": exit_code(table_),
        "window_s": table_.attrs.get("window_s"),
        "tolerance": table_.attrs.get("tolerance"),
        "min_change_ms": table_.attrs.get("min_change_ms"),
        "ratio_tolerance": table_.attrs.get("ratio_tolerance"),
        "verdict": compare_verdict(table_),
        "regression": bool((table_["verdict"] == "worse").any()),
        "inconclusive": bool((table_["verdict"] == "inconclusive").any()),
        "rows": [
            {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
            for r in records
        ],
    }


def _overlays(baseline: RunFolder, candidate: RunFolder) -> str:
    images = []
    for metric, title in (("notify", "Notification latency"), ("response", "HTTP response")):
        spectra = {}
        for label, run in (("baseline", baseline), ("candidate", candidate)):
            counts = [h.counts for h in latency_histograms(run) if h.metric == metric]
            if counts:
                spectra[label] = compute_spectrum(sum(counts[1:], counts[0].copy()))
        ax = plots.plot_percentile_spectrum(spectra)
        ax.set_title(f"{title}, all operations: percentile spectrum")
        images.append(figure_png(ax))
    window = choose_window_s(max(baseline.end_s, candidate.end_s))
    ax_rate, ax_p99 = plots.new_axes(), plots.new_axes()
    for label, run in (("baseline", baseline), ("candidate", candidate)):
        series = compute_time_series(run, window)
        pooled = series[series["operation"] == ALL]
        ax_rate.plot(pooled["window_s"], pooled["ops_per_s"], label=label, drawstyle="steps-post")
        ax_p99.plot(
            pooled["window_s"], pooled["notify_ms_p99"], label=label, drawstyle="steps-post"
        )
    for ax, title, unit in (
        (ax_rate, "Throughput", "ops/s"),
        (ax_p99, "Notification p99 per window", "ms"),
    ):
        ax.set_title(title)
        ax.set_ylabel(unit)
        ax.set_xlabel("time since start (s)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
        images.append(figure_png(ax))
    return f'<div class="grid">{"".join(images[:2])}</div>{"".join(images[2:])}'


def render_compare(
    baseline: Sequence[RunFolder], candidate: Sequence[RunFolder], table_: pd.DataFrame
) -> str:
    verdict = compare_verdict(table_)
    shown = table_.copy()
    for column in ("change", "ci_low", "ci_high", "detectable"):
        shown[column] = [
            format_change(v, kind) if column != "detectable" else format_change(v, kind).lstrip("+")
            for v, kind in zip(shown[column], shown["change_kind"], strict=True)
        ]
    shown["run_sd"] = [
        "" if not math.isfinite(v) else format_change(v, kind).lstrip("+")
        for v, kind in zip(shown["run_sd"], shown["change_kind"], strict=True)
    ]
    for column in ("baseline", "candidate"):
        shown[column] = [
            numbers.percent(v) if kind == "absolute" and math.isfinite(v) else v
            for v, kind in zip(shown[column], shown["change_kind"], strict=True)
        ]
    shown = shown.drop(columns=["change_kind"])
    shown = shown.rename(
        columns={"ci_low": "95% CI low", "ci_high": "95% CI high", "run_sd": "run-to-run sd"}
    )
    css_of = {"worse": "bad", "better": "good", "inconclusive": "warning"}
    classes = {i: css_of[v] for i, v in enumerate(table_["verdict"]) if v in css_of}
    css = {0: "pass", 1: "fail"}.get(exit_code(table_), "none")
    ratio_tolerance = numbers.significant(table_.attrs.get("ratio_tolerance", 0.001) * 100)
    min_change = numbers.latency_ms(table_.attrs.get("min_change_ms", 1.0))
    method = table_.attrs.get("method", "bootstrap over windows")
    environment = "\n".join(environment_lines(baseline, candidate))
    sections = [
        "<h1>gwsload compare</h1>",
        f'<p class="meta">{html.escape(labels_line(baseline, candidate))}; {method} '
        f"({len(baseline)} + {len(candidate)} runs, "
        f"{numbers.significant(table_.attrs.get('window_s', 0))}-s windows of the measured "
        f"periods), tolerance {numbers.percent(table_.attrs.get('tolerance', 0.1))}.</p>",
        f'<div class="verdict {css}">{html.escape(verdict)}</div>',
        "<h2>Per operation</h2>",
        "<ul>"
        + "".join(f"<li>{html.escape(t)}</li>" for t in operation_sentences(table_))
        + "</ul>",
        "<h2>Changes</h2>",
        '<p class="meta">change = candidate / baseline - 1 (values in ms, throughput in '
        "ops/s); for error and lost ratios, candidate - baseline in percentage points (pp), "
        f"tolerance {ratio_tolerance} pp. "
        "worse: the whole 95% interval lies beyond the tolerance on the bad side "
        f"(and a latency moved by at least {min_change}); "
        "better: the same on the good side; inconclusive: the measuring side's health "
        "differed (reason column); otherwise same. detectable: the smallest change these "
        "runs could have called.</p>",
        table(shown, classes=classes),
        "<h2>Environment</h2>",
        f"<pre>{html.escape(environment)}</pre>",
        "<h2>Overlaid (first run of each side)</h2>",
        _overlays(baseline[0], candidate[0]),
    ]
    return page(f"gwsload compare {baseline[0].run_id} vs {candidate[0].run_id}", sections)
