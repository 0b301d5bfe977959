"""Plots: ``plot_*(data, *, ax=None) -> Axes``. No pyplot, no global state.

Each function draws on the Axes it is given, or on a new ``Figure`` (Agg canvas)
when ``ax`` is None. Legends sit right of the data area; log axes read in plain ms
(1, 2, 5, 10, 20, 50...). Time-series plots are in :mod:`plots_time`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter, NullLocator

from gwsload.analysis.metrics import number
from gwsload.contract import numbers

__all__ = [
    "finite_range",
    "legend_outside",
    "ms_log_axis",
    "new_axes",
    "operation_colour",
    "plot_capacity",
    "plot_latency_histogram",
    "plot_notify_after_response",
    "plot_percentile_spectrum",
]

_SPECTRUM_TICKS = (1, 10, 100, 1_000, 10_000, 100_000, 1_000_000)
_SPECTRUM_LABELS = ("0%", "90%", "99%", "99.9%", "99.99%", "99.999%", "99.9999%")


#: one colour per operation in every plot (pooled "all operations" is black)
_OPERATION_COLOURS = {
    "*": "black",
    "StartCallRecording": "tab:green",
    "StopCallRecording": "tab:red",
    "PauseCallRecording": "tab:blue",
    "ResumeCallRecording": "tab:orange",
}
_OTHER_COLOURS = ("tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan", "tab:gray")


def operation_colour(operation: str) -> str:
    """The colour of ``operation`` in every plot of a report."""
    if operation in _OPERATION_COLOURS:
        return _OPERATION_COLOURS[operation]
    return _OTHER_COLOURS[sum(map(ord, operation)) % len(_OTHER_COLOURS)]


def new_axes(width: float = 9.0, height: float = 3.2) -> Axes:
    """A fresh Axes on its own Figure (no pyplot registry, so nothing leaks)."""
    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    return figure.add_subplot()


def legend_outside(ax: Axes, *, extra: Axes | None = None) -> None:
    """The legend right of the data area (never over a line); ``extra``: a twin's entries."""
    handles, labels = ax.get_legend_handles_labels()
    if extra is not None:
        more = extra.get_legend_handles_labels()
        handles, labels = handles + more[0], labels + more[1]
    if handles:  # nothing drawn, nothing to explain
        at = 1.1 if extra is not None else 1.01  # past the twin's tick labels
        ax.legend(
            handles,
            labels,
            loc="upper left",
            bbox_to_anchor=(at, 1.0),
            borderaxespad=0.0,
            fontsize=8,
            frameon=False,
        )


def _plain_ms(value: float, _position: object = None) -> str:
    return numbers.significant(value)


def ms_log_axis(axis: Axis, low: float, high: float) -> None:
    """A log axis labelled in plain ms on a 1-2-5 ladder (1-10-100 past 3 decades)."""
    decades = np.log10(max(high, 1e-9) / max(low, 1e-9))
    subs = (1.0, 2.0, 5.0) if decades <= 3.0 else (1.0,)
    axis.set_major_locator(LogLocator(base=10.0, subs=subs, numticks=30))
    axis.set_major_formatter(FuncFormatter(_plain_ms))
    axis.set_minor_locator(
        LogLocator(base=10.0, subs=tuple(float(k) for k in range(2, 10)), numticks=30)
    )
    axis.set_minor_formatter(NullFormatter())


def finite_range(*columns: npt.ArrayLike) -> tuple[float, float]:
    parts = [np.asarray(c, dtype=np.float64).ravel() for c in columns]
    values = np.concatenate(parts) if parts else np.empty(0)
    values = values[np.isfinite(values) & (values > 0)]
    return (float(values.min()), float(values.max())) if len(values) else (1.0, 10.0)


def plot_percentile_spectrum(
    spectra: Mapping[str, pd.DataFrame], *, ax: Axes | None = None
) -> Axes:
    """Latency by percentile, HdrHistogram style: x = 1/(1-p) on a log axis."""
    ax = ax or new_axes(width=7.0, height=3.6)
    top = 1_000.0  # at least to 99.9 %
    for label, spectrum in spectra.items():
        ax.plot(
            spectrum["inverse_tail"],
            spectrum["value_ms"],
            label=label,
            lw=1.4,
            color=operation_colour(label),
        )
        if len(spectrum):
            top = max(top, float(spectrum["inverse_tail"].max()))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ticks = [
        (t, lab)
        for t, lab in zip(_SPECTRUM_TICKS, _SPECTRUM_LABELS, strict=True)
        if t <= top * 1.01
    ]
    ax.set_xlim(1, top)
    ax.set_xticks([t for t, _ in ticks], [lab for _, lab in ticks])
    ax.xaxis.set_minor_locator(NullLocator())
    ms_log_axis(ax.yaxis, *finite_range(*(s["value_ms"] for s in spectra.values())))
    ax.set_xlabel("percentile")
    ax.set_ylabel("ms")
    ax.grid(True, which="major", alpha=0.3)
    legend_outside(ax)
    ax.set_title("Percentile spectrum")
    return ax


def plot_latency_histogram(
    values_ms: Mapping[str, npt.ArrayLike], *, bins: int = 60, ax: Axes | None = None
) -> Axes:
    """Histogram per label on log-spaced bins (values in ms, NaN ignored)."""
    ax = ax or new_axes(width=7.0, height=3.6)
    cleaned = {k: np.asarray(v, dtype=np.float64) for k, v in values_ms.items()}
    cleaned = {k: v[np.isfinite(v) & (v > 0)] for k, v in cleaned.items()}
    every = np.concatenate([v for v in cleaned.values() if len(v)] or [np.array([1.0])])
    low, high = max(float(every.min()), 1e-3), float(every.max())
    edges = np.geomspace(low, max(high, low * 1.01), bins)
    for label, values in cleaned.items():
        ax.hist(
            values,
            bins=list(edges),
            histtype="step",
            lw=1.3,
            label=label,
            color=operation_colour(label),
        )
    ax.set_xscale("log")
    ms_log_axis(ax.xaxis, low, high)
    ax.set_xlabel("ms")
    ax.set_ylabel("operations")
    ax.grid(True, alpha=0.3)
    legend_outside(ax)
    ax.set_title("Latency histogram")
    return ax


def plot_notify_after_response(
    values_ms: npt.ArrayLike, *, bins: int = 80, ax: Axes | None = None
) -> Axes:
    """Distribution of notification minus response time; left of 0 = notification first."""
    ax = ax or new_axes(width=7.0, height=3.6)
    values = np.asarray(values_ms, dtype=np.float64)
    values = values[np.isfinite(values)]
    if len(values):
        lo, hi = np.quantile(values, [0.001, 0.999])
        ax.hist(np.clip(values, lo, hi), bins=bins, color="tab:green", alpha=0.8)
    ax.axvline(0.0, color="black", lw=1)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=8))
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
    ms_log_axis(twin.yaxis, *finite_range(steps["notify_ms_p50"], steps["notify_ms_p99"]))
    twin.set_ylabel("ms")
    if capacity_step is not None:
        at = steps.set_index("step").loc[capacity_step, "offered"]
        ax.axvline(number(at), color="tab:green", lw=2, alpha=0.6, label="capacity")
    if "limited_by" in steps:
        # steps measured through a saturated generator or simulator: not the target's figures
        saturated = steps["limited_by"].isin(["load generator", "simulator"]).to_numpy()
        if saturated.any():
            ax.plot(
                x[saturated],
                steps["ops_per_s"][saturated],
                "X",
                color="black",
                markersize=10,
                label="generator or simulator saturated",
            )
    ax.grid(True, alpha=0.3)
    legend_outside(ax, extra=twin)
    ax.set_title("Capacity: load vs throughput and latency")
    return ax
