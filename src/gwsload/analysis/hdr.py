"""HDR histograms as numpy count arrays, and the reader of ``latency.hlog``.

The run folder records latencies in microseconds, 1 us to 1 hour, 3 significant
digits (docs/run-folder.md). Every histogram is folded into that one canonical
bucket layout, so adding two histograms is adding two arrays, exactly as HDR
addition is defined. Percentiles follow the ``hdrh`` package to the bucket:
the value reported for a percentile is the highest value equivalent to the
bucket that holds the target count, which is what HdrHistogram tools print.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from hdrh.codec import HdrHistogramEncoder, payload_header_size
from hdrh.histogram import HdrHistogram
from pyhdrh import decode as decode_counts

from gwsload.contract.periods import interval_is_measured
from gwsload.errors import ConfigError

__all__ = [
    "COUNTS_LEN",
    "HdrCounts",
    "HlogInterval",
    "counts_from_values_us",
    "index_of_values",
    "iter_hlog",
    "lowest_value_of_index",
    "percentile_rows_us",
    "percentile_us",
    "read_hlog_totals",
    "round_sig",
    "signed_percentile_us",
]

LOWEST_US = 1
HIGHEST_US = 3_600_000_000
SIGNIFICANT_DIGITS = 3
#: sub-bucket layout of a 3-significant-digit histogram starting at 1 us
_HALF_COUNT_MAGNITUDE = 10
_HALF_COUNT = 1 << _HALF_COUNT_MAGNITUDE
_SUB_BUCKET_MASK = (2 * _HALF_COUNT) - 1
COUNTS_LEN = HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS).counts_len

Counts = npt.NDArray[np.int64]


def index_of_values(values_us: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Bucket index of each value (integer microseconds >= 0) in the canonical layout."""
    v = np.clip(np.asarray(values_us, dtype=np.int64), 0, HIGHEST_US)
    # bit length of (v | mask): exact through float64 for values below 2**53
    bit_length = np.frexp((v | _SUB_BUCKET_MASK).astype(np.float64))[1].astype(np.int64)
    bucket = bit_length - (_HALF_COUNT_MAGNITUDE + 1)
    sub_bucket = v >> bucket
    return ((bucket + 1) << _HALF_COUNT_MAGNITUDE) + sub_bucket - _HALF_COUNT


def _value_of_index(
    index: npt.NDArray[np.int64], half_magnitude: int, unit_magnitude: int
) -> npt.NDArray[np.int64]:
    half = 1 << half_magnitude
    bucket = (index >> half_magnitude) - 1
    sub_bucket = (index & (half - 1)) + half
    first = bucket < 0
    sub_bucket = np.where(first, sub_bucket - half, sub_bucket)
    bucket = np.where(first, 0, bucket)
    return sub_bucket << (bucket + unit_magnitude)


def lowest_value_of_index(index: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Lowest microsecond value that falls in each canonical bucket."""
    return _value_of_index(np.asarray(index, dtype=np.int64), _HALF_COUNT_MAGNITUDE, 0)


def _highest_value_of_index(index: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    # buckets are contiguous: the next bucket starts right after this one ends
    return lowest_value_of_index(index + 1) - 1


def counts_from_values_us(values_us: npt.ArrayLike) -> Counts:
    """A canonical count array holding every value given (microseconds)."""
    idx = index_of_values(values_us)
    return np.bincount(idx, minlength=COUNTS_LEN).astype(np.int64)


def percentile_us(counts: Counts, percentiles: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Values at the given percentiles (0..100), as ``hdrh`` computes them; NaN if empty.

    ``100`` gives the maximum (the highest value equivalent to the last bucket used).
    """
    pcts = np.asarray(percentiles, dtype=np.float64)
    total = int(counts.sum())
    if total == 0:
        return np.full(pcts.shape, np.nan)
    cumulative = np.cumsum(counts)
    target = np.maximum(((np.minimum(pcts, 100.0) * total / 100.0) + 0.5).astype(np.int64), 1)
    index = np.searchsorted(cumulative, target, side="left").astype(np.int64)
    values = np.where(pcts > 0, _highest_value_of_index(index), lowest_value_of_index(index))
    return values.astype(np.float64)


def percentile_rows_us(
    counts: npt.NDArray[np.int64], percentiles: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """``percentile_us`` for every row of a 2-D count matrix (a prefix of the canonical layout).

    Returns shape (rows, len(percentiles)); NaN for empty rows.
    """
    pcts = np.asarray(percentiles, dtype=np.float64)
    cumulative = np.cumsum(counts, axis=1)
    total = cumulative[:, -1] if counts.shape[1] else np.zeros(len(counts), np.int64)
    out = np.full((len(counts), len(pcts)), np.nan)
    for j, p in enumerate(pcts):
        target = np.maximum(((min(p, 100.0) * total / 100.0) + 0.5).astype(np.int64), 1)
        index = (cumulative < target[:, None]).sum(axis=1).astype(np.int64)
        values = _highest_value_of_index(index) if p > 0 else lowest_value_of_index(index)
        out[:, j] = np.where(total > 0, values, np.nan)
    return out


def signed_percentile_us(
    negative: Counts, positive: Counts, percentiles: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """Percentiles (0..100) of values of either sign held as two canonical histograms:
    ``negative`` counts the magnitudes of the values below zero. Nearest rank as
    :func:`percentile_us`, each bucket standing for its highest value (for a negative
    bucket: minus its lowest magnitude). NaN when both are empty."""
    pcts = np.asarray(percentiles, dtype=np.float64)
    # ascending order: the negative buckets from the largest magnitude down, then the rest
    counts = np.concatenate([negative[::-1], positive])
    total = int(counts.sum())
    if total == 0:
        return np.full(pcts.shape, np.nan)
    cumulative = np.cumsum(counts)
    target = np.maximum(((np.minimum(pcts, 100.0) * total / 100.0) + 0.5).astype(np.int64), 1)
    at = np.searchsorted(cumulative, target, side="left").astype(np.int64)
    below = at < len(negative)
    magnitude = lowest_value_of_index(np.where(below, len(negative) - 1 - at, 0))
    above = _highest_value_of_index(np.where(below, 0, at - len(negative)))
    return np.where(below, -magnitude, above).astype(np.float64)


def round_sig(value: float, digits: int = SIGNIFICANT_DIGITS) -> float:
    """``value`` rounded to ``digits`` significant digits (NaN stays NaN)."""
    if not np.isfinite(value) or value == 0:
        return float(value)
    return float(f"{value:.{digits}g}")


@dataclass(frozen=True, slots=True)
class HdrCounts:
    """One histogram (canonical layout) with the metric and operation of its tag."""

    metric: str
    operation: str
    counts: Counts

    @property
    def total(self) -> int:
        return int(self.counts.sum())


@dataclass(frozen=True, slots=True)
class HlogInterval:
    """One line of an interval log: which tag, when (UNIX seconds), and its counts."""

    tag: str
    start: float
    length_s: float
    counts: Counts


_START_TIME = re.compile(r"#\[StartTime:\s*([\d.]+)")
_BASE_TIME = re.compile(r"#\[BaseTime:\s*([\d.]+)")
_YEAR_S = 365 * 24 * 3600.0


#: the canonical layout, as the header of an encoded histogram states it
_CANONICAL = (LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS, 0)


def _add_canonical(payload: str, into: Counts, scratch: Counts) -> bool:
    """Decode a histogram of the canonical layout straight into ``scratch`` and add it
    to ``into``; False (nothing added) for any other layout. Skips building an
    HdrHistogram (a fresh ctypes counts array per line: most of a day-long log's
    reading time)."""
    decoded = HdrHistogramEncoder.decode(payload)
    header = decoded.payload
    layout = (
        header.lowest_trackable_value,
        header.highest_trackable_value,
        header.significant_figures,
        header.normalizing_index_offset,
    )
    if layout != _CANONICAL:
        return False
    scratch[:] = 0
    decode_counts(decoded._data, payload_header_size, scratch.ctypes.data, COUNTS_LEN, 8)
    into += scratch
    return True


def _add_decoded(payload: str, into: Counts, scratch: Counts | None = None) -> None:
    """Decode one histogram and add its counts to ``into`` (canonical layout), in place."""
    if scratch is not None and _add_canonical(payload, into, scratch):
        return
    hist = HdrHistogram.decode(payload)
    raw = np.ctypeslib.as_array(hist.counts).view(np.int64)
    if hist.unit_magnitude == 0 and hist.sub_bucket_half_count_magnitude == _HALF_COUNT_MAGNITUDE:
        n = min(len(raw), COUNTS_LEN)
        into[:n] += raw[:n]
        into[COUNTS_LEN - 1] += raw[n:].sum()
        return
    # another layout: re-bucket by the value each bucket stands for
    nonzero = np.flatnonzero(raw).astype(np.int64)
    values = _value_of_index(nonzero, hist.sub_bucket_half_count_magnitude, hist.unit_magnitude)
    into += np.bincount(index_of_values(values), weights=raw[nonzero], minlength=COUNTS_LEN).astype(
        np.int64
    )


def _decode_counts(payload: str) -> Counts:
    counts = np.zeros(COUNTS_LEN, dtype=np.int64)
    _add_decoded(payload, counts)
    return counts


_Line = tuple[int, str, float, float, str, float]


def _hlog_lines(path: Path) -> Iterator[_Line]:
    """(line number, tag, absolute start, length, payload, the start as written) of each
    interval line."""
    start_time: float | None = None
    base_time: float | None = None
    with path.open(encoding="utf-8") as lines:
        for number, raw_line in enumerate(lines, start=1):
            line = raw_line.strip()
            if not line or line.startswith('"'):
                continue
            if line.startswith("#"):
                if match := _START_TIME.match(line):
                    start_time = float(match.group(1))
                elif match := _BASE_TIME.match(line):
                    base_time = float(match.group(1))
                continue
            tag = ""
            if line.startswith("Tag="):
                tag, _, line = line[4:].partition(",")
            try:
                start_s, length_s, _max, payload = line.split(",", 3)
                start, length = float(start_s), float(length_s)
            except ValueError as exc:
                raise _bad_line(path, number, exc) from exc
            if start_time is None:
                start_time = start
            if base_time is None:
                base_time = start_time if start < start_time - _YEAR_S else 0.0
            yield number, tag, start + base_time, length, payload, start


def _bad_line(path: Path, number: int, exc: Exception) -> ConfigError:
    return ConfigError(
        f"{path}:{number}: not an HdrHistogram interval line "
        f"(expected Tag=<metric>.<operation>,start,length,max,histogram): {exc}"
    )


def iter_hlog(path: Path) -> Iterator[HlogInterval]:
    """Interval histograms of an HdrHistogram log, start times made absolute.

    Timestamps are absolute unless a ``BaseTime`` is given or they are more than a
    year before ``StartTime`` (then relative to it), as the HdrHistogram log readers do.
    Raises ConfigError naming the line when a line cannot be decoded.
    """
    for number, tag, start, length, payload, _ in _hlog_lines(path):
        try:
            counts = _decode_counts(payload)
        except Exception as exc:
            raise _bad_line(path, number, exc) from exc
        yield HlogInterval(tag=tag, start=start, length_s=length, counts=counts)


def read_hlog_totals(
    path: Path, *, t0: float, from_s: float, to_s: float = float("inf")
) -> list[HdrCounts]:
    """Per-tag sums of the intervals in the measured period ``[from_s, to_s)`` (seconds
    since ``t0``), by the contract's rule (:func:`gwsload.contract.periods.interval_is_measured`).

    Tags are ``<metric>.<operation>``; a tag without a dot is kept with operation ``*``.
    Intervals outside the period are not even decoded.
    """
    totals: dict[str, Counts] = {}
    scratch = np.zeros(COUNTS_LEN, dtype=np.int64)
    for number, tag, start, length, payload, written in _hlog_lines(path):
        # gwsload writes starts relative to t0 (to the ms): judge those numbers as written
        since_t0 = written if abs((start - written) - t0) < 0.001 else start - t0
        if not interval_is_measured(since_t0, length, from_s, to_s):
            continue
        if tag not in totals:
            totals[tag] = np.zeros(COUNTS_LEN, dtype=np.int64)
        try:
            _add_decoded(payload, totals[tag], scratch)
        except Exception as exc:
            raise _bad_line(path, number, exc) from exc
    result = []
    for tag, counts in sorted(totals.items()):
        metric, _, operation = tag.partition(".")
        result.append(HdrCounts(metric=metric, operation=operation or "*", counts=counts))
    return result
