"""HTML and JSON of ``gwsload compare``: verdict table and overlaid plots."""

from __future__ import annotations

import html
import math
from typing import Any

import pandas as pd

from gwsload.analysis import plots
from gwsload.analysis.load import RunFolder
from gwsload.analysis.metrics import (
    ALL,
    choose_window_s,
    compute_spectrum,
    compute_time_series,
    latency_histograms,
    number,
)
from gwsload.analysis.render import figure_png, page, table
from gwsload.contract import numbers

__all__ = ["compare_document", "compare_verdict", "format_change", "render_compare"]


def format_change(value: float, kind: str) -> str:
    if not math.isfinite(value):
        return "n/a"
    if kind == "absolute":
        return numbers.signed(value * 100, "pp")
    return numbers.signed(value * 100, "%")


def compare_verdict(table_: pd.DataFrame) -> str:
    """One sentence: regression or not, and which rows."""
    worse = table_[table_["verdict"] == "worse"]
    better = table_[table_["verdict"] == "better"]
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
    return (
        f"NO REGRESSION: nothing significantly worse than the {numbers.percent(tol)} "
        f"tolerance{extra}."
    )


def compare_document(
    baseline: RunFolder, candidate: RunFolder, table_: pd.DataFrame
) -> dict[str, Any]:
    records = table_.to_dict(orient="records")
    return {
        "schema": "gwsload.compare/1",
        "baseline": baseline.run_id,
        "candidate": candidate.run_id,
        "window_s": table_.attrs.get("window_s"),
        "tolerance": table_.attrs.get("tolerance"),
        "min_change_ms": table_.attrs.get("min_change_ms"),
        "ratio_tolerance": table_.attrs.get("ratio_tolerance"),
        "verdict": compare_verdict(table_),
        "regression": bool((table_["verdict"] == "worse").any()),
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


def render_compare(baseline: RunFolder, candidate: RunFolder, table_: pd.DataFrame) -> str:
    verdict = compare_verdict(table_)
    shown = table_.copy()
    for column in ("change", "ci_low", "ci_high"):
        shown[column] = [
            format_change(v, kind)
            for v, kind in zip(shown[column], shown["change_kind"], strict=True)
        ]
    for column in ("baseline", "candidate"):
        shown[column] = [
            numbers.percent(v) if kind == "absolute" and math.isfinite(v) else v
            for v, kind in zip(shown[column], shown["change_kind"], strict=True)
        ]
    shown = shown.drop(columns=["change_kind"])
    shown = shown.rename(columns={"ci_low": "95% CI low", "ci_high": "95% CI high"})
    classes = {
        i: ("bad" if v == "worse" else "good")
        for i, v in enumerate(table_["verdict"])
        if v != "same"
    }
    css = "fail" if (table_["verdict"] == "worse").any() else "pass"
    window = numbers.significant(table_.attrs.get("window_s", 0))
    ratio_tolerance = numbers.significant(table_.attrs.get("ratio_tolerance", 0.001) * 100)
    min_change = numbers.latency_ms(table_.attrs.get("min_change_ms", 1.0))
    sections = [
        "<h1>gwsload compare</h1>",
        f'<p class="meta">baseline <b>{html.escape(baseline.run_id)}</b> &rarr; candidate '
        f"<b>{html.escape(candidate.run_id)}</b>; bootstrap over "
        f"{window}-s windows of the measured periods, "
        f"tolerance {numbers.percent(table_.attrs.get('tolerance', 0.1))}.</p>",
        f'<div class="verdict {css}">{html.escape(verdict)}</div>',
        "<h2>Changes</h2>",
        '<p class="meta">change = candidate / baseline - 1 (values in ms, throughput in '
        "ops/s); for error and lost ratios, candidate - baseline in percentage points (pp), "
        f"tolerance {ratio_tolerance} pp. "
        "worse: the whole 95% interval lies beyond the tolerance on the bad side "
        f"(and a latency moved by at least {min_change}); "
        "better: the same on the good side; otherwise same.</p>",
        table(shown, classes=classes),
        "<h2>Overlaid</h2>",
        _overlays(baseline, candidate),
    ]
    return page(f"gwsload compare {baseline.run_id} vs {candidate.run_id}", sections)
