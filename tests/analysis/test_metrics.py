from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from gwsload.analysis import hdr
from gwsload.analysis.load import load_run
from gwsload.analysis.metrics import (
    compute_headline,
    compute_notify_order,
    compute_time_series,
    compute_users,
    window_percentiles,
)


def _truth(path: Path) -> pd.DataFrame:
    events = pq.read_table(path / "events").to_pandas()
    events["t_s"] = events["ts"] - 1_795_952_117.0
    measured: pd.DataFrame = events[events["t_s"] >= 10.0]
    return measured


def test_headline_percentiles_are_the_hdr_percentiles_of_the_data(runs: dict[str, Path]) -> None:
    truth = _truth(runs["faulty"])
    headline = compute_headline(load_run(runs["faulty"]))
    for operation, rows in truth.groupby("operation"):
        values = rows["notify_ms"].dropna().to_numpy()
        us = np.round(values * 1000).astype(np.int64)
        expected = hdr.percentile_us(hdr.counts_from_values_us(us), [50, 90, 99, 99.9, 100])
        got = headline.loc[
            operation,
            ["notify_ms_p50", "notify_ms_p90", "notify_ms_p99", "notify_ms_p99.9", "notify_ms_max"],
        ].to_numpy()
        # the same buckets, reported to 3 significant digits
        assert got.tolist() == [hdr.round_sig(v / 1000) for v in expected]
        # and within HDR precision of the exact value at HDR's rank, round(q * n)
        ordered = np.sort(values)
        exact = [ordered[max(int(q * len(values) + 0.5), 1) - 1] for q in (0.5, 0.99)]
        assert got[[0, 2]] == pytest.approx(exact, rel=6e-3)


def test_headline_counts_and_ratios(runs: dict[str, Path]) -> None:
    truth = _truth(runs["faulty"])
    headline = compute_headline(load_run(runs["faulty"]))
    pooled = headline.loc["*"]
    outcomes = truth["outcome"].value_counts()
    assert pooled["operations"] == len(truth)
    assert pooled["lost"] == outcomes["lost"]
    assert pooled["error_ratio"] == pytest.approx(
        (outcomes["http_error"] + outcomes["api_error"]) / len(truth)
    )
    assert pooled["lost_ratio"] == pytest.approx(
        outcomes["lost"] / (outcomes["ok"] + outcomes["lost"])
    )
    assert pooled["ops_per_s"] == pytest.approx(len(truth) / 110.0)
    assert pooled["unexpected"] == 3
    per_op = headline.loc[["StartCallRecording", "StopCallRecording"], "operations"]
    assert per_op.sum() == pooled["operations"]


def test_events_fallback_agrees_with_the_hlog(runs: dict[str, Path]) -> None:
    with_hlog = compute_headline(load_run(runs["faulty"]))
    run = load_run(runs["faulty"])
    object.__setattr__(run, "hdr", None)
    from_events = compute_headline(run)
    for column in ("notify_ms_p50", "notify_ms_p99", "response_ms_p90", "notify_ms_max"):
        assert from_events[column].to_numpy() == pytest.approx(
            with_hlog[column].to_numpy(), rel=2e-3
        )


def test_window_percentiles_are_hdr_percentiles_per_key() -> None:
    rng = np.random.default_rng(3)
    keys = rng.integers(0, 5, 10_000)
    keys[keys == 3] = 4  # key 3 stays empty
    values = rng.normal(100, 20, 10_000)
    values[::17] = np.nan
    table = window_percentiles(keys, 6, values, [50, 99, 100])
    for key in (0, 1, 2, 4):
        chosen = values[(keys == key) & np.isfinite(values)]
        counts = hdr.counts_from_values_us(np.round(chosen * 1000).astype(np.int64))
        expected = [hdr.round_sig(v / 1000) for v in hdr.percentile_us(counts, [50, 99, 100])]
        assert table[key].tolist() == expected
        assert table[key, 1] == pytest.approx(np.quantile(chosen, 0.99), rel=0.01)
    assert np.isnan(table[[3, 5]]).all()


def test_time_series_windows(runs: dict[str, Path]) -> None:
    run = load_run(runs["faulty"], keep_events=True)
    series = compute_time_series(run, 10.0)
    pooled = series[series["operation"] == "*"]
    assert len(pooled) == 12
    assert pooled["operations"].sum() == len(run.events)
    assert pooled["warmup"].tolist() == [True] + [False] * 11
    first = run.events[run.events["t_s"] < 10.0]
    ordered = np.sort(first["notify_ms"].dropna().to_numpy())
    at_hdr_rank = ordered[int(0.99 * len(ordered) + 0.5) - 1]
    assert pooled.iloc[0]["notify_ms_p99"] == pytest.approx(at_hdr_rank, rel=0.006)
    assert pooled["ops_per_s"].to_numpy() == pytest.approx(20.0, rel=0.2)


def test_notification_order(runs: dict[str, Path]) -> None:
    truth = _truth(runs["clean"])
    order = compute_notify_order(load_run(runs["clean"]).digest.notify_order)
    values = truth["notify_after_response_ms"].dropna().to_numpy()
    assert order["count"] == len(values)
    assert order["notification_first_ratio"] == pytest.approx((values < 0).mean())
    assert 0.0 < order["notification_first_ratio"] < 0.5
    # percentiles from the signed HDR buckets: the exact nearest-rank value within the
    # bucket error (0.1 % of the value, 1 us below 2 ms) plus the microsecond rounding
    for p in (1, 50, 99):
        exact = float(np.quantile(values, p / 100, method="inverted_cdf"))
        assert abs(order[f"p{p}"] - exact) <= max(abs(exact) / 1024, 0.001) + 0.0005


def test_users_per_window_add_up_workers() -> None:
    generator = pd.DataFrame(
        {
            "t_s": [0.0, 1.0, 4.0, 2.5, 6.0, 7.0],
            "worker": ["w1", "w1", "w1", "w2", "w2", "w1"],
            "users": [5, 6, 8, 10, 12, 9],
        }
    )
    users = compute_users(generator, 5.0)
    assert users["t_s"].tolist() == [0.0, 5.0]
    assert users["users"].tolist() == [8 + 10, 12 + 9]
