"""HTML for ``report.html`` and ``compare.html``: one self-contained page, PNGs inlined.

Pure: returns strings. ``report.py`` is the module that writes them to disk.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from gwsload.analysis import plots
from gwsload.analysis.attribution import breach_note
from gwsload.analysis.environment import environment_html
from gwsload.analysis.metrics import (
    ALL,
    compute_spectrum,
    compute_users,
    latency_histograms,
    measured_mask,
    number,
)
from gwsload.analysis.outages import outages
from gwsload.analysis.slo import format_value
from gwsload.analysis.summary import RunAnalysis
from gwsload.contract import numbers
from gwsload.contract.saturation import LOOP_LAG_MS

__all__ = ["figure_png", "page", "render_report", "table"]

_HISTOGRAM_SAMPLE = 1_000_000
_LAG = numbers.latency_ms(LOOP_LAG_MS)
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;
max-width:1100px;color:#222;line-height:1.4;padding:0 16px}
h1{font-size:1.5em;margin-bottom:4px}h2{border-bottom:2px solid #ddd;padding-bottom:4px;
margin-top:32px}
.meta{color:#555;font-size:.9em}.verdict{padding:12px 16px;border-radius:6px;font-size:1.15em;
font-weight:600;margin:16px 0}
.pass{background:#e3f5e1;border-left:6px solid #2e7d32}.fail{background:#fde4e1;
border-left:6px solid #c62828}
.none{background:#eef0f3;border-left:6px solid #78909c}
.warning{background:#fff6d6;border-left:4px solid #f0b400;padding:6px 10px;margin:6px 0}
.note{background:#f3f5f8;border-left:4px solid #90a4ae;padding:6px 10px;margin:6px 0}
table{border-collapse:collapse;margin:8px 0;font-size:.88em}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:right}
th{background:#f3f5f8}td:first-child,th:first-child{text-align:left}
td.text{text-align:left}.bad{color:#c62828;font-weight:600}.good{color:#2e7d32}
img{max-width:100%;display:block;margin:8px 0}.grid{display:flex;flex-wrap:wrap;gap:8px}
.grid img{max-width:540px}tr.total td{font-weight:600;background:#fafbfc}
table{display:block;overflow-x:auto;max-width:100%}
"""


def figure_png(ax: Axes) -> str:
    """The Axes' figure as an ``<img>`` with an inline base64 PNG."""
    buffer = io.BytesIO()
    figure = ax.get_figure(root=True)
    assert isinstance(figure, Figure)  # every Axes made by plots.new_axes has one
    figure.savefig(buffer, format="png", dpi=100)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    title = html.escape(ax.get_title() or "plot")
    return f'<img alt="{title}" src="data:image/png;base64,{encoded}">'


def _cell(value: object) -> str:
    if isinstance(value, float | np.floating):
        return numbers.significant(float(value), 4)
    if isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_):
        return numbers.count(int(value))
    if isinstance(value, list):
        return "<br>".join(html.escape(str(v)) for v in value)
    return html.escape(str(value))


def table(frame: pd.DataFrame, *, classes: dict[int, str] | None = None) -> str:
    """A plain HTML table of ``frame`` (index not shown). ``classes``: row -> CSS class."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = []
    for i, row in enumerate(frame.itertuples(index=False)):
        css = f' class="{classes[i]}"' if classes and i in classes else ""
        cells = "".join(
            f'<td class="text">{_cell(v)}</td>'
            if isinstance(v, str | list)
            else f"<td>{_cell(v)}</td>"
            for v in row
        )
        body.append(f"<tr{css}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def page(title: str, sections: Iterable[str]) -> str:
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        + "\n".join(sections)
        + "</body></html>\n"
    )


def _pct(value: float) -> str:
    return numbers.percent(value)


def _headline_table(analysis: RunAnalysis) -> str:
    frame = analysis.headline.reset_index()
    names = ["all operations" if o == ALL else str(o) for o in frame["operation"]]
    counts = pd.DataFrame(
        {
            "operation": names,
            "operations": frame["operations"],
            "ops/s": frame["ops_per_s"],
            "errors": [_pct(v) for v in frame["error_ratio"]],
            "lost": [_pct(v) for v in frame["lost_ratio"]],
            "late": frame["late"],
            "duplicate": frame["duplicate"],
            "unexpected": frame["unexpected"],
        }
    )
    metrics = {"notify_ms": "notification", "response_ms": "HTTP response"}
    if analysis.run.workload_model == "open":
        metrics["notify_from_intended_ms"] = "notification from schedule"
    rows = []
    for name, (_, row) in zip(names, frame.iterrows(), strict=True):
        for metric, label in metrics.items():
            rows.append(
                {
                    "operation": name,
                    "latency (ms)": label,
                    **{
                        stat: row[f"{metric}_{stat}"]
                        for stat in ("p50", "p90", "p99", "p99.9", "max", "mean")
                    },
                }
            )
    classes = {i: "total" for i, r in enumerate(rows) if r["operation"] == "all operations"}
    note = (
        '<p class="meta">Latencies from the HDR histograms, 3 significant digits. '
        "Notification latency is measured from the request send"
        + (
            "; from schedule = from the intended start (coordinated-omission corrected)"
            if len(metrics) == 3
            else ""
        )
        + ".</p>"
    )
    return (
        table(counts, classes={len(counts) - 1: "total"})
        + table(pd.DataFrame(rows), classes=classes)
        + note
    )


def _slo_section(analysis: RunAnalysis) -> str:
    if not len(analysis.slo_results):
        return "<p>No SLOs in the scenario: nothing to sign off.</p>"
    results = analysis.slo_results
    frame = pd.DataFrame(
        {
            "objective": results["label"],
            "measured": [
                format_value(m, number(v))
                for m, v in zip(results["metric"], results["value"], strict=True)
            ],
            "result": [
                "pass"
                if p
                else "FAIL"
                + (f" ({breach_note(analysis.breaches[n])})" if n in analysis.breaches else "")
                for p, n in zip(results["passed"], results["name"], strict=True)
            ],
        }
    )
    classes = {i: "bad" for i, p in enumerate(analysis.slo_results["passed"]) if not p}
    return table(frame, classes=classes)


def _time_section(analysis: RunAnalysis) -> str:
    run, series = analysis.run, analysis.series
    warmup, incidents = run.warmup_s, run.incidents
    cooldown = run.measure_end_s if run.measure_end_s < run.end_s else None
    users = compute_users(run.generator, analysis.window_s) if len(run.generator) else None
    images = [
        figure_png(
            plots.plot_throughput(
                series, users=users, warmup_s=warmup, incidents=incidents, cooldown_s=cooldown
            )
        ),
        *(
            figure_png(
                plots.plot_latency_over_time(
                    series, metric=metric, warmup_s=warmup, incidents=incidents, cooldown_s=cooldown
                )
            )
            for metric in ("notify_ms", "response_ms")
        ),
        figure_png(
            plots.plot_errors_over_time(
                series,
                anomalies=run.anomalies,
                window_s=analysis.window_s,
                warmup_s=warmup,
                incidents=incidents,
                cooldown_s=cooldown,
            )
        ),
    ]
    incidents = run.incidents
    shaded = "warm-up" + (" and sign-off (hatched)" if cooldown is not None else "")
    window = numbers.duration_s(analysis.window_s)
    text = f'<p class="meta">Windows of {window}; shaded: {shaded}.</p>'
    if len(incidents):
        counts = incidents.groupby("kind").agg(
            count=("t_s", "size"), first_s=("t_s", "min"), downtime_ms=("duration_ms", "sum")
        )
        text += "<h3>Incidents</h3>"
        for outage in outages(analysis.run):
            text += f"<p>{html.escape(outage.line())}</p>"
        text += table(counts.reset_index())
    else:
        text += "<p>No incidents (reconnects, re-handshakes, transport errors) recorded.</p>"
    return "".join(images) + text


def _distribution_section(analysis: RunAnalysis) -> str:
    histograms = latency_histograms(analysis.run)
    images = []
    for metric, title in (("notify", "Notification latency"), ("response", "HTTP response")):
        spectra = {
            h.operation: compute_spectrum(h.counts) for h in histograms if h.metric == metric
        }
        if spectra:
            ax = plots.plot_percentile_spectrum(spectra)
            ax.set_title(f"{title}: percentile spectrum")
            images.append(figure_png(ax))
    events = analysis.run.events
    mask = measured_mask(analysis.run)
    # a display histogram: an even sample of at most _HISTOGRAM_SAMPLE values
    step = max(1, int(mask.sum()) // _HISTOGRAM_SAMPLE)
    sample = np.flatnonzero(mask[::step]) * step
    codes = events["operation"].cat.codes.to_numpy()[sample]
    names = list(enumerate(events["operation"].cat.categories))
    for column, title in (("notify_ms", "Notification latency"), ("response_ms", "HTTP response")):
        values = events[column].to_numpy()[sample]
        per_op = {str(name): values[codes == code] for code, name in names if (codes == code).any()}
        ax = plots.plot_latency_histogram(per_op)
        ax.set_title(f"{title} histogram")
        images.append(figure_png(ax))
    order = events["notify_after_response_ms"].to_numpy()[sample]
    images.append(figure_png(plots.plot_notify_after_response(order)))
    share = analysis.notify_order["notification_first_ratio"]
    text = (
        f"<p>The notification arrived before the HTTP response for "
        f"{_pct(float(share))} of operations (both orders are normal).</p>"
    )
    return f'<div class="grid">{"".join(images)}</div>{text}'


def _findings(analysis: RunAnalysis) -> str:
    return "".join(
        f'<div class="{f.severity}">{html.escape(f.text)}</div>' for f in analysis.findings
    )


def _capacity_section(analysis: RunAnalysis) -> str:
    capacity = analysis.capacity
    if capacity is None:
        return ""
    columns = {
        "step": "step",
        "users": "users",
        "offered": "offered load",
        "ops_per_s": "achieved ops/s",
        "efficiency": "scaling efficiency",
        "notify_ms_p50": "notify p50 (ms)",
        "notify_ms_p90": "notify p90 (ms)",
        "notify_ms_p99": "notify p99 (ms)",
        "response_ms_p99": "HTTP p99 (ms)",
        "error_ratio": "errors",
        "lost_ratio": "lost",
        "slo_ok": "SLOs hold",
        "generator_lag_share": f"generator lag > {_LAG}",
        "simulator_lag_share": f"simulator lag > {_LAG}",
        "limited_by": "limited by",
    }
    steps = capacity.steps[list(columns)].rename(columns=columns)
    for column in (f"generator lag > {_LAG}", f"simulator lag > {_LAG}"):
        steps[column] = [_pct(float(v)) for v in steps[column]]
    if capacity.steps["simulator_lag_share"].isna().all():  # external target: no simulator.csv
        steps = steps.drop(columns=[f"simulator lag > {_LAG}"])
    steps["errors"] = [_pct(float(v)) for v in steps["errors"]]
    steps["lost"] = [_pct(float(v)) for v in steps["lost"]]
    steps["SLOs hold"] = ["yes" if ok else "no" for ok in capacity.steps["slo_ok"]]
    # a step someone limited: failing (the target) or saturated (a measuring process)
    classes = {i: "bad" for i, by in enumerate(capacity.steps["limited_by"]) if by != "none"}
    image = figure_png(plots.plot_capacity(capacity.steps, capacity_step=capacity.capacity_step))
    return (
        f'<h2>Capacity</h2><div class="verdict none">{html.escape(capacity.sentence)}'
        f"</div>{table(steps, classes=classes)}{image}"
    )


def _drift_section(analysis: RunAnalysis) -> str:
    if not analysis.drift:
        return (
            "<h2>Drift</h2><p>Not tested: the measured period is under 10 minutes, too "
            "short to tell drift from start-up effects.</p>"
        )
    items = "".join(
        f'<li class="{"bad" if d.drifting else ""}">{html.escape(d.sentence)}</li>'
        for d in analysis.drift
    )
    return (
        f'<h2>Drift</h2><p class="meta">Mann-Kendall trend test and Theil-Sen slope over '
        f"{numbers.significant(analysis.window_s)}-s windows after warm-up.</p><ul>{items}</ul>"
    )


def _meta(analysis: RunAnalysis) -> str:
    m = analysis.run.manifest
    target = m.get("target") or {}
    facts = [
        ("scenario", (m.get("scenario") or {}).get("name") or m.get("scenario_file")),
        ("status", m.get("status")),
        ("started", m.get("started_utc")),
        ("duration", numbers.duration_s(round(analysis.run.end_s))),
        ("target", f"{target.get('kind', '?')} {target.get('url', '')}"),
        ("transport", m.get("transport")),
        ("workload", analysis.run.workload_model),
        ("workers", m.get("workers")),
        ("gwsload", (m.get("versions") or {}).get("gwsload")),
        ("git", m.get("git_revision")),
    ]
    return (
        '<p class="meta">'
        + " &middot; ".join(f"{k}: <b>{html.escape(str(v))}</b>" for k, v in facts if v is not None)
        + "</p>"
    )


def render_report(analysis: RunAnalysis) -> str:
    """The complete ``report.html`` of one run."""
    verdict_class = analysis.verdict
    outcomes = analysis.outcomes.copy()
    outcomes["share"] = [_pct(float(v)) for v in outcomes["share"]]
    sections: Sequence[str] = [
        f"<h1>gwsload report: {html.escape(analysis.run.run_id)}</h1>",
        _meta(analysis),
        f'<div class="verdict {verdict_class}">{html.escape(analysis.verdict_sentence)}</div>',
        "<h2>Service-level objectives</h2>",
        _slo_section(analysis),
        "<h2>Validity</h2>",
        _findings(analysis),
        "<h2>Headline (measured period)</h2>",
        _headline_table(analysis),
        _capacity_section(analysis),
        "<h2>Over time</h2>",
        _time_section(analysis),
        "<h2>Distributions</h2>",
        _distribution_section(analysis),
        "<h2>Outcome accounting</h2>",
        '<p class="meta">Measured period; share of operations. Late, duplicate and unexpected '
        "are notifications, counted apart from operations.</p>",
        table(outcomes),
        _drift_section(analysis),
        environment_html(analysis.run),
    ]
    return page(f"gwsload report {analysis.run.run_id}", sections)
