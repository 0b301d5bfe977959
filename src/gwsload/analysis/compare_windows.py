"""One run's measured period cut into ``compare``'s windows, from a streamed pass.

``compare`` judges a pair of runs on windows of one length, chosen from the shorter
run once both are read; each run's segments are then streamed again, batch by
batch, into counts per (window, operation, outcome) and HDR histograms per
(window, operation) of each compared latency, the digest's bucketing
(:func:`gwsload.analysis.digest.hdr_index_ms`: percentiles within 0.1 %). No row is
kept: what a run costs depends on its windows and operations, not on how many
operations it made.

The windows start at the end of the warm-up; rows after the last full window of
the measured period are not counted. The two parts of the notification latency
(``server_notify_ms`` and ``delivery_ms`` = ``notify_ms - server_notify_ms``) are
corrected by the run's least clock offset (latency_split.least_offset_ms), known
before this pass from the exact minima the digest recorded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from gwsload.analysis.compare_health import DELIVERY_METRIC, SERVER_METRIC
from gwsload.analysis.digest import add_counts, hdr_index_ms
from gwsload.analysis.hdr import COUNTS_LEN
from gwsload.analysis.latency_split import digest_offset_bounds_ms, least_offset_of_bounds_ms
from gwsload.analysis.load import RunFolder
from gwsload.analysis.load_events import event_batches

__all__ = ["CompareWindows", "clock_offset_ms", "compare_windows", "has_server_part"]

Counts = npt.NDArray[np.int64]
#: histogram counts: one window's operations in one bucket stay far below 2**31, and
#: half the bytes of int64 (a window x operation costs 92 KB per latency)
Histogram = npt.NDArray[np.int32]
#: the end-to-end latencies every comparison judges
END_TO_END = ("notify_ms", "response_ms")


def clock_offset_ms(run: RunFolder) -> float:
    """The run's least clock offset (server minus generator, ms) over its ok rows."""
    return least_offset_of_bounds_ms(*digest_offset_bounds_ms(run.digest))


def has_server_part(run: RunFolder) -> bool:
    """Most of the run's ok rows carry the server's own timestamp."""
    digest, windows = run.digest, run.digest.split_windows
    if windows is None or "ok" not in digest.outcomes:
        return False
    ok_rows = int(digest.window_counts[:, :, digest.outcomes.index("ok")].sum())
    return ok_rows > 0 and windows.stamped / ok_rows > 0.5


@dataclass
class CompareWindows:
    """Counts and latency histograms of one run's full measured windows."""

    warmup_s: float
    window_s: float
    n_windows: int
    #: the clock offset the split parts are corrected by (NaN: no split)
    offset_ms: float = math.nan
    metrics: tuple[str, ...] = END_TO_END
    operations: list[str] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)
    #: (window, operation code, outcome code) counts
    counts: Counts = field(default_factory=lambda: np.zeros((0, 0, 0), np.int64))
    #: metric -> (window, operation code, HDR bucket) counts of its values above zero
    histograms: dict[str, Histogram] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.counts = np.zeros((self.n_windows, 0, 0), np.int64)
        self.histograms = {
            m: np.zeros((self.n_windows, 0, COUNTS_LEN), np.int32) for m in self.metrics
        }

    def add(
        self, values: dict[str, npt.NDArray[Any]], operations: list[str], outcomes: list[str]
    ) -> None:
        """Fold one batch of :func:`~gwsload.analysis.load_events.event_batches` in."""
        self.operations, self.outcomes = operations, outcomes
        t_s = values["t_s"]
        keep = (t_s >= self.warmup_s) & (t_s < self.warmup_s + self.n_windows * self.window_s)
        if not keep.any():
            return
        window = ((t_s[keep] - self.warmup_s) // self.window_s).astype(np.int64)
        # float32 time: a row at the very end may round into the window after the last
        window = np.minimum(window, self.n_windows - 1)
        op = values["operation"][keep].astype(np.int64)
        outcome = values["outcome"][keep].astype(np.int64)
        self._grow(len(operations), len(outcomes))
        _, n_ops, n_out = self.counts.shape
        add_counts(self.counts.reshape(-1), (window * n_ops + op) * n_out + outcome)
        for metric in self.metrics:
            latency = self._latency(metric, values)[keep]
            counted = np.isfinite(latency) & (latency > 0)
            keys = (window[counted] * n_ops + op[counted]) * COUNTS_LEN
            add_counts(self.histograms[metric].reshape(-1), keys + hdr_index_ms(latency[counted]))

    def _latency(self, metric: str, values: dict[str, npt.NDArray[Any]]) -> npt.NDArray[np.float64]:
        if metric not in (SERVER_METRIC, DELIVERY_METRIC):
            return np.asarray(values[metric], np.float64)
        if SERVER_METRIC not in values:  # a segment written without the stamp
            return np.full(len(values["t_s"]), np.nan)
        server = np.asarray(values[SERVER_METRIC], np.float64)
        if metric == SERVER_METRIC:
            return server - self.offset_ms
        return np.asarray(values["notify_ms"], np.float64) - server + self.offset_ms

    def _grow(self, n_ops: int, n_out: int) -> None:
        _, ops_now, out_now = self.counts.shape
        if ops_now >= n_ops and out_now >= n_out:
            return
        grown = np.zeros((self.n_windows, max(ops_now, n_ops), max(out_now, n_out)), np.int64)
        grown[:, :ops_now, :out_now] = self.counts
        self.counts = grown
        for metric, table in self.histograms.items():
            wider = np.zeros((self.n_windows, grown.shape[1], COUNTS_LEN), np.int32)
            wider[:, :ops_now] = table
            self.histograms[metric] = wider

    # -- results -------------------------------------------------------------------

    def _codes(self, names: list[str], wanted: str | tuple[str, ...] | None) -> list[int]:
        if wanted is None:
            return list(range(len(names)))
        wanted = (wanted,) if isinstance(wanted, str) else wanted
        return [names.index(name) for name in wanted if name in names]

    def window_counts(
        self, operation: str | None, outcomes: tuple[str, ...] | None = None
    ) -> npt.NDArray[np.float64]:
        """Rows per window of ``operation`` (None: all) with one of ``outcomes`` (None: any)."""
        ops = self._codes(self.operations, operation)
        outs = self._codes(self.outcomes, outcomes)
        selected = self.counts[:, ops][:, :, outs]
        per_window: npt.NDArray[np.float64] = selected.sum(axis=(1, 2)).astype(np.float64)
        return per_window

    def window_histograms(self, metric: str, operation: str | None) -> Counts:
        """(window x HDR bucket) counts of ``metric`` for ``operation`` (None: all), cut
        after the last bucket used."""
        table = self.histograms[metric]
        matrix: Counts
        if operation is None:
            matrix = table.sum(axis=1, dtype=np.int64)
        elif operation in self.operations:
            matrix = table[:, self.operations.index(operation)].astype(np.int64)
        else:
            matrix = np.zeros((self.n_windows, 0), np.int64)
        used = np.flatnonzero(matrix.any(axis=0))
        width = int(used[-1]) + 1 if len(used) else 0
        return matrix[:, :width]

    @property
    def nbytes(self) -> int:
        """What the windows keep (the test of flat memory reads it)."""
        return self.counts.nbytes + sum(t.nbytes for t in self.histograms.values())


def compare_windows(
    run: RunFolder, window_s: float, metrics: tuple[str, ...] = END_TO_END
) -> CompareWindows:
    """``run``'s full measured windows of ``window_s``, from one more streamed pass."""
    n_windows = int((run.measure_end_s - run.warmup_s) // window_s)
    windows = CompareWindows(
        run.warmup_s, window_s, n_windows, offset_ms=clock_offset_ms(run), metrics=metrics
    )
    for values, operations, outcomes in event_batches(run.path, run.t0):
        windows.add(values, operations, outcomes)
    return windows
