"""HDR latency recording per tag, interval snapshots, shipping and exact merging.

A tag is ``<metric>.<operation>`` (``notify.StartCallRecording``); metrics are
``response``, ``notify`` and ``notify_from_intended`` (docs/run-folder.md,
latency.hlog). Values are recorded in microseconds into ``hdrh`` histograms that
track 1 us .. 1 h at 3 significant digits.

Flow::

    recorder = LatencyRecorder(start=time.time())      # one per process
    recorder.record("notify", "StartCallRecording", 12.5)   # milliseconds, hot path
    interval = recorder.take_interval(now=time.time())  # every few seconds; resets
    payload = interval.encode()        # msgpack-able dict, worker -> master
    merger.add(Interval.decode(payload))                 # master, per worker payload
    merged = merger.take()             # exact sum per tag -> HlogWriter.write(merged)

HDR addition is exact: percentiles of a merged histogram are those of one
histogram fed every value, never an average of percentiles.
Nothing here reads a clock: times are passed in (UNIX seconds).
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field

from hdrh.histogram import HdrHistogram

__all__ = [
    "HIGHEST_US",
    "LOWEST_US",
    "METRICS",
    "SIGNIFICANT_DIGITS",
    "Interval",
    "IntervalMerger",
    "LatencyRecorder",
    "free_histogram",
    "make_tag",
    "new_histogram",
    "reset_histogram",
    "split_tag",
]

#: lowest discernible value, microseconds
LOWEST_US = 1
#: highest trackable value: one hour in microseconds (larger values are clamped to it)
HIGHEST_US = 3_600_000_000
#: value precision of every histogram (0.1 %)
SIGNIFICANT_DIGITS = 3
#: metrics recorded per operation (the tag prefixes of latency.hlog)
METRICS = ("response", "notify", "notify_from_intended")


def new_histogram() -> HdrHistogram:
    """An empty histogram with the run-folder parameters (1 us .. 1 h, 3 digits)."""
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)


def free_histogram(histogram: HdrHistogram) -> None:
    """Let go of a histogram nobody will use again, now.

    An hdrh histogram and its encoder refer to each other: dropped as they are, the
    pair (and its ~190 KB counts array) waits for a full collection of the cyclic
    garbage collector, which, with the long-lived heap frozen, comes rarely; a
    process making a few every 2 seconds grows by megabytes between collections.
    Breaking the cycle frees it by reference counting. Do not use it afterwards.
    """
    histogram.encoder = None


def reset_histogram(histogram: HdrHistogram) -> None:
    """Empty a histogram for reuse, as ``HdrHistogram.reset`` does, but clearing its
    counts array in one ``memset`` instead of a Python loop over its ~23,500 counters
    (1 ms each, on the event loop of the process that ships them)."""
    counts = histogram.counts
    ctypes.memset(ctypes.addressof(counts), 0, ctypes.sizeof(counts))
    histogram.total_count = 0
    histogram.min_value = sys.maxsize
    histogram.max_value = 0
    histogram.start_time_stamp_msec = sys.maxsize
    histogram.end_time_stamp_msec = 0


def make_tag(metric: str, operation: str) -> str:
    """``make_tag("notify", "StartCallRecording") == "notify.StartCallRecording"``."""
    return f"{metric}.{operation}"


def split_tag(tag: str) -> tuple[str, str]:
    """Inverse of :func:`make_tag`: ``(metric, operation)``."""
    metric, _, operation = tag.partition(".")
    return metric, operation


@dataclass(slots=True)
class Interval:
    """Histograms of one time interval, per tag. ``start``/``end`` are UNIX seconds."""

    start: float
    end: float
    histograms: dict[str, HdrHistogram] = field(default_factory=dict)

    def total_count(self) -> int:
        """Number of values recorded in the interval, over all tags."""
        return sum(int(h.get_total_count()) for h in self.histograms.values())

    def encode(self) -> dict[str, object]:
        """A msgpack/JSON-able form: ``{"start", "end", "tags": {tag: compressed str}}``."""
        return {
            "start": self.start,
            "end": self.end,
            "tags": {tag: h.encode().decode("ascii") for tag, h in self.histograms.items()},
        }

    @classmethod
    def decode(cls, payload: Mapping[str, object]) -> Interval:
        """Rebuild an interval from :meth:`encode`'s output."""
        tags = payload["tags"]
        if not isinstance(tags, Mapping):
            raise ValueError("interval payload: 'tags' must be a mapping")
        histograms = {str(tag): HdrHistogram.decode(blob) for tag, blob in tags.items()}
        return cls(_as_float(payload["start"]), _as_float(payload["end"]), histograms)


def _as_float(value: object) -> float:
    if not isinstance(value, int | float):
        raise ValueError(f"interval payload: expected a number, got {value!r}")
    return float(value)


class LatencyRecorder:
    """Per-tag HDR histograms of the current interval (one per process).

    Not thread-safe; meant for one gevent process (greenlets do not preempt
    between the statements of :meth:`record`).
    """

    __slots__ = ("_clamped", "_current", "_spare", "_start")

    def __init__(self, start: float) -> None:
        self._start = start
        self._current: dict[str, HdrHistogram] = {}
        #: histograms of earlier intervals, emptied, for reuse (see :meth:`recycle`)
        self._spare: list[HdrHistogram] = []
        self._clamped = 0

    @property
    def clamped(self) -> int:
        """Values outside 0 .. 1 h, recorded as the nearest bound (should stay 0)."""
        return self._clamped

    def record(self, metric: str, operation: str, value_ms: float) -> None:
        """Record one latency in milliseconds under ``<metric>.<operation>``."""
        self.record_us(f"{metric}.{operation}", int(value_ms * 1000.0 + 0.5))

    def record_us(self, tag: str, value_us: int) -> None:
        """Record one latency in whole microseconds under ``tag``."""
        histogram = self._current.get(tag)
        if histogram is None:
            spare = self._spare
            histogram = self._current[tag] = spare.pop() if spare else new_histogram()
        if value_us < 0 or value_us > HIGHEST_US:
            self._clamped += 1
            value_us = 0 if value_us < 0 else HIGHEST_US
        histogram.record_value(value_us)

    def take_interval(self, now: float) -> Interval:
        """The histograms recorded since the last call (or the start), and reset.

        Tags with no value in the interval are absent.
        """
        interval = Interval(self._start, now, self._current)
        self._current = {}
        self._start = now
        return interval

    def recycle(self, interval: Interval) -> None:
        """Take back an interval's histograms once it has been encoded: they are emptied
        and reused by the next intervals, so a long run allocates none after its first
        intervals. The interval must not be used afterwards."""
        for histogram in interval.histograms.values():
            reset_histogram(histogram)
            self._spare.append(histogram)
        interval.histograms = {}


class IntervalMerger:
    """Master side: adds intervals from any number of workers, tag by tag, exactly.

    :meth:`take` returns everything added since the previous call as one
    interval spanning the earliest start to the latest end, and resets.
    """

    __slots__ = ("_end", "_histograms", "_start")

    def __init__(self) -> None:
        self._histograms: dict[str, HdrHistogram] = {}
        self._start: float | None = None
        self._end: float | None = None

    def add(self, interval: Interval) -> None:
        """Add an interval's histograms (empty ones are skipped).

        Takes ownership of the interval's histograms (the first one seen per tag
        becomes the sum, the others are freed): do not use them afterwards.
        """
        for tag, histogram in interval.histograms.items():
            if histogram.get_total_count() == 0:
                # hdrh's add() with an empty side sets the minimum to 0
                free_histogram(histogram)
                continue
            merged = self._histograms.get(tag)
            if merged is None:
                self._histograms[tag] = histogram
            else:
                merged.add(histogram)
                free_histogram(histogram)
        self._start = interval.start if self._start is None else min(self._start, interval.start)
        self._end = interval.end if self._end is None else max(self._end, interval.end)

    def take(self, now: float | None = None) -> Interval | None:
        """The merged interval since the last take (None when nothing was added).

        ``now`` extends the interval's end when later than every added end.
        """
        if self._start is None or self._end is None:
            return None
        end = self._end if now is None else max(self._end, now)
        interval = Interval(self._start, end, self._histograms)
        self._histograms = {}
        self._start = self._end = None
        return interval
