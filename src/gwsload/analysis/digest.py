"""Incremental aggregates of the events: what every report section needs, in one pass.

The events are never held: each batch of rows (a segment, or a slice of a large
one) is folded into counts and HDR histograms whose size does not depend on the
number of operations. What a batch adds is decided by a :class:`DigestPlan` made
from the manifest before the pass (measured period, capacity steps, time windows,
latency bands, outage ends), so every statistic is exactly what the same rule
over all the rows gives, except percentiles: those come from the canonical HDR
buckets (:func:`gwsload.analysis.hdr.index_of_values`, 3 significant digits: at
most 0.1 % of the value, 1 us below 2 ms), as the headline's always did.

Time is float32 seconds since ``t0`` (as the periods have always been judged).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from gwsload.analysis.digest_split import (
    SignedHistogram,
    SplitByOperation,
    SplitWindows,
    add_counts,
    hdr_index_ms,
)
from gwsload.analysis.hdr import COUNTS_LEN

__all__ = [
    "DISPLAY_SAMPLE",
    "DigestPlan",
    "EventDigest",
    "PeriodDigest",
    "SignedHistogram",
    "SplitByOperation",
    "SplitWindows",
    "add_counts",
    "choose_window_s",
    "hdr_index_ms",
]

Counts = npt.NDArray[np.int64]
#: latency columns with full HDR histograms per period and operation
PERIOD_METRICS = ("response_ms", "notify_ms", "notify_from_intended_ms")
#: latency columns with HDR histograms per time window and operation
WINDOW_METRICS = ("response_ms", "notify_ms")
#: at most this many measured rows are kept for the display histograms
DISPLAY_SAMPLE = 1_000_000
_WINDOW_CHOICES = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)


def choose_window_s(duration_s: float, *, target_windows: int = 120) -> float:
    """The smallest round window length giving at most ``target_windows`` windows."""
    for window in _WINDOW_CHOICES:
        if duration_s / window <= target_windows:
            return float(window)
    return float(_WINDOW_CHOICES[-1])


def _equal(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> bool:
    return a is b or bool(np.array_equal(a, b, equal_nan=True))


def _grow(array: Counts, rows: int) -> Counts:
    """``array`` with at least ``rows`` rows along axis 0 (new rows zero)."""
    if array.shape[0] >= rows:
        return array
    grown = np.zeros((rows, *array.shape[1:]), np.int64)
    grown[: array.shape[0]] = array
    return grown


@dataclass(frozen=True)
class DigestPlan:
    """What to aggregate, decided from the manifest before reading any event."""

    warmup_s: float
    #: end of the data (last event or the run's duration), seconds since t0
    end_s: float
    measure_end_s: float
    #: time-series window (s) and the number of windows (the last takes everything later)
    window_s: float
    n_windows: int
    #: [from_s, to_s) of each capacity step, by stage index
    steps: dict[int, tuple[float, float]] = field(default_factory=dict)
    #: latency band edges (ms) of the notification latency
    band_edges_ms: tuple[float, ...] = (800.0, 1200.0)
    #: the first ok operation at or after each of these times is kept (outage ends)
    first_ok_after_s: tuple[float, ...] = ()
    #: one measured row in this many (by row number) is kept for the display histograms
    sample_every: int = 1
    #: a start lag above this (ms) is a late start (coordinated omission)
    late_start_ms: float = 10.0


@dataclass
class PeriodDigest:
    """Counts and full HDR histograms of the rows sent in one period."""

    #: (operation code, outcome code) counts; rows grow with the operations seen
    counts: Counts = field(default_factory=lambda: np.zeros((0, 0), np.int64))
    #: metric -> (operation code, HDR bucket) counts
    histograms: dict[str, Counts] = field(default_factory=dict)

    def add(
        self, op: npt.NDArray[np.int64], outcome: npt.NDArray[np.int64], n_ops: int, n_out: int
    ) -> None:
        if self.counts.shape[1] < n_out:
            wider = np.zeros((self.counts.shape[0], n_out), np.int64)
            wider[:, : self.counts.shape[1]] = self.counts
            self.counts = wider
        self.counts = _grow(self.counts, n_ops)
        flat = self.counts.reshape(-1)
        add_counts(flat, op * self.counts.shape[1] + outcome)

    def add_latency(
        self, metric: str, op: npt.NDArray[np.int64], bucket: npt.NDArray[np.int64]
    ) -> None:
        """Count the rows' HDR buckets (``bucket``: -1 where the value is missing)."""
        counted = bucket >= 0
        if not counted.all():
            op, bucket = op[counted], bucket[counted]
        if len(op) == 0:
            return
        empty = np.zeros((0, COUNTS_LEN), np.int64)
        table = _grow(self.histograms.get(metric, empty), int(op.max()) + 1)
        add_counts(table.reshape(-1), op * COUNTS_LEN + bucket)
        self.histograms[metric] = table


def _buckets(values_ms: npt.NDArray[Any]) -> npt.NDArray[np.int64]:
    """Canonical HDR bucket of every row, -1 where the value is missing (NaN)."""
    finite = np.isfinite(values_ms)
    if finite.all():
        return hdr_index_ms(values_ms)
    bucket = np.full(len(values_ms), -1, np.int64)
    bucket[finite] = hdr_index_ms(values_ms[finite])
    return bucket


@dataclass
class EventDigest:
    """The aggregates of one run's events (filled by :meth:`add`, batch by batch)."""

    plan: DigestPlan
    operations: list[str] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)
    rows: int = 0
    #: largest t_s seen (NaN when no row)
    last_t_s: float = math.nan
    #: (window, operation, outcome) counts
    window_counts: Counts = field(default_factory=lambda: np.zeros((0, 0, 0), np.int64))
    #: metric -> (window, operation code, HDR bucket) counts
    window_histograms: dict[str, Counts] = field(default_factory=dict)
    measured: PeriodDigest = field(default_factory=PeriodDigest)
    steps: dict[int, PeriodDigest] = field(default_factory=dict)
    #: measured non-ok rows: (outcome, http_status, status_code) -> count
    kinds: dict[tuple[str, int, int], int] = field(default_factory=dict)
    #: measured ok rows with a notification: (operation code, band) counts
    bands: Counts = field(default_factory=lambda: np.zeros((0, 0), np.int64))
    #: notification time minus response time of the measured rows
    notify_order: SignedHistogram = field(default_factory=SignedHistogram)
    #: rows sent after the warm-up, and those among them that started late
    after_warmup: int = 0
    late_starts: int = 0
    first_ok_after: list[float] = field(default_factory=list)
    #: server vs delivery per window (None: the folder has no server stamps)
    split_windows: SplitWindows | None = None
    #: server vs delivery of the measured ok rows, per operation (None: no server stamps)
    split_measured: SplitByOperation | None = None
    #: the display sample: op (code), notify_ms, response_ms -> the batches' parts
    sample: dict[str, list[npt.NDArray[Any]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.first_ok_after = [math.inf] * len(self.plan.first_ok_after_s)
        self.bands = np.zeros((0, len(self.plan.band_edges_ms) + 1), np.int64)
        self.steps = {index: PeriodDigest() for index in self.plan.steps}
        self.window_counts = np.zeros((self.plan.n_windows, 0, 0), np.int64)

    def add(
        self,
        t_s: npt.NDArray[np.float32],
        op: npt.NDArray[np.int64],
        outcome: npt.NDArray[np.int64],
        columns: dict[str, npt.NDArray[Any]],
        statuses: tuple[npt.NDArray[Any], npt.NDArray[Any]],
    ) -> None:
        """Fold one batch in. ``op`` and ``outcome`` index :attr:`operations` and
        :attr:`outcomes` (kept up to date by the reader); ``columns`` holds the
        latency columns (ms) and ``start_lag_ms``; ``statuses`` the HTTP status and
        statusCode of each row."""
        plan, n = self.plan, len(t_s)
        if n == 0:
            return
        n_ops, n_out = len(self.operations), len(self.outcomes)
        first_row, self.rows = self.rows, self.rows + n
        self.last_t_s = float(np.nanmax([self.last_t_s, float(t_s.max())]))
        ok_code = self.outcomes.index("ok") if "ok" in self.outcomes else -1
        is_ok = outcome == ok_code
        # every latency's bucket once per batch; a column equal to another shares it
        buckets: dict[str, npt.NDArray[np.int64]] = {}
        for metric in (*PERIOD_METRICS, *WINDOW_METRICS):
            if metric in buckets or metric not in columns:
                continue
            same = next(
                (m for m in buckets if columns[m] is columns[metric]),
                None,
            )
            if same is None and metric == "notify_from_intended_ms":
                same = "notify_ms" if _equal(columns[metric], columns["notify_ms"]) else None
            buckets[metric] = buckets[same] if same else _buckets(columns[metric])
        window = self._windows(
            t_s, op=op, outcome=outcome, buckets=buckets, n_ops=n_ops, n_out=n_out
        )
        measured = (t_s >= plan.warmup_s) & (t_s < plan.measure_end_s)
        if "server_notify_ms" in columns:
            if self.split_windows is None or self.split_measured is None:
                self.split_windows = SplitWindows.empty(plan.n_windows)
                self.split_measured = SplitByOperation()
            server, notify = columns["server_notify_ms"], columns["notify_ms"]
            self.split_windows.add(window[is_ok], server[is_ok], notify[is_ok])
            rows = is_ok & measured
            self.split_measured.add(op[rows], server[rows], notify[rows])
        periods = [(self.measured, measured)]
        periods += [(self.steps[i], (t_s >= lo) & (t_s < hi)) for i, (lo, hi) in plan.steps.items()]
        for period, rows in periods:
            if rows.all():  # most batches lie inside a period: no copies
                period.add(op, outcome, n_ops, n_out)
                for metric in PERIOD_METRICS:
                    period.add_latency(metric, op, buckets[metric])
            elif rows.any():
                period.add(op[rows], outcome[rows], n_ops, n_out)
                for metric in PERIOD_METRICS:
                    period.add_latency(metric, op[rows], buckets[metric][rows])
        self._kinds(measured & ~is_ok, outcome, statuses)
        notify = columns["notify_ms"]
        banded = measured & is_ok & np.isfinite(notify)
        self.bands = _grow(self.bands, n_ops)
        band = np.searchsorted(np.asarray(plan.band_edges_ms), notify[banded], side="right")
        add_counts(self.bands.reshape(-1), op[banded] * self.bands.shape[1] + band)
        self.notify_order.add(notify[measured] - columns["response_ms"][measured])
        after = t_s >= plan.warmup_s
        self.after_warmup += int(after.sum())
        self.late_starts += int((columns["start_lag_ms"][after] > plan.late_start_ms).sum())
        ok_times = t_s[is_ok].astype(np.float64) if plan.first_ok_after_s else t_s[:0]
        for i, since in enumerate(plan.first_ok_after_s):
            later = ok_times[ok_times >= since]
            if len(later):
                self.first_ok_after[i] = min(self.first_ok_after[i], float(later.min()))
        step = plan.sample_every
        picked = np.arange((-first_row) % step, n, step)
        picked = picked[measured[picked]]
        for name, values in (
            ("op", op),
            ("notify_ms", notify),
            ("response_ms", columns["response_ms"]),
        ):
            self.sample.setdefault(name, []).append(values[picked])

    def _windows(
        self,
        t_s: npt.NDArray[np.float32],
        *,
        op: npt.NDArray[np.int64],
        outcome: npt.NDArray[np.int64],
        buckets: dict[str, npt.NDArray[np.int64]],
        n_ops: int,
        n_out: int,
    ) -> npt.NDArray[np.int64]:
        """Counts and latency histograms per window; returns each row's window."""
        plan = self.plan
        # multiplying beats float floor division; the last window takes anything later
        scaled = np.clip(t_s * np.float32(1.0 / plan.window_s), 0, plan.n_windows - 1)
        window: npt.NDArray[np.int64] = scaled.astype(np.int64)
        shape = self.window_counts.shape
        if shape[1] < n_ops or shape[2] < n_out:
            grown = np.zeros((plan.n_windows, max(shape[1], n_ops), max(shape[2], n_out)), np.int64)
            grown[:, : shape[1], : shape[2]] = self.window_counts
            self.window_counts = grown
        _, ops_dim, out_dim = self.window_counts.shape
        add_counts(self.window_counts.reshape(-1), (window * ops_dim + op) * out_dim + outcome)
        for metric in WINDOW_METRICS:
            if metric not in buckets:
                continue
            table = self.window_histograms.get(metric)
            if table is None or table.shape[1] < n_ops:
                grown = np.zeros((plan.n_windows, n_ops, COUNTS_LEN), np.int64)
                if table is not None:
                    grown[:, : table.shape[1]] = table
                self.window_histograms[metric] = table = grown
            bucket = buckets[metric]
            counted = bucket >= 0
            # (window, operation, bucket): a batch spans few windows, so the bincount
            # behind add_counts stays small
            keys = (window[counted] * table.shape[1] + op[counted]) * COUNTS_LEN + bucket[counted]
            add_counts(table.reshape(-1), keys)
        return window

    def _kinds(
        self,
        rows: npt.NDArray[np.bool_],
        outcome: npt.NDArray[np.int64],
        statuses: tuple[npt.NDArray[Any], npt.NDArray[Any]],
    ) -> None:
        if not rows.any():
            return
        http, status = statuses
        keys = np.stack([outcome[rows], http[rows], status[rows]], axis=1)
        unique, counts = np.unique(keys, axis=0, return_counts=True)
        for (o, h, s), count in zip(unique.tolist(), counts.tolist(), strict=True):
            key = (self.outcomes[o], int(h), int(s))
            self.kinds[key] = self.kinds.get(key, 0) + int(count)

    # -- results -------------------------------------------------------------------

    def display_sample(self) -> dict[str, npt.NDArray[Any]]:
        """The display sample, in row order: ``op`` (code), ``notify_ms``, ``response_ms``."""
        return {
            name: np.concatenate(self.sample[name]) if name in self.sample else np.zeros(0)
            for name in ("op", "notify_ms", "response_ms")
        }

    def period(self, index: int | None) -> PeriodDigest:
        """The measured period (None) or a capacity step."""
        return self.measured if index is None else self.steps[index]

    def operation_names(self, codes: Iterable[int]) -> list[str]:
        return [self.operations[c] for c in codes]
