"""Closed Parquet segments for ``events/`` and ``anomalies/`` (docs/run-folder.md).

Each flush writes one file per worker, ``<table>/part-<worker>-<seq:06d>.parquet``,
first under a hidden ``.part-...parquet.tmp`` name then renamed: a reader
(``<table>/*.parquet``) never sees a half-written file, and a killed run loses
only what was still buffered::

    writer = SegmentWriter(run_dir, "events")
    writer.add("w1", columns)      # drained RowBuffer columns, any number of times
    writer.flush()                 # every few seconds and at the end -> written paths

Column names and Arrow types are fixed by ``EVENT_COLUMNS`` / ``ANOMALY_COLUMNS``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from gwsload.metrics.rows import (
    ANOMALY_COLUMNS,
    EVENT_COLUMNS,
    SESSION_COLUMNS,
    Columns,
    merge_columns,
)

__all__ = ["TABLES", "SegmentWriter", "arrow_schema"]

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
