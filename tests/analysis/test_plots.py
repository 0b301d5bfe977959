"""Plots are checked on their artists (data, labels), never on pixels."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.patches import Rectangle

from gwsload.analysis import plots, plots_time
from gwsload.analysis.capacity import compute_capacity
from gwsload.analysis.load import load_run
from gwsload.analysis.metrics import compute_spectrum, compute_time_series, latency_histograms


@pytest.fixture(scope="module")
def series(runs: dict[str, Path]):  # type: ignore[no-untyped-def]
    run = load_run(runs["faulty"])
    return run, compute_time_series(run, 10.0)


def test_throughput_lines_follow_the_series(series) -> None:  # type: ignore[no-untyped-def]
    run, table = series
    ax = plots_time.plot_throughput(table, warmup_s=run.warmup_s, incidents=run.incidents)
    lines = {line.get_label(): line for line in ax.get_lines()}
    pooled = table[table["operation"] == "*"]
    assert np.array_equal(lines["all operations"].get_ydata(), pooled["ops_per_s"].to_numpy())
    # incidents are vertical lines at their time, labelled once per kind
    assert np.asarray(lines["rehandshake"].get_xdata())[0] == 50.0
    assert np.asarray(lines["reconnect"].get_xdata())[0] == 80.0
    assert ax.get_ylabel() == "ops/s"
    assert plt.get_fignums() == []  # no pyplot figure was created


def test_latency_over_time_is_log_scale_with_three_percentiles(series) -> None:  # type: ignore[no-untyped-def]
    _, table = series
    ax = plots_time.plot_latency_over_time(table, metric="notify_ms")
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels[:3] == ["p50", "p90", "p99"]
    assert ax.get_yscale() == "log"
    p99 = table[table["operation"] == "*"]["notify_ms_p99"].to_numpy()
    assert np.array_equal(ax.get_lines()[2].get_ydata(), p99)


def test_spectrum_draws_on_a_given_axes(runs: dict[str, Path]) -> None:
    hist = next(h for h in latency_histograms(load_run(runs["faulty"])) if h.metric == "notify")
    spectrum = compute_spectrum(hist.counts)
    ax = plots.new_axes()
    assert plots.plot_percentile_spectrum({"Start": spectrum}, ax=ax) is ax
    line = ax.get_lines()[0]
    assert line.get_label() == "Start"
    assert np.all(np.diff(line.get_ydata()) >= 0)  # a spectrum never decreases
    assert ax.get_xscale() == "log"


def test_capacity_plot_marks_the_capacity(runs: dict[str, Path]) -> None:
    result = compute_capacity(load_run(runs["capacity"]), [])
    assert result is not None
    ax = plots.plot_capacity(result.steps, capacity_step=result.capacity_step)
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert np.asarray(lines["capacity"].get_xdata())[0] == 40.0  # step 3: 40 users
    assert np.array_equal(lines["achieved ops/s"].get_ydata(), result.steps["ops_per_s"])


def test_notify_after_response_marks_zero() -> None:
    ax = plots.plot_notify_after_response(np.array([-5.0, 1.0, 2.0, 30.0]))
    assert np.asarray(ax.get_lines()[0].get_xdata())[0] == 0.0
    assert sum(p.get_height() for p in ax.patches if isinstance(p, Rectangle)) == 4
