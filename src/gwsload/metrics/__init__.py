"""Measurement recording: the writers of the run folder (docs/run-folder.md).

Plain Python (no gevent, no Locust, no threads); nothing reads a clock inside a
pure function: times come in as arguments (UNIX seconds).

- :mod:`~gwsload.metrics.latency`: ``LatencyRecorder`` (HDR per ``<metric>.<operation>``
  tag, microseconds), ``Interval`` (``encode()`` / ``Interval.decode()`` for shipping
  worker -> master), ``IntervalMerger`` (exact addition per tag on the master).
- :mod:`~gwsload.metrics.hlog`: ``HlogWriter`` (``latency.hlog``), ``read_hlog``.
- :mod:`~gwsload.metrics.rows`: ``RowBuffer`` for ``EVENT_COLUMNS`` / ``ANOMALY_COLUMNS``,
  ``drain()`` -> msgpack-able columns; ``merge_columns``.
- ``SegmentWriter`` (closed Parquet segments) and the columns: :mod:`gwsload.contract.segments`.
- :mod:`~gwsload.metrics.logs`: ``IncidentLog`` (``incidents.jsonl``), ``incident()``,
  ``GeneratorLog`` (``generator.csv``).
- :mod:`~gwsload.metrics.health`: ``ProcessProbe``, ``build_sample``,
  ``judge_saturation`` (manifest ``generator``).
- :mod:`~gwsload.metrics.manifest`: run id, run folder, ``manifest.json``.
- :mod:`~gwsload.metrics.sink`: ``RunSink``, the run-folder writer of the master
  (or single process): rows, intervals, incidents and samples in, files out.
"""

from __future__ import annotations

from gwsload.contract.segments import SegmentWriter, arrow_schema
from gwsload.metrics.health import (
    GeneratorSample,
    ProcessProbe,
    ProcessReading,
    SaturationVerdict,
    build_sample,
    judge_saturation,
)
from gwsload.metrics.hlog import HlogEntry, HlogWriter, read_hlog
from gwsload.metrics.latency import (
    METRICS,
    Interval,
    IntervalMerger,
    LatencyRecorder,
    make_tag,
    new_histogram,
    reset_histogram,
    split_tag,
)
from gwsload.metrics.logs import GeneratorLog, IncidentLog, incident
from gwsload.metrics.rows import (
    ANOMALY_COLUMNS,
    EVENT_COLUMNS,
    Columns,
    RowBuffer,
    empty_columns,
    merge_columns,
)

__all__ = [
    "ANOMALY_COLUMNS",
    "EVENT_COLUMNS",
    "METRICS",
    "Columns",
    "GeneratorLog",
    "GeneratorSample",
    "HlogEntry",
    "HlogWriter",
    "IncidentLog",
    "Interval",
    "IntervalMerger",
    "LatencyRecorder",
    "ProcessProbe",
    "ProcessReading",
    "RowBuffer",
    "SaturationVerdict",
    "SegmentWriter",
    "arrow_schema",
    "build_sample",
    "empty_columns",
    "incident",
    "judge_saturation",
    "make_tag",
    "merge_columns",
    "new_histogram",
    "read_hlog",
    "reset_histogram",
    "split_tag",
]
