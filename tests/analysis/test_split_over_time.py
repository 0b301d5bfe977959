"""Server time vs delivery over time: per window, at the run's clock offset, drawn as a
panel of the time figure, and named as not available when the server sends no stamp."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gwsload.analysis import render
from gwsload.analysis.latency_split import (
    NOT_AVAILABLE,
    LatencySplit,
    least_offset_ms,
    split_over_time,
    window_split,
)
from gwsload.analysis.load import load_run
from gwsload.analysis.summary import analyze_run
from gwsload.analysis.synthetic import SyntheticRun, write_run

PANEL = "Server time vs delivery per window, all operations"


def test_window_split_applies_the_offset_and_skips_rows_without_a_stamp() -> None:
    notify = np.array([10.0, 20.0, 30.0, np.nan, 40.0])
    server = np.array([8.0, 15.0, 20.0, 5.0, np.nan])  # server clock 5 ms ahead
    figures = window_split(notify, server, offset_ms=5.0)
    assert figures["count"] == 3
    assert figures["server_p50_ms"] == pytest.approx(10.0)  # 3, 10, 15
    assert figures["delivery_p50_ms"] == pytest.approx(10.0)  # 7, 10, 15
    assert figures["delivery_p99_ms"] == pytest.approx(np.percentile([7, 10, 15], 99))
    empty = window_split(np.array([np.nan]), np.array([1.0]), offset_ms=0.0)
    assert empty["count"] == 0 and np.isnan(empty["server_p50_ms"])


def test_split_over_time_finds_the_planted_share_in_every_window(tmp_path: Path) -> None:
    folder = write_run(
        tmp_path / "run", SyntheticRun(seed=4, server_fraction=0.25, server_clock_offset_ms=80.0)
    )
    analysis = analyze_run(load_run(folder, keep_events=True))
    split = analysis.latency_split
    assert split.available
    assert split.offset_low_ms - 1.0 <= 80.0 <= split.offset_high_ms + 1.0
    series = analysis.split_series
    assert series is not None and len(series) >= 10
    assert set(series["window_s"]) <= set(analysis.series["window_s"])
    events = analysis.run.events
    for row in series.itertuples():
        window = events[
            (events["t_s"] >= row.window_s)
            & (events["t_s"] < row.window_s + analysis.window_s)
            & (events["outcome"] == "ok")
        ]
        # the planted server share of each window's median, within the stated uncertainty
        server_median = float(np.median(window["notify_ms"] * 0.25))
        assert abs(row.server_p50_ms - server_median) <= split.uncertainty_ms + 1.0
        assert row.count == len(window)
    html = render.render_report(analysis)
    assert "server time vs delivery split at the run&#x27;s clock offset" in html


def test_no_server_stamp_no_panel_and_the_reason_in_its_place(tmp_path: Path) -> None:
    folder = write_run(tmp_path / "run", SyntheticRun(seed=4))
    analysis = analyze_run(load_run(folder))
    assert analysis.split_series is None
    html = render.render_report(analysis)
    assert f"server time vs delivery over time: {NOT_AVAILABLE}" in html
    assert PANEL not in html
    unavailable = LatencySplit(False, NOT_AVAILABLE)
    assert split_over_time(analysis.run.digest, unavailable, window_s=1.0) is None


def test_the_least_offset_is_none_unless_the_run_shows_the_clocks_disagree() -> None:
    notify = np.array([10.0, 20.0, 30.0])
    server = np.array([4.0, 15.0, 12.0])  # delivery 6, 5, 18: consistent with one clock
    assert least_offset_ms(notify, server) == 0.0
    # the server clock 40 ms behind: every stamp before its request, corrected to the
    # nearest offset the run allows (the earliest stamp 1 ms after its request)
    assert least_offset_ms(notify, server - 40.0) == pytest.approx(-40.0 + 4.0 + 1.0)
    # 40 ms ahead: arrivals before their stamps
    assert least_offset_ms(notify, server + 40.0) == pytest.approx(40.0 - 5.0 - 1.0)
    assert np.isnan(least_offset_ms(np.array([np.nan]), np.array([1.0])))
