"""Plots: ``plot_*(data, *, ax=None) -> Axes``. No pyplot, no global state.

Each function draws on the Axes it is given, or on a new ``Figure`` (Agg canvas)
when ``ax`` is None. Time axes are seconds since the run start; warm-up is shaded
and incidents are vertical lines coloured by kind.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from gwsload.analysis.metrics import number

__all__ = [
    "new_axes",
    "plot_capacity",
    "plot_errors_over_time",
    "plot_latency_histogram",
    "plot_latency_over_time",
    "plot_notify_after_response",
    "plot_percentile_spectrum",
    "plot_throughput",
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
_SPECTRUM_TICKS = (1, 10, 100, 1_000, 10_000, 100_000, 1_000_000)
_SPECTRUM_LABELS = ("0%", "90%", "99%", "99.9%", "99.99%", "99.999%", "99.9999%")


def new_axes(width: float = 9.0, height: float = 3.2) -> Axes:
    """A fresh Axes on its own Figure (no pyplot registry, so nothing leaks)."""
    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    return figure.add_subplot()


def _legend(ax: Axes) -> None:
    if ax.get_legend_handles_labels()[0]:  # nothing drawn, nothing to explain
        ax.legend(fontsize=8)


def _time_decorations(
    ax: Axes, warmup_s: float, incidents: pd.DataFrame | None, cooldown_s: float | None = None
) -> None:
    if warmup_s > 0:
        ax.axvspan(0, warmup_s, color="0.9", zorder=0, label="warm-up")
    if cooldown_s is not None and cooldown_s < ax.get_xlim()[1]:
        ax.axvspan(
            cooldown_s,
            ax.get_xlim()[1],
            color="0.94",
            zorder=0,
            hatch="//",
            edgecolor="0.8",
            label="sign-off",
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
                    label=str(kind) if i == 0 else None,
                )
    ax.set_xlabel("time since start (s)")
    ax.grid(True, alpha=0.3)


def _pooled(series: pd.DataFrame) -> pd.DataFrame:
    return series[series["operation"] == "*"].sort_values("window_s")


def plot_throughput(
    series: pd.DataFrame,
    *,
    users: pd.DataFrame | None = None,
    warmup_s: float = 0.0,
    incidents: pd.DataFrame | None = None,
    cooldown_s: float | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Ops/s per window (all and per operation); users on a second axis when given."""
    ax = ax or new_axes()
    for operation, unsorted in series.groupby("operation"):
        group = unsorted.sort_values("window_s")
        pooled = operation == "*"
        ax.plot(
            group["window_s"],
            group["ops_per_s"],
            lw=1.8 if pooled else 0.9,
            label="all operations" if pooled else str(operation),
            drawstyle="steps-post",
        )
    ax.set_ylabel("ops/s")
    _time_decorations(ax, warmup_s, incidents, cooldown_s)
    if users is not None and len(users):
        twin = ax.twinx()
        twin.plot(users["t_s"], users["users"], color="0.4", lw=1, ls=":", label="users")
        twin.set_ylabel("users")
        twin.set_ylim(bottom=0, top=max(1.0, float(users["users"].max()) * 1.15))
        twin.legend(loc="lower right", fontsize=8)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title("Throughput")
    return ax


def plot_latency_over_time(
    series: pd.DataFrame,
    *,
    metric: str = "notify_ms",
    warmup_s: float = 0.0,
    incidents: pd.DataFrame | None = None,
    cooldown_s: float | None = None,
    ax: Axes | None = None,
) -> Axes:
    """p50/p90/p99 of ``metric`` per window, all operations pooled, log scale."""
    ax = ax or new_axes()
    pooled = _pooled(series)
    for stat, style in (("p50", "-"), ("p90", "--"), ("p99", "-")):
        ax.plot(
            pooled["window_s"],
            pooled[f"{metric}_{stat}"],
            ls=style,
            lw=1.8 if stat == "p99" else 1.0,
            label=stat,
            drawstyle="steps-post",
        )
    ax.set_yscale("log")
    ax.set_ylabel("ms")
    _time_decorations(ax, warmup_s, incidents, cooldown_s)
    ax.legend(loc="upper left", fontsize=8, ncols=3)
    name = "Notification latency" if metric == "notify_ms" else "HTTP response time"
    ax.set_title(f"{name} per window")
    return ax


def plot_errors_over_time(
    series: pd.DataFrame,
    *,
    anomalies: pd.DataFrame | None = None,
    window_s: float = 1.0,
    warmup_s: float = 0.0,
    incidents: pd.DataFrame | None = None,
    cooldown_s: float | None = None,
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
    ax.set_ylabel(f"count per {window_s:g} s")
    ax.set_ylim(bottom=0, top=max(1.0, ax.get_ylim()[1]))
    _time_decorations(ax, warmup_s, incidents, cooldown_s)
    ax.legend(loc="upper left", fontsize=8, ncols=4)
    ax.set_title("Errors, losses and stray notifications")
    return ax


def plot_percentile_spectrum(
    spectra: Mapping[str, pd.DataFrame], *, ax: Axes | None = None
) -> Axes:
    """Latency by percentile, HdrHistogram style: x = 1/(1-p) on a log axis."""
    ax = ax or new_axes(width=6.0, height=3.6)
    top = 10.0
    for label, spectrum in spectra.items():
        ax.plot(spectrum["inverse_tail"], spectrum["value_ms"], label=label, lw=1.4)
        if len(spectrum):
            top = max(top, float(spectrum["inverse_tail"].max()))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ticks = [
        (t, lab)
        for t, lab in zip(_SPECTRUM_TICKS, _SPECTRUM_LABELS, strict=True)
        if t <= top * 1.01
    ]
    ax.set_xticks([t for t, _ in ticks], [lab for _, lab in ticks])
    ax.minorticks_off()
    ax.set_xlabel("percentile")
    ax.set_ylabel("ms")
    ax.grid(True, which="both", alpha=0.3)
    _legend(ax)
    ax.set_title("Percentile spectrum")
    return ax


def plot_latency_histogram(
    values_ms: Mapping[str, npt.ArrayLike], *, bins: int = 60, ax: Axes | None = None
) -> Axes:
    """Histogram per label on log-spaced bins (values in ms, NaN ignored)."""
    ax = ax or new_axes(width=6.0, height=3.6)
    cleaned = {k: np.asarray(v, dtype=np.float64) for k, v in values_ms.items()}
    cleaned = {k: v[np.isfinite(v) & (v > 0)] for k, v in cleaned.items()}
    every = np.concatenate([v for v in cleaned.values() if len(v)] or [np.array([1.0])])
    edges = np.geomspace(max(every.min(), 1e-3), max(every.max(), every.min() * 1.01), bins)
    for label, values in cleaned.items():
        ax.hist(values, bins=list(edges), histtype="step", lw=1.3, label=label)
    ax.set_xscale("log")
    ax.set_xlabel("ms")
    ax.set_ylabel("operations")
    ax.grid(True, alpha=0.3)
    _legend(ax)
    ax.set_title("Latency histogram")
    return ax


def plot_notify_after_response(
    values_ms: npt.ArrayLike, *, bins: int = 80, ax: Axes | None = None
) -> Axes:
    """Distribution of notification minus response time; left of 0 = notification first."""
    ax = ax or new_axes(width=6.0, height=3.6)
    values = np.asarray(values_ms, dtype=np.float64)
    values = values[np.isfinite(values)]
    if len(values):
        lo, hi = np.quantile(values, [0.001, 0.999])
        ax.hist(np.clip(values, lo, hi), bins=bins, color="tab:green", alpha=0.8)
    ax.axvline(0.0, color="black", lw=1)
    ax.set_xlabel("notification time - response time (ms); negative = notification first")
    ax.set_ylabel("operations")
    ax.grid(True, alpha=0.3)
    ax.set_title("Notification after response")
    return ax


def plot_capacity(
    steps: pd.DataFrame, *, capacity_step: int | None = None, ax: Axes | None = None
) -> Axes:
    """Offered load vs achieved ops/s, and notification p50/p99 per step (second axis)."""
    ax = ax or new_axes()
    x = steps["offered"]
    ax.plot(x, steps["ops_per_s"], "o-", color="tab:blue", label="achieved ops/s")
    ideal = steps["ops_per_s"].iloc[0] * x / x.iloc[0]
    ax.plot(x, ideal, ":", color="tab:blue", label="linear scaling")
    ax.set_xlabel(f"offered load ({steps['offered_unit'].iloc[0]})")
    ax.set_ylabel("ops/s")
    twin = ax.twinx()
    twin.plot(x, steps["notify_ms_p99"], "s-", color="tab:red", label="notification p99")
    twin.plot(x, steps["notify_ms_p50"], "s--", color="tab:orange", label="notification p50")
    twin.set_yscale("log")
    twin.set_ylabel("ms")
    if capacity_step is not None:
        at = steps.set_index("step").loc[capacity_step, "offered"]
        ax.axvline(number(at), color="tab:green", lw=2, alpha=0.6, label="capacity")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    twin.legend(loc="lower right", fontsize=8)
    ax.set_title("Capacity: load vs throughput and latency")
    return ax
