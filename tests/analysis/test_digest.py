"""The streamed digest against the exact figures of every row (numpy over the segments)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from gwsload.analysis import hdr
from gwsload.analysis.bands import compute_bands
from gwsload.analysis.load import load_run
from gwsload.analysis.metrics import compute_headline, compute_time_series, period_histograms
from gwsload.analysis.synthetic import T0, Stage, SyntheticRun, write_run


def _spec(ops_per_user_s: float) -> SyntheticRun:
    return SyntheticRun(
        stages=(Stage(users=50, duration_s=120.0), Stage(users=100, duration_s=120.0)),
        ops_per_user_s=ops_per_user_s,
        error_ratio=0.01,
        lost_ratio=0.01,
        notify_sigma=1.2,
        write_hlog=False,
        span_s=7.0,
    )


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_run(tmp_path_factory.mktemp("digest") / "run", _spec(8.0))


def _rows(folder: Path) -> dict[str, np.ndarray]:
    table = pq.read_table(folder / "events")
    rows = {name: table[name].to_numpy() for name in ("response_ms", "notify_ms", "ts")}
    rows["operation"] = np.array(table["operation"].to_pylist())
    rows["outcome"] = np.array(table["outcome"].to_pylist())
    rows["t_s"] = (rows["ts"] - T0).astype(np.float32)
    return rows


def _within_bucket(value_ms: float, values: np.ndarray, p: float) -> bool:
    """``value_ms`` is the nearest-rank ``p`` percentile of ``values`` (ms) within the
    stated error: 0.1 % of the value (1 us below 2 ms), plus the microsecond rounding,
    allowing one rank either side (the rank rounding of HdrHistogram)."""
    ordered = np.sort(values)
    rank = int(np.ceil(p / 100 * len(ordered)))
    low, high = ordered[max(rank - 2, 0)], ordered[min(rank, len(ordered) - 1)]
    slack = max(abs(high) / 1024, 0.001) + 0.0005
    return bool(low - slack <= value_ms <= high + slack)


def test_percentiles_from_the_digest_are_the_exact_ones_within_the_bucket_error(
    folder: Path,
) -> None:
    run = load_run(folder)
    rows = _rows(folder)
    measured = (rows["t_s"] >= run.warmup_s) & (rows["t_s"] < run.measure_end_s)
    histograms = period_histograms(run.digest, run.digest.measured)
    checked = 0
    for h in histograms:
        column = {"notify": "notify_ms", "response": "response_ms"}.get(h.metric)
        if column is None:
            continue
        values = rows[column][measured & (rows["operation"] == h.operation)]
        values = values[np.isfinite(values)]
        assert h.total == len(values)
        for p in (0.0, 50.0, 90.0, 99.0, 99.9, 100.0):
            got = float(hdr.percentile_us(h.counts, [p])[0]) / 1000.0
            assert _within_bucket(got, values, max(p, 1e-9)), (h.metric, h.operation, p, got)
            checked += 1
    assert checked == 2 * 2 * 6


def test_a_wrong_percentile_would_fail_the_check(folder: Path) -> None:
    rows = _rows(folder)
    values = rows["notify_ms"][np.isfinite(rows["notify_ms"])]
    exact = float(np.quantile(values, 0.99, method="inverted_cdf"))
    assert _within_bucket(exact, values, 99.0)
    assert not _within_bucket(exact * 1.003, values, 99.0)


def test_counts_windows_and_bands_are_exact(folder: Path) -> None:
    run = load_run(folder)
    rows = _rows(folder)
    measured = (rows["t_s"] >= run.warmup_s) & (rows["t_s"] < run.measure_end_s)
    headline = compute_headline(run)
    assert headline.loc["*", "operations"] == measured.sum()
    assert headline.loc["*", "lost"] == (measured & (rows["outcome"] == "lost")).sum()
    series = compute_time_series(run, 10.0)
    pooled = series[series["operation"] == "*"]
    window = np.minimum((rows["t_s"] * np.float32(0.1)).astype(int), pooled["window_s"].size)
    assert pooled["operations"].tolist() == np.bincount(window).tolist()
    bands = compute_bands(run, headline).set_index("operation")
    ok = measured & (rows["outcome"] == "ok")
    assert bands.loc["*", "t < 800 ms"] == (ok & (rows["notify_ms"] < 800)).sum()
    assert bands.loc["*", bands.columns[-2]] == (ok & (rows["notify_ms"] >= 1200)).sum()


def _digest_bytes(folder: Path) -> int:
    digest = load_run(folder).digest
    arrays = [digest.window_counts, digest.bands, digest.measured.counts]
    arrays += list(digest.measured.histograms.values())
    arrays += list(digest.window_histograms.values())
    for step in digest.steps.values():
        arrays += [step.counts, *step.histograms.values()]
    return sum(a.nbytes for a in arrays)


def test_the_digest_does_not_grow_with_the_number_of_operations(tmp_path: Path) -> None:
    small = write_run(tmp_path / "small", _spec(1.0))
    large = write_run(tmp_path / "large", _spec(10.0))
    assert load_run(large).digest.rows > 9 * load_run(small).digest.rows
    assert _digest_bytes(large) == _digest_bytes(small)
