"""Signed latency histograms of the digest: the server-side part of a notification's
latency and its delivery, measured across two clocks, can be negative.

Both parts come from the rows' own columns (``server_notify_ms``: request sent ->
the server's timestamp of the notification; delivery = ``notify_ms`` minus it) and
are kept raw, before the clock offset is known: a shift moves every percentile by
the same amount, so :mod:`gwsload.analysis.latency_split` applies it afterwards.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from gwsload.analysis.hdr import COUNTS_LEN, index_of_values

__all__ = ["SignedHistogram", "SplitByOperation", "SplitWindows", "add_counts", "hdr_index_ms"]

Counts = npt.NDArray[np.int64]


def hdr_index_ms(values_ms: npt.NDArray[Any]) -> npt.NDArray[np.int64]:
    """Canonical HDR bucket of each finite latency (ms, rounded to whole microseconds)."""
    return index_of_values(np.round(values_ms.astype(np.float64) * 1000.0).astype(np.int64))


def add_counts(into: npt.NDArray[np.signedinteger[Any]], keys: npt.NDArray[np.int64]) -> None:
    """``into[k] += (keys == k).sum()`` for every k, by one bincount over the keys' range."""
    if len(keys) == 0:
        return
    low = int(keys.min())
    counted = np.bincount(keys - low)
    into[low : low + len(counted)] += counted


@dataclass
class SignedHistogram:
    """HDR counts of values that may be negative: one histogram per sign, and the exact
    minimum and the count below zero."""

    negative: Counts = field(default_factory=lambda: np.zeros(COUNTS_LEN, np.int64))
    positive: Counts = field(default_factory=lambda: np.zeros(COUNTS_LEN, np.int64))
    minimum: float = math.inf
    below_zero: int = 0

    def add(self, values_ms: npt.NDArray[Any]) -> None:
        values = values_ms[np.isfinite(values_ms)]
        if len(values) == 0:
            return
        self.minimum = min(self.minimum, float(values.min()))
        negative = values < 0
        self.below_zero += int(negative.sum())
        add_counts(self.negative, hdr_index_ms(-values[negative]))
        add_counts(self.positive, hdr_index_ms(values[~negative]))

    @property
    def count(self) -> int:
        return int(self.negative.sum() + self.positive.sum())


@dataclass
class SplitWindows:
    """Per window, the ok rows with a server stamp: their raw server part (``server_ms``)
    and delivery part (``notify_ms - server_ms``) as signed HDR histograms, before the
    clock offset is known (latency_split applies it)."""

    #: (negative, positive) x window x bucket
    server: Counts
    delivery: Counts
    count: Counts
    #: ok rows with a server stamp (the count above also needs the notification time)
    stamped: int = 0
    #: exact minima of the raw parts over the rows counted: the clock offset's bounds
    server_min_ms: float = math.inf
    delivery_min_ms: float = math.inf

    @classmethod
    def empty(cls, n_windows: int) -> SplitWindows:
        return cls(
            np.zeros((2, n_windows, COUNTS_LEN), np.int64),
            np.zeros((2, n_windows, COUNTS_LEN), np.int64),
            np.zeros(n_windows, np.int64),
        )

    def add(
        self, window: npt.NDArray[np.int64], server: npt.NDArray[Any], notify: npt.NDArray[Any]
    ) -> None:
        stamped = np.isfinite(server)
        self.stamped += int(stamped.sum())
        usable = stamped & np.isfinite(notify)
        window, server, notify = window[usable], server[usable], notify[usable]
        add_counts(self.count, window)
        if len(server):
            self.server_min_ms = min(self.server_min_ms, float(server.min()))
            self.delivery_min_ms = min(self.delivery_min_ms, float((notify - server).min()))
        for table, values in ((self.server, server), (self.delivery, notify - server)):
            negative = values < 0
            for sign, rows in ((0, negative), (1, ~negative)):
                keys = (sign * table.shape[1] + window[rows]) * COUNTS_LEN
                add_counts(table.reshape(-1), keys + hdr_index_ms(np.abs(values[rows])))


@dataclass
class SplitByOperation:
    """Per operation code, the measured ok rows' raw server part and delivery part."""

    server: dict[int, SignedHistogram] = field(default_factory=dict)
    delivery: dict[int, SignedHistogram] = field(default_factory=dict)

    def add(
        self, op: npt.NDArray[np.int64], server: npt.NDArray[Any], notify: npt.NDArray[Any]
    ) -> None:
        usable = np.isfinite(server) & np.isfinite(notify)
        op, server, delivery = op[usable], server[usable], notify[usable] - server[usable]
        for code in np.unique(op).tolist():
            mine = op == code
            self.server.setdefault(code, SignedHistogram()).add(server[mine])
            self.delivery.setdefault(code, SignedHistogram()).add(delivery[mine])
