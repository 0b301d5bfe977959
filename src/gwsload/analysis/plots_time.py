"""Time-series plots on one shared time axis: ``plot_*(series, *, ax=None) -> Axes``.

Time is seconds since the run start; warm-up and sign-off are hatched, incidents
are dashed vertical lines coloured by kind. :func:`time_series_figure` stacks them
in one figure with a shared x axis, so every panel lines up with the others.
"""

from __future__ import annotations

from typing import Any, TypedDict

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from gwsload.analysis.plots import (
    finite_range,
    legend_outside,
    ms_log_axis,
    new_axes,
    operation_colour,
)

__all__ = [
    "INCIDENT_COLOURS",
    "plot_errors_over_time",
    "plot_latency_over_time",
    "plot_p99_per_operation",
    "plot_split_over_time",
    "plot_stage_profile",
    "plot_throughput",
    "plot_users",
    "time_series_figure",
]

INCIDENT_COLOURS = {
    "reconnect": "tab:orange",
    "rehandshake": "tab:red",
    "transport_error": "tab:purple",
    "listener_gap": "tab:brown",
    "worker_lost": "black",
    "worker_saturated": "tab:pink",
    "target_unreachable": "tab:red",
    "relogin": "tab:olive",
    "setup_error": "tab:cyan",
}


def _time_decorations(
    ax: Axes,
    warmup_s: float,
    incidents: pd.DataFrame | None,
    cooldown_s: float | None = None,
    *,
    end_s: float | None = None,
    labelled: bool = True,
) -> None:
    """Hatched warm-up and sign-off regions; incidents as dashed lines by kind."""
    right = end_s if end_s is not None else ax.get_xlim()[1]
    if warmup_s > 0:
        ax.axvspan(
            0,
            warmup_s,
            facecolor="0.93",
            edgecolor="0.7",
            hatch="\\\\",
            lw=0,
            zorder=0,
            label="warm-up" if labelled else None,
        )
    if cooldown_s is not None and cooldown_s < right:
        ax.axvspan(
            cooldown_s,
            right,
            facecolor="0.93",
            edgecolor="0.7",
            hatch="//",
            lw=0,
            zorder=0,
            label="sign-off" if labelled else None,
        )
    if incidents is not None and len(incidents):
        for kind, group in incidents.groupby("kind"):
            colour = INCIDENT_COLOURS.get(str(kind), "tab:gray")
            for i, t in enumerate(group["t_s"]):
                ax.axvline(
                    float(t),
                    color=colour,
                    lw=0.8,
                    ls="--",
                    alpha=0.8,
                    label=str(kind) if i == 0 and labelled else None,
                )
    if end_s is not None:
        ax.set_xlim(0, end_s)
    ax.set_xlabel("time since start (s)")
    ax.grid(True, alpha=0.3)


def _pooled(series: pd.DataFrame) -> pd.DataFrame:
    return series[series["operation"] == "*"].sort_values("window_s")


def plot_throughput(
    series: pd.DataFrame,
    *,
    warmup_s: float = 0.0,
    incidents: pd.DataFrame | None = None,
    cooldown_s: float | None = None,
    end_s: float | None = None,
    labelled: bool = True,
    ax: Axes | None = None,
) -> Axes:
    """Ops/s per window (all and per operation)."""
    ax = ax or new_axes()
    for operation, unsorted in series.groupby("operation"):
        group = unsorted.sort_values("window_s")
        pooled = operation == "*"
        ax.plot(
            group["window_s"],
            group["ops_per_s"],
            lw=1.8 if pooled else 0.9,
            color=operation_colour(str(operation)),
            label="all operations" if pooled else str(operation),
            drawstyle="steps-post",
        )
    ax.set_ylabel("ops/s")
    ax.set_ylim(bottom=0)
    _time_decorations(ax, warmup_s, incidents, cooldown_s, end_s=end_s, labelled=labelled)
    legend_outside(ax)
    ax.set_title("Throughput")
    return ax


def plot_users(
    users: pd.DataFrame,
    *,
    warmup_s: float = 0.0,
    incidents: pd.DataFrame | None = None,
    cooldown_s: float | None = None,
    end_s: float | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Users running per window (summed over workers)."""
    ax = ax or new_axes()
    ax.plot(
        users["t_s"], users["users"], color="0.3", lw=1.2, label="users", drawstyle="steps-post"
    )
    ax.set_ylim(bottom=0, top=max(1.0, float(users["users"].max()) * 1.15))
    ax.set_ylabel("users")
    _time_decorations(ax, warmup_s, incidents, cooldown_s, end_s=end_s)
    legend_outside(ax)
    ax.set_title("Users")
    return ax


def plot_latency_over_time(
    series: pd.DataFrame,
    *,
    metric: str = "notify_ms",
    warmup_s: float = 0.0,
    incidents: pd.DataFrame | None = None,
    cooldown_s: float | None = None,
    end_s: float | None = None,
    labelled: bool = True,
    ax: Axes | None = None,
) -> Axes:
    """p50/p90/p99 of ``metric`` per window, all operations pooled, log scale."""
    ax = ax or new_axes()
    pooled = _pooled(series)
    columns = [f"{metric}_{stat}" for stat in ("p50", "p90", "p99")]
    for column, stat, style in zip(columns, ("p50", "p90", "p99"), ("-", "--", "-"), strict=True):
        ax.plot(
            pooled["window_s"],
            pooled[column],
            ls=style,
            lw=1.8 if stat == "p99" else 1.0,
            label=stat,
            drawstyle="steps-post",
        )
    ax.set_yscale("log")
    ms_log_axis(ax.yaxis, *finite_range(*(pooled[c] for c in columns)))
    ax.set_ylabel("ms")
    _time_decorations(ax, warmup_s, incidents, cooldown_s, end_s=end_s, labelled=labelled)
    legend_outside(ax)
    name = "Notification latency" if metric == "notify_ms" else "HTTP response time"
    ax.set_title(f"{name} per window, all operations")
    return ax


def plot_p99_per_operation(
    series: pd.DataFrame,
    *,
    metric: str = "notify_ms",
    warmup_s: float = 0.0,
    incidents: pd.DataFrame | None = None,
    cooldown_s: float | None = None,
    end_s: float | None = None,
    labelled: bool = True,
    ax: Axes | None = None,
) -> Axes:
    """p99 of ``metric`` per window, one line per operation, log scale."""
    ax = ax or new_axes()
    per_op = series[series["operation"] != "*"]
    for operation, unsorted in per_op.groupby("operation"):
        group = unsorted.sort_values("window_s")
        ax.plot(
            group["window_s"],
            group[f"{metric}_p99"],
            color=operation_colour(str(operation)),
            lw=1.1,
            label=str(operation),
            drawstyle="steps-post",
        )
    ax.set_yscale("log")
    ms_log_axis(ax.yaxis, *finite_range(per_op[f"{metric}_p99"]))
    ax.set_ylabel("ms")
    _time_decorations(ax, warmup_s, incidents, cooldown_s, end_s=end_s, labelled=labelled)
    legend_outside(ax)
    name = "Notification" if metric == "notify_ms" else "HTTP response"
    ax.set_title(f"{name} p99 per window, by operation")
    return ax


def plot_split_over_time(
    split: pd.DataFrame,
    *,
    warmup_s: float = 0.0,
    incidents: pd.DataFrame | None = None,
    cooldown_s: float | None = None,
    end_s: float | None = None,
    labelled: bool = True,
    ax: Axes | None = None,
) -> Axes:
    """Server time and delivery time p50/p99 per window (latency_split.split_over_time),
    log scale. A figure at or below 0 ms (possible within the split's uncertainty) has
    no place on a log axis and is left out."""
    ax = ax or new_axes()
    split = split.sort_values("window_s")
    columns = []
    for part, colour in (("server", "tab:green"), ("delivery", "tab:purple")):
        for stat in ("p50", "p99"):
            column = f"{part}_{stat}_ms"
            values = split[column].where(split[column] > 0)
            columns.append(values)
            ax.plot(
                split["window_s"],
                values,
                color=colour,
                ls="-" if stat == "p99" else "--",
                lw=1.6 if stat == "p99" else 1.0,
                label=f"{part} {stat}",
                drawstyle="steps-post",
            )
    ax.set_yscale("log")
    ms_log_axis(ax.yaxis, *finite_range(*columns))
    ax.set_ylabel("ms")
    _time_decorations(ax, warmup_s, incidents, cooldown_s, end_s=end_s, labelled=labelled)
    legend_outside(ax)
    ax.set_title("Server time vs delivery per window, all operations")
    return ax


def plot_errors_over_time(
    series: pd.DataFrame,
    *,
    anomalies: pd.DataFrame | None = None,
    window_s: float = 1.0,
    warmup_s: float = 0.0,
    incidents: pd.DataFrame | None = None,
    cooldown_s: float | None = None,
    end_s: float | None = None,
    labelled: bool = True,
    ax: Axes | None = None,
) -> Axes:
    """Errors, lost operations and late/duplicate/unexpected notifications per window."""
    ax = ax or new_axes()
    pooled = _pooled(series)
    ax.plot(
        pooled["window_s"],
        pooled["errors"],
        drawstyle="steps-post",
        label="errors",
        color="tab:red",
    )
    ax.plot(
        pooled["window_s"], pooled["lost"], drawstyle="steps-post", label="lost", color="tab:blue"
    )
    if anomalies is not None and len(anomalies):
        window = np.floor(anomalies["t_s"] / window_s) * window_s
        counts = anomalies.assign(window=window).groupby(["window", "kind"]).size()
        for kind, per_window in counts.groupby(level="kind"):
            ax.plot(
                per_window.index.get_level_values("window"),
                per_window.to_numpy(),
                "o",
                ms=3,
                label=str(kind),
            )
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(f"count per {window_s:g} s")
    ax.set_ylim(bottom=0, top=max(1.0, ax.get_ylim()[1]))
    _time_decorations(ax, warmup_s, incidents, cooldown_s, end_s=end_s, labelled=labelled)
    legend_outside(ax)
    ax.set_title("Errors, losses and stray notifications")
    return ax


def plot_stage_profile(
    stages: list[dict[str, Any]], *, end_s: float, warmup_s: float = 0.0, ax: Axes | None = None
) -> Axes:
    """The planned users over time: each stage ramps at its spawn rate, then holds."""
    ax = ax or new_axes(height=2.2)
    t, users, current = [0.0], [0.0], 0.0
    for stage in stages:
        start, stop = float(stage.get("start_s", 0)), float(stage.get("end_s", 0))
        target, rate = float(stage.get("users", 0)), float(stage.get("spawn_rate") or 0)
        ramp = abs(target - current) / rate if rate > 0 else 0.0
        t += [start, min(stop, start + ramp), stop]
        users += [current, target, target]
        current = target
    ax.plot(t, users, color="tab:blue", lw=1.6, label="planned users")
    rates = [s.get("rate_per_s") for s in stages]
    if any(isinstance(r, int | float) for r in rates):
        twin = ax.twinx()
        labelled = False
        for stage, cycles in zip(stages, rates, strict=True):
            if isinstance(cycles, int | float):
                twin.hlines(
                    cycles,
                    stage["start_s"],
                    stage["end_s"],
                    color="tab:orange",
                    label="_nolegend_" if labelled else "planned cycles/s",
                )
                labelled = True
        twin.set_ylabel("cycles/s")
        twin.set_ylim(bottom=0)
        legend_outside(ax, extra=twin)
    else:
        legend_outside(ax)
    ax.set_ylim(bottom=0, top=max(1.0, max(users) * 1.15))
    ax.set_ylabel("users")
    _time_decorations(ax, warmup_s, None, end_s=max(end_s, t[-1]), labelled=False)
    ax.set_title("Load profile (planned)")
    return ax


class _TimeAxis(TypedDict):
    warmup_s: float
    incidents: pd.DataFrame | None
    cooldown_s: float | None
    end_s: float | None


def time_series_figure(
    series: pd.DataFrame,
    *,
    users: pd.DataFrame | None,
    anomalies: pd.DataFrame | None,
    incidents: pd.DataFrame | None,
    window_s: float,
    warmup_s: float,
    cooldown_s: float | None,
    end_s: float,
    split: pd.DataFrame | None = None,
) -> Figure:
    """Users, throughput, notification latency, per-operation p99, server time vs
    delivery (when ``split`` has rows), HTTP latency, errors: one column of panels
    sharing the time axis (only the first panel's legend names the shaded regions and
    incidents)."""
    has_users = users is not None and len(users) > 0
    has_split = split is not None and len(split) > 0
    heights = [1.0] * has_users + [1.6] * (5 + has_split)
    figure = Figure(figsize=(11.0, sum(heights) * 1.55 + 0.6), dpi=100, layout="constrained")
    axes = figure.subplots(len(heights), 1, sharex=True, height_ratios=heights)
    common = _TimeAxis(warmup_s=warmup_s, incidents=incidents, cooldown_s=cooldown_s, end_s=end_s)
    rest = list(axes)
    if has_users and users is not None:
        plot_users(users, ax=rest.pop(0), **common)
    plot_throughput(series, ax=rest.pop(0), labelled=not has_users, **common)
    plot_latency_over_time(series, metric="notify_ms", ax=rest.pop(0), labelled=False, **common)
    plot_p99_per_operation(series, metric="notify_ms", ax=rest.pop(0), labelled=False, **common)
    if has_split and split is not None:
        plot_split_over_time(split, ax=rest.pop(0), labelled=False, **common)
    plot_latency_over_time(series, metric="response_ms", ax=rest.pop(0), labelled=False, **common)
    plot_errors_over_time(
        series, anomalies=anomalies, window_s=window_s, ax=rest.pop(0), labelled=False, **common
    )
    for ax in axes[:-1]:
        ax.set_xlabel("")
    figure.align_ylabels(axes)
    return figure
