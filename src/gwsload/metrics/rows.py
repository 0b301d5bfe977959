"""Row buffers for the ``events`` and ``anomalies`` tables (docs/run-folder.md).

The hot path appends one tuple per row (one list append, nothing else); the
buffer turns rows into columns only when drained, every few seconds::

    events = RowBuffer(EVENT_COLUMNS)
    events.append((ts, "local", "agent0001", call_id, "StartCallRecording", "Recording",
                   "ok", 200, 0, "", 3.1, 12.5, 9.4, 12.5, 0.0, 0.8, 17))
    events.append_values(ts=ts, worker="local", agent="agent0001", ...)  # by name
    columns = events.drain()   # {"ts": [...], "worker": [...], ...}: msgpack-able

Tuples follow the column order below; ``append_values`` fills missing columns with
the documented "none" value (NaN, -1, 0 or ""). :func:`merge_columns` concatenates
drained batches (master side) before they go to a segment writer.
"""

from __future__ import annotations

from collections.abc import Sequence

from gwsload.contract.segments import (
    ANOMALY_COLUMNS,
    EVENT_COLUMNS,
    SESSION_COLUMNS,
    Columns,
    merge_columns,
)

__all__ = [
    "ANOMALY_COLUMNS",
    "EVENT_COLUMNS",
    "SESSION_COLUMNS",
    "Columns",
    "RowBuffer",
    "empty_columns",
    "merge_columns",
]


def empty_columns(columns: Sequence[tuple[str, str, object]]) -> Columns:
    """A batch with every column and no row."""
    return {name: [] for name, _, _ in columns}


class RowBuffer:
    """Buffered rows of one table, drained as columns.

    Not thread-safe; one per process (greenlets do not preempt inside ``append``).
    """

    __slots__ = ("_defaults", "_names", "_rows")

    def __init__(self, columns: Sequence[tuple[str, str, object]]) -> None:
        self._names = tuple(name for name, _, _ in columns)
        self._defaults = {name: default for name, _, default in columns}
        self._rows: list[tuple[object, ...]] = []

    @property
    def names(self) -> tuple[str, ...]:
        """The column names, in tuple order."""
        return self._names

    def __len__(self) -> int:
        return len(self._rows)

    def append(self, row: tuple[object, ...]) -> None:
        """Buffer one row given as a tuple in column order (checked at drain)."""
        self._rows.append(row)

    def append_values(self, **values: object) -> None:
        """Buffer one row given by column name; absent columns take their "none" value."""
        unknown = values.keys() - self._defaults.keys()
        if unknown:
            raise TypeError(f"unknown column(s): {sorted(unknown)}; columns are {self._names}")
        defaults = self._defaults
        self._rows.append(tuple(values.get(name, defaults[name]) for name in self._names))

    def drain(self) -> Columns:
        """The buffered rows as columns, and empty the buffer.

        Raises ``ValueError`` if a row has the wrong number of values.
        """
        rows, self._rows = self._rows, []
        if not rows:
            return {name: [] for name in self._names}
        width = len(self._names)
        for row in rows:
            if len(row) != width:
                raise ValueError(f"row has {len(row)} values, expected {width}: {row!r}")
        columns = zip(*rows, strict=True)
        return {name: list(values) for name, values in zip(self._names, columns, strict=True)}
