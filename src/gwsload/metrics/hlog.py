"""The ``latency.hlog`` writer and reader (HdrHistogram interval log, tagged lines).

``hdrh``'s ``HistogramLogWriter`` writes no ``Tag=`` field (its reader does parse
it), so the lines are written here, in the layout of the Java reference writer::

    #[Histogram log format version 1.3]
    #[StartTime: 1795952117.800 (seconds since epoch), 2026-11-29 12:00:00]
    #[BaseTime: 1795952117.800 (seconds since epoch)]
    "StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"
    Tag=notify.StartCallRecording,0.000,5.000,12.345,HISTFAAAA...

Timestamps are seconds relative to BaseTime (= the run's ``t0``); Interval_Max is
in milliseconds (values are microseconds, max value unit ratio 1000). Each
interval is flushed as written, so a killed run keeps every complete line;
:func:`read_hlog` ignores a torn last line. ``hdrh.log.HistogramLogReader`` reads
the file too.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from hdrh.histogram import HdrHistogram

from gwsload.contract.periods import hlog_seconds
from gwsload.metrics.latency import Interval

__all__ = ["HlogEntry", "HlogWriter", "hlog_span", "read_hlog"]

#: Interval_Max unit: recorded microseconds / 1000 = milliseconds
MAX_VALUE_UNIT_RATIO = 1000.0
_LEGEND = '"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"\n'


def hlog_span(interval: Interval, base_time: float) -> tuple[float, float]:
    """The interval's start (since ``base_time``) and length, as its hlog lines hold them."""
    return hlog_seconds(interval.start - base_time), hlog_seconds(interval.end - interval.start)


class HlogWriter:
    """Appends tagged intervals to ``latency.hlog``; the header is written on open."""

    def __init__(self, path: str | os.PathLike[str], base_time: float) -> None:
        self._base_time = base_time
        self._file: io.TextIOWrapper = open(path, "w", encoding="ascii")  # noqa: SIM115
        when = datetime.fromtimestamp(base_time, UTC).strftime("%Y-%m-%d %H:%M:%S")
        self._file.write("#[Histogram log format version 1.3]\n")
        self._file.write(f"#[StartTime: {base_time:.3f} (seconds since epoch), {when}]\n")
        self._file.write(f"#[BaseTime: {base_time:.3f} (seconds since epoch)]\n")
        self._file.write(_LEGEND)
        self._file.flush()

    def write(self, interval: Interval) -> int:
        """Write one line per non-empty tag (sorted), flush; returns lines written."""
        start, length = hlog_span(interval, self._base_time)
        lines = []
        for tag in sorted(interval.histograms):
            histogram = interval.histograms[tag]
            if histogram.get_total_count() == 0:
                continue
            max_ms = histogram.get_max_value() / MAX_VALUE_UNIT_RATIO
            blob = histogram.encode().decode("ascii")
            lines.append(f"Tag={tag},{start:.3f},{length:.3f},{max_ms:.3f},{blob}\n")
        self._file.write("".join(lines))
        self._file.flush()
        return len(lines)

    def close(self) -> None:
        """Flush and close the file."""
        self._file.close()

    def __enter__(self) -> HlogWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@dataclass(frozen=True, slots=True)
class HlogEntry:
    """One tagged interval line; ``start`` is absolute UNIX seconds."""

    tag: str
    start: float
    length: float
    max_ms: float
    histogram: HdrHistogram


def read_hlog(path: str | os.PathLike[str]) -> Iterator[HlogEntry]:
    """The intervals of an hlog file, in file order.

    Untagged lines get the tag ``""``. A torn last line (killed writer) is skipped;
    a malformed line elsewhere raises ``ValueError`` naming the line number.
    """
    base_time = 0.0
    lines = Path(path).read_text(encoding="ascii").splitlines(keepends=True)
    for number, line in enumerate(lines, start=1):
        if line.startswith("#[BaseTime:"):
            base_time = float(line.split()[1])
            continue
        if line.startswith(("#", '"')) or not line.strip():
            continue
        try:
            entry = _parse_line(line.rstrip("\n"), base_time)
        except Exception as exc:  # hdrh raises plain Exception subclasses and zlib.error
            if number == len(lines) and not line.endswith("\n"):
                return  # the writer was killed mid-line
            raise ValueError(f"{path}: line {number}: not an hlog interval ({exc})") from exc
        yield entry


def _parse_line(line: str, base_time: float) -> HlogEntry:
    tag = ""
    if line.startswith("Tag="):
        tag, _, line = line[4:].partition(",")
    start, length, max_ms, blob = line.split(",", 3)
    histogram = HdrHistogram.decode(blob.encode("ascii"))
    return HlogEntry(tag, base_time + float(start), float(length), float(max_ms), histogram)
