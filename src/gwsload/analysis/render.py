"""HTML for ``report.html`` and ``compare.html``: one self-contained page, PNGs inlined.

Pure: returns strings. ``report.py`` is the module that writes them to disk.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import pandas as pd

from gwsload.analysis import plots, plots_time
from gwsload.analysis.attribution import breach_note
from gwsload.analysis.bands import compute_bands
from gwsload.analysis.environment import environment_html
from gwsload.analysis.markup import figure_png, page, table
from gwsload.analysis.metrics import (
    ALL,
    compute_spectrum,
    compute_users,
    latency_histograms,
    number,
)
from gwsload.analysis.outages import outages
from gwsload.analysis.render_load import load_section, plot_profile, sessions_section
from gwsload.analysis.slo import format_value
from gwsload.analysis.summary import RunAnalysis
from gwsload.contract import numbers
from gwsload.contract.saturation import LOOP_LAG_MS

__all__ = ["figure_png", "page", "render_report", "table"]

_LAG = numbers.latency_ms(LOOP_LAG_MS)


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
                        for stat in ("min", "p50", "p90", "p95", "p99", "p99.9", "max", "mean")
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
    cooldown = run.measure_end_s if run.measure_end_s < run.end_s else None
    users = compute_users(run.generator, analysis.window_s) if len(run.generator) else None
    figure = plots_time.time_series_figure(
        series,
        users=users,
        anomalies=run.anomalies,
        incidents=run.incidents,
        window_s=analysis.window_s,
        warmup_s=run.warmup_s,
        cooldown_s=cooldown,
        end_s=run.end_s,
        split=analysis.split_series,
    )
    image = figure_png(figure, alt="Over time: users, throughput, latency, errors")
    shaded = "warm-up hatched" + (" and sign-off hatched" if cooldown is not None else "")
    window = numbers.duration_s(analysis.window_s)
    split = analysis.latency_split
    over_time = (
        f"server time vs delivery split at the run's clock offset, every figure ± "
        f"{numbers.latency_ms(split.uncertainty_ms)}"
        if analysis.split_series is not None and len(analysis.split_series)
        else f"server time vs delivery over time: {split.reason}"
    )
    text = (
        f'<p class="meta">Windows of {window} on one time axis; {shaded}; '
        f"incidents as dashed lines by kind; {html.escape(over_time)}.</p>"
    )
    incidents = run.incidents
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
    return image + text


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
    # a display histogram: an even sample of at most DISPLAY_SAMPLE measured values,
    # kept while the events streamed
    digest = analysis.run.digest
    sample = digest.display_sample()
    codes = sample["op"]
    names = list(enumerate(digest.operations))
    for column, title in (("notify_ms", "Notification latency"), ("response_ms", "HTTP response")):
        values = sample[column]
        per_op = {str(name): values[codes == code] for code, name in names if (codes == code).any()}
        ax = plots.plot_latency_histogram(per_op)
        ax.set_title(f"{title} histogram")
        images.append(figure_png(ax))
    order = sample["notify_ms"] - sample["response_ms"]
    images.append(figure_png(plots.plot_notify_after_response(order)))
    share = analysis.notify_order["notification_first_ratio"]
    text = (
        f"<p>The notification arrived before the HTTP response for "
        f"{_pct(float(share))} of operations (both orders are normal).</p>"
    )
    return f'<div class="grid">{"".join(images)}</div>{text}'


def _nodes_section(analysis: RunAnalysis) -> str:
    nodes = analysis.nodes
    if nodes is None:
        return ""
    shown = nodes.copy()
    for column in ("notify_p50_ms", "notify_p99_ms", "response_p99_ms"):
        shown[column] = [numbers.latency_ms(float(v)) for v in shown[column]]
    shown.columns = [
        "node", "operations", "ok", "errors", "lost", "late", "duplicate", "notify p50",
        "notify p99", "response p99",
    ]  # fmt: skip
    return (
        "<h2>Per node</h2>"
        '<p class="meta">Measured period; an operation counts for the node that answered its '
        "request (X-Gwsload-Node), a late or duplicate notification for its operation's "
        "node; <code>-</code>: no response.</p>" + table(shown)
    )


def _latency_split_section(analysis: RunAnalysis) -> str:
    split = analysis.latency_split
    text = f'<p class="meta">{html.escape(split.sentence)}</p>'
    if not split.available:
        return text
    shown = split.per_operation.copy()
    plus_minus = f" ± {numbers.latency_ms(split.uncertainty_ms)}"
    for column in ("server_p50_ms", "server_p99_ms", "delivery_p50_ms", "delivery_p99_ms"):
        shown[column] = [numbers.latency_ms(float(v)) + plus_minus for v in shown[column]]
    shown.columns = [
        "operation", "count", "server p50", "server p99", "delivery p50", "delivery p99",
    ]  # fmt: skip
    return (
        text + '<p class="meta">Server time: request sent to notification generated '
        "(GWS serverGenerationTimestamp); delivery: generated to arrived.</p>" + table(shown)
    )


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
        f"{numbers.significant(analysis.window_s)}-s windows after warm-up, for the target; "
        "the load generator's and the simulator's own drift is a harness finding, under "
        f"Validity.</p><ul>{items}</ul>"
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


def _sessions_html(analysis: RunAnalysis) -> str:
    frame = sessions_section(analysis.run)
    if frame is None:
        return (
            "<p>No setup or session steps in this run folder (recorded in "
            "<code>sessions/</code> by newer versions).</p>"
        )
    classes = {i: "bad" for i, n in enumerate(frame["failed"]) if n}
    return (
        '<p class="meta">Whole run (setup happens during ramp-up and sign-off, outside the '
        "measured period); HTTP response time (ms) of each REST step, and the time to "
        "the CometD handshake reply.</p>"
        + table(frame, classes=classes)
        + _throttled_html(analysis)
    )


def _throttled_html(analysis: RunAnalysis) -> str:
    counts = analysis.throttled
    if not any(counts.values()):
        return ""
    return (
        f"<p>Throttled by the target (HTTP 429/503 with Retry-After; the agent waited that "
        f"long before its next request), whole run: {numbers.count(counts['operations'])} "
        f"recording operations, {numbers.count(counts['session_steps'])} setup and session "
        "steps.</p>"
    )


def _bands_html(analysis: RunAnalysis) -> str:
    bands = compute_bands(analysis.run, analysis.headline)
    shown = bands.copy()
    shown["operation"] = ["all operations" if o == ALL else o for o in shown["operation"]]
    totals = bands["operations"].to_numpy()
    for column in bands.columns[2:]:
        shown[column] = [
            f"{numbers.count(n)} ({numbers.percent(n / t)})" if t else "0"
            for n, t in zip(bands[column], totals, strict=True)
        ]
    return (
        table(shown, classes={len(shown) - 1: "total"})
        + '<p class="meta">Notification latency of the operations of the measured period; '
        "failed = no notification (errors and lost). Edges from the scenario's "
        "<code>[report] latency_bands_ms</code>.</p>"
    )


def _locust_link(locust_href: str | None) -> str:
    if locust_href is None:
        return ""
    return (
        f'<p>Locust\'s own report of this run: <a href="{html.escape(locust_href)}">'
        f"{html.escape(locust_href)}</a>.</p>"
    )


def render_report(analysis: RunAnalysis, *, locust_href: str | None = None) -> str:
    """The complete ``report.html`` of one run; ``locust_href`` links Locust's report."""
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
        load_section(analysis.run, figure_png(plot_profile(analysis.run))),
        "<h2>Headline (measured period)</h2>",
        _headline_table(analysis),
        "<h3>Latency bands</h3>",
        _bands_html(analysis),
        "<h3>Setup and session operations</h3>",
        _sessions_html(analysis),
        _capacity_section(analysis),
        "<h2>Over time</h2>",
        _time_section(analysis),
        "<h2>Distributions</h2>",
        _distribution_section(analysis),
        "<h2>Server time vs delivery</h2>",
        _latency_split_section(analysis),
        _nodes_section(analysis),
        "<h2>Outcome accounting</h2>",
        '<p class="meta">Measured period; share of operations. Late, duplicate and unexpected '
        "are notifications, counted apart from operations.</p>",
        table(outcomes),
        _drift_section(analysis),
        environment_html(analysis.run),
        _locust_link(locust_href),
    ]
    return page(f"gwsload report {analysis.run.run_id}", sections)
