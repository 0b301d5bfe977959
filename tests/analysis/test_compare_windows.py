"""compare's streamed windows against the exact figures of every row (numpy over the
segments), and their size against the number of operations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from gwsload.analysis import hdr
from gwsload.analysis.compare_windows import (
    clock_offset_ms,
    compare_windows,
    has_server_part,
)
from gwsload.analysis.latency_split import least_offset_ms
from gwsload.analysis.load import load_run
from gwsload.analysis.synthetic import T0, Stage, SyntheticRun, write_run

SPLIT = ("notify_ms", "response_ms", "server_notify_ms", "delivery_ms")
WINDOW_S = 5.0


def _spec(ops_per_user_s: float) -> SyntheticRun:
    return SyntheticRun(
        stages=(Stage(users=50, duration_s=120.0),),
        ops_per_user_s=ops_per_user_s,
        error_ratio=0.01,
        lost_ratio=0.01,
        notify_sigma=1.2,
        write_hlog=False,
        server_fraction=0.4,
        # the server's clock 50 ms behind: the split must be corrected by the offset
        server_clock_offset_ms=-50.0,
    )


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_run(tmp_path_factory.mktemp("compare-windows") / "run", _spec(4.0))


def _rows(folder: Path) -> dict[str, np.ndarray]:
    table = pq.read_table(folder / "events")
    names = ("response_ms", "notify_ms", "server_ms", "ts")
    rows = {name: table[name].to_numpy().astype(np.float64) for name in names}
    rows["operation"] = np.array(table["operation"].to_pylist())
    rows["outcome"] = np.array(table["outcome"].to_pylist())
    rows["t_s"] = (rows["ts"] - T0).astype(np.float32)
    return rows


def _within_bucket(value_ms: float, values: np.ndarray, p: float) -> bool:
    """Nearest rank within the HDR error (as tests/analysis/test_digest.py states it)."""
    ordered = np.sort(values)
    rank = int(np.ceil(p / 100 * len(ordered)))
    low, high = ordered[max(rank - 2, 0)], ordered[min(rank, len(ordered) - 1)]
    slack = max(abs(high) / 1024, 0.001) + 0.0005
    return bool(low - slack <= value_ms <= high + slack)


def test_counts_and_percentiles_per_window_are_the_exact_ones(folder: Path) -> None:
    run = load_run(folder)
    rows = _rows(folder)
    ok = rows["outcome"] == "ok"
    offset = least_offset_ms(rows["notify_ms"][ok], rows["server_ms"][ok])
    assert offset < -45.0, "the planted clock offset must be seen"
    assert clock_offset_ms(run) == offset  # the exact minima, streamed
    assert has_server_part(run)
    windows = compare_windows(run, WINDOW_S, SPLIT)
    assert windows.n_windows == int((run.measure_end_s - run.warmup_s) // WINDOW_S)
    values = {
        "notify_ms": rows["notify_ms"],
        "response_ms": rows["response_ms"],
        "server_notify_ms": rows["server_ms"] - offset,
        "delivery_ms": rows["notify_ms"] - rows["server_ms"] + offset,
    }
    window = ((rows["t_s"] - run.warmup_s) // WINDOW_S).astype(np.int64)
    inside = (rows["t_s"] >= run.warmup_s) & (window < windows.n_windows)
    checked = 0
    for operation in [None, *sorted(set(rows["operation"]))]:
        mine = inside & ((rows["operation"] == operation) if operation else True)
        lost = np.bincount(window[mine & (rows["outcome"] == "lost")], minlength=windows.n_windows)
        assert (
            windows.window_counts(operation).tolist()
            == np.bincount(window[mine], minlength=windows.n_windows).tolist()
        )
        assert windows.window_counts(operation, ("lost",)).tolist() == lost.tolist()
        for metric, column in values.items():
            matrix = windows.window_histograms(metric, operation)
            for w in (0, windows.n_windows // 2, windows.n_windows - 1):
                exact = column[mine & (window == w)]
                exact = exact[np.isfinite(exact) & (exact > 0)]
                assert int(matrix[w].sum()) == len(exact)
                for p in (50.0, 99.0):
                    got = hdr.percentile_us(matrix[w], [p])[0] / 1000.0
                    assert _within_bucket(got, exact, p), (operation, metric, w, p, got)
                    checked += 1
    assert checked >= 3 * 4 * 3 * 2


def test_a_wrong_percentile_would_fail_the_check(folder: Path) -> None:
    exact = _rows(folder)["notify_ms"]
    exact = exact[np.isfinite(exact)]
    p99 = float(np.percentile(exact, 99))
    assert _within_bucket(p99, exact, 99)
    assert not _within_bucket(p99 * 1.01, exact, 99)


def test_what_compare_keeps_does_not_grow_with_the_number_of_operations(
    tmp_path: Path,
) -> None:
    small = load_run(write_run(tmp_path / "small", _spec(1.0)))
    large = load_run(write_run(tmp_path / "large", _spec(10.0)))
    assert large.digest.rows > 9 * small.digest.rows
    kept = [compare_windows(run, WINDOW_S, SPLIT) for run in (small, large)]
    assert kept[1].window_counts(None).sum() > 9 * kept[0].window_counts(None).sum()
    assert kept[0].nbytes > 0
    assert kept[1].nbytes == kept[0].nbytes
