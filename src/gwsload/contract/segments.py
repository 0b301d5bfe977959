"""The ``events/`` and ``anomalies/`` tables: their columns, and closed Parquet
segments (docs/run-folder.md).

Each flush writes one file per worker, ``<table>/part-<worker>-<seq:06d>.parquet``,
first under a hidden ``.part-...parquet.tmp`` name then renamed: a reader
(``<table>/*.parquet``) never sees a half-written file, and a killed run loses
only what was still buffered::

    writer = SegmentWriter(run_dir, "events")
    writer.add("w1", columns)      # drained RowBuffer columns, any number of times
    writer.flush()                 # every few seconds and at the end -> written paths

Column names, Arrow types and "none" values are ``EVENT_COLUMNS`` / ``ANOMALY_COLUMNS``
(the harness's row tuples follow their order: ``Outcome.event_values``); readers list
the closed segments with :func:`segment_paths`.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

__all__ = [
    "ANOMALY_COLUMNS",
    "EVENT_COLUMNS",
    "SESSION_COLUMNS",
    "TABLES",
    "Columns",
    "SegmentWriter",
    "arrow_schema",
    "merge_columns",
    "segment_paths",
]

#: drained rows: column name -> values (plain Python lists: msgpack/JSON-able)
Columns = dict[str, list[object]]

_NAN = math.nan

#: events/ columns: (name, Arrow type name, value when absent)
EVENT_COLUMNS: tuple[tuple[str, str, object], ...] = (
    ("ts", "float64", _NAN),
    ("worker", "string", ""),
    ("agent", "string", ""),
    ("call_id", "string", ""),
    ("operation", "string", ""),
    ("expected_state", "string", ""),
    ("outcome", "string", ""),
    ("http_status", "int32", 0),
    ("status_code", "int32", -1),
    ("error", "string", ""),
    ("response_ms", "float64", _NAN),
    ("notify_ms", "float64", _NAN),
    ("notify_after_response_ms", "float64", _NAN),
    ("notify_from_intended_ms", "float64", _NAN),
    ("start_lag_ms", "float64", 0.0),
    ("publish_lag_ms", "float64", _NAN),
    ("server_seq", "int64", -1),
    ("server_ms", "float64", _NAN),
    ("node", "string", ""),
)

#: anomalies/ columns: (name, Arrow type name, value when absent)
ANOMALY_COLUMNS: tuple[tuple[str, str, object], ...] = (
    ("ts", "float64", _NAN),
    ("worker", "string", ""),
    ("agent", "string", ""),
    ("call_id", "string", ""),
    ("kind", "string", ""),
    ("notification_type", "string", ""),
    ("recording_state", "string", ""),
    ("operation", "string", ""),
    ("age_ms", "float64", _NAN),
    ("server_seq", "int64", -1),
    ("node", "string", ""),
)


def merge_columns(batches: Sequence[Mapping[str, Sequence[object]]]) -> Columns:
    """Concatenate drained batches column by column (all must have the same columns)."""
    if not batches:
        return {}
    names = list(batches[0])
    merged: Columns = {name: [] for name in names}
    for batch in batches:
        if list(batch) != names:
            raise ValueError(f"column batches differ: {list(batch)} != {names}")
        for name in names:
            merged[name].extend(batch[name])
    return merged


#: sessions/ columns: one row per setup or session step of an agent (login, Dial...)
SESSION_COLUMNS: tuple[tuple[str, str, object], ...] = (
    ("ts", "float64", _NAN),
    ("worker", "string", ""),
    ("agent", "string", ""),
    ("operation", "string", ""),
    ("outcome", "string", ""),
    ("http_status", "int32", 0),
    ("status_code", "int32", -1),
    ("error", "string", ""),
    ("response_ms", "float64", _NAN),
)

#: table name (= folder name) -> its columns
TABLES: dict[str, tuple[tuple[str, str, object], ...]] = {
    "events": EVENT_COLUMNS,
    "anomalies": ANOMALY_COLUMNS,
    "sessions": SESSION_COLUMNS,
}

_ARROW_TYPES = {
    "float64": pa.float64(),
    "string": pa.string(),
    "int32": pa.int32(),
    "int64": pa.int64(),
}
#: worker ids become part of file names: keep them to a safe alphabet
_WORKER_ID = re.compile(r"^[A-Za-z0-9_.]+$")


def arrow_schema(table: str) -> pa.Schema:
    """The Arrow schema of ``events`` or ``anomalies``.

    Fields are non-nullable: absent values are NaN, -1, 0 or "" as documented.
    """
    return pa.schema(
        [pa.field(name, _ARROW_TYPES[kind], nullable=False) for name, kind, _ in TABLES[table]]
    )


class SegmentWriter:
    """Buffers column batches per worker and writes them as closed segment files."""

    def __init__(self, run_dir: str | os.PathLike[str], table: str) -> None:
        if table not in TABLES:
            raise ValueError(f"table must be one of {sorted(TABLES)}, got {table!r}")
        self._dir = Path(run_dir) / table
        self._dir.mkdir(parents=True, exist_ok=True)
        self._schema = arrow_schema(table)
        self._pending: dict[str, list[Mapping[str, Sequence[object]]]] = {}
        self._next_seq: dict[str, int] = {}

    @property
    def directory(self) -> Path:
        """The table folder (``<run>/events`` or ``<run>/anomalies``)."""
        return self._dir

    def add(self, worker: str, columns: Mapping[str, Sequence[object]]) -> None:
        """Buffer a drained batch of rows from ``worker`` (empty batches are ignored)."""
        if not _WORKER_ID.match(worker):
            raise ValueError(f"worker id must match {_WORKER_ID.pattern}, got {worker!r}")
        if columns and len(next(iter(columns.values()))) > 0:
            self._pending.setdefault(worker, []).append(columns)

    def flush(self) -> list[Path]:
        """Write one closed segment per worker with buffered rows; the paths written."""
        written: list[Path] = []
        pending, self._pending = self._pending, {}
        for worker, batches in sorted(pending.items()):
            written.append(self._write_segment(worker, merge_columns(batches)))
        return written

    def write(self, worker: str, columns: Mapping[str, Sequence[object]]) -> Path | None:
        """Write one batch as its own segment now (None when it has no row)."""
        self.add(worker, columns)
        batches = self._pending.pop(worker, None)
        return None if batches is None else self._write_segment(worker, merge_columns(batches))

    def _write_segment(self, worker: str, columns: Columns) -> Path:
        arrays = [pa.array(columns[f.name], type=f.type) for f in self._schema]
        table = pa.Table.from_arrays(arrays, schema=self._schema)
        seq = self._next_seq.get(worker, 1)
        self._next_seq[worker] = seq + 1
        final = self._dir / f"part-{worker}-{seq:06d}.parquet"
        # a hidden name: even readers that scan the whole folder (pyarrow datasets
        # skip "." and "_" files) never see a half-written segment
        temporary = final.with_name(f".{final.name}.tmp")
        pq.write_table(table, temporary)
        os.replace(temporary, final)
        return final


def segment_paths(run_dir: str | os.PathLike[str], table: str) -> list[Path]:
    """The closed segments of a table, in name order (a half-written one is hidden)."""
    return sorted((Path(run_dir) / table).glob("*.parquet"))
