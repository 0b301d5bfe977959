"""One pass over the ``events/`` segments: the digest, the first examples, and (only
when asked) the compact event columns.

Segments are read batch by batch (at most :data:`BATCH_ROWS` rows at once) with
only the columns the analysis uses. Every batch is folded into an
:class:`~gwsload.analysis.digest.EventDigest`, whose size does not grow with the
number of operations; the columns themselves (16-28 bytes a row, see
:mod:`gwsload.analysis.load`) are kept only when asked (scripts that want every
row); :func:`event_batches` streams the segments again (``gwsload compare``'s
windows, once their length is known).
"""

from __future__ import annotations

import math
import queue
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from gwsload.analysis.digest import DigestPlan, EventDigest
from gwsload.analysis.load_tables import check_columns, segments
from gwsload.errors import ConfigError

__all__ = [
    "BATCH_ROWS",
    "EVENT_COLUMNS",
    "EXAMPLE_COLUMNS",
    "EventFacts",
    "event_batches",
    "read_events",
]

EVENT_COLUMNS = (
    "ts",
    "operation",
    "outcome",
    "http_status",
    "status_code",
    "response_ms",
    "notify_ms",
    "notify_from_intended_ms",
    "start_lag_ms",
)
EXAMPLE_COLUMNS = (
    "ts",
    "worker",
    "agent",
    "call_id",
    "operation",
    "outcome",
    "http_status",
    "status_code",
    "error",
)
#: rows decoded at once: bounds the temporaries of the pass (about 60 MB)
BATCH_ROWS = 1 << 20
#: non-ok rows kept with their text, per segment (enough for "first examples")
_EXAMPLES_PER_SEGMENT = 50
#: a segment's text is read only while some kind of outcome has fewer examples than this
_EXAMPLES_PER_KIND = 3

EventFacts = tuple[int, float]
"""(rows, largest ``ts`` or NaN) of the segments, from their footers."""


def _combined(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


class _Codes:
    """Maps each segment's Arrow dictionary onto one list of categories, no per-row strings."""

    def __init__(self) -> None:
        self.categories: list[str] = []
        self._index: dict[str, int] = {}

    def encode(self, column: pa.Array | pa.ChunkedArray) -> npt.NDArray[np.int8]:
        array = pc.fill_null(_combined(column), "")
        if not pa.types.is_dictionary(array.type):
            array = pc.dictionary_encode(array)
        mapping = np.array(
            [self._code(str(v)) for v in array.dictionary.to_pylist()], dtype=np.int8
        )
        codes: npt.NDArray[np.int8] = mapping[array.indices.to_numpy(zero_copy_only=False)]
        return codes

    def _code(self, value: str) -> int:
        if value not in self._index:
            if len(self.categories) >= 127:
                raise ConfigError(f"more than 127 distinct values in one events column: {value!r}")
            self._index[value] = len(self.categories)
            self.categories.append(value)
        return self._index[value]


class _IntCodes:
    """Small-int codes of an integer column with few distinct values (HTTP status,
    statusCode): one byte a row instead of two or four."""

    def __init__(self) -> None:
        self.categories: list[int] = []
        self._index: dict[int, int] = {}

    def encode(self, column: pa.Array | pa.ChunkedArray) -> npt.NDArray[np.int8]:
        # Arrow's hash encoding: no sort, one pass
        array = pc.dictionary_encode(_combined(column))
        mapping = np.array([self._code(int(v)) for v in array.dictionary.to_pylist()], np.int8)
        codes: npt.NDArray[np.int8] = mapping[array.indices.to_numpy(zero_copy_only=False)]
        return codes

    def _code(self, value: int) -> int:
        if value not in self._index:
            if len(self.categories) >= 127:
                raise ConfigError(f"more than 127 distinct values in one events column: {value}")
            self._index[value] = len(self.categories)
            self.categories.append(value)
        return self._index[value]


class _Optional:
    """A float32 column kept only once a segment differs from its default: another
    column's values (by name) or a constant. Until then it costs no memory."""

    def __init__(self, total: int, default: str | float) -> None:
        self.total, self.default = total, default
        self.values: npt.NDArray[np.float32] | None = None

    def _default(self, part: slice, columns: dict[str, npt.NDArray[Any]]) -> npt.NDArray[Any]:
        if isinstance(self.default, str):
            return columns[self.default][part]
        return np.full(part.stop - part.start, self.default, np.float32)

    def put(
        self, part: slice, values: npt.NDArray[Any], columns: dict[str, npt.NDArray[Any]]
    ) -> None:
        if self.values is None:
            if self._same(part, values, columns):
                return
            self.values = np.empty(self.total, np.float32)
            self.values[: part.start] = self._default(slice(0, part.start), columns)
        self.values[part] = values

    def _same(
        self, part: slice, values: npt.NDArray[Any], columns: dict[str, npt.NDArray[Any]]
    ) -> bool:
        if isinstance(self.default, str):
            return np.array_equal(
                values.astype(np.float32), columns[self.default][part], equal_nan=True
            )
        if math.isnan(self.default):
            return bool(np.isnan(values).all())
        return bool((values == self.default).all())

    def result(self, columns: dict[str, npt.NDArray[Any]]) -> npt.NDArray[Any]:
        if self.values is not None:
            return self.values
        if isinstance(self.default, str):
            return columns[self.default]  # the same array: no copy
        if self.default == 0.0:
            return np.zeros(self.total, np.float32)  # pages never written take no memory
        return np.full(self.total, self.default, np.float32)


def _footer_facts(files: list[Path]) -> EventFacts:
    """Rows and the largest ``ts`` from the footers (row-group statistics); a file
    without statistics has its ``ts`` column read."""
    rows, last = 0, math.nan
    for file in files:
        try:
            metadata = pq.read_metadata(file)
            check_columns(file, metadata.schema.to_arrow_schema(), EVENT_COLUMNS)
            column = metadata.schema.to_arrow_schema().get_field_index("ts")
            for group in range(metadata.num_row_groups):
                stats = metadata.row_group(group).column(column).statistics
                if metadata.row_group(group).num_rows == 0:
                    continue
                if stats is not None and stats.has_min_max:
                    top = float(stats.max)
                else:
                    ts = pq.read_table(file, columns=["ts"])["ts"]
                    top = float(pc.max(ts).as_py() or math.nan)
                last = top if math.isnan(last) else max(last, top)
        except (pa.ArrowInvalid, OSError) as exc:
            raise ConfigError(f"{file}: unreadable events segment ({exc})") from None
        rows += metadata.num_rows
    return rows, last


class _Columns:
    """The compact columns of every row (kept only when asked)."""

    def __init__(self, total: int) -> None:
        self.columns: dict[str, npt.NDArray[Any]] = {
            "t_s": np.empty(total, np.float32),
            "operation": np.empty(total, np.int8),
            "outcome": np.empty(total, np.int8),
            "http_status": np.empty(total, np.int8),
            "status_code": np.empty(total, np.int8),
            "response_ms": np.empty(total, np.float32),
            "notify_ms": np.empty(total, np.float32),
        }
        # stored only where they say something: a closed workload's notification from
        # schedule is its notification latency, its start lag 0; no publish stamp, NaN
        self.optional = {
            "notify_from_intended_ms": _Optional(total, "notify_ms"),
            "start_lag_ms": _Optional(total, 0.0),
            "server_notify_ms": _Optional(total, math.nan),
        }
        self.statuses, self.codes = _IntCodes(), _IntCodes()

    def put(self, part: slice, batch: pa.RecordBatch, values: dict[str, npt.NDArray[Any]]) -> None:
        columns = self.columns
        for name in ("t_s", "operation", "outcome", "response_ms", "notify_ms"):
            columns[name][part] = values[name]
        columns["http_status"][part] = self.statuses.encode(batch.column("http_status"))
        columns["status_code"][part] = self.codes.encode(batch.column("status_code"))
        for name in ("notify_from_intended_ms", "start_lag_ms"):
            self.optional[name].put(part, values[name], columns)
        if "server_notify_ms" in values:
            self.optional["server_notify_ms"].put(part, values["server_notify_ms"], columns)

    def frame(self, operations: list[str], outcomes: list[str]) -> pd.DataFrame:
        columns = self.columns
        for name, column in self.optional.items():
            columns[name] = column.result(columns)
        categories: dict[str, list[Any]] = {
            "operation": operations,
            "outcome": outcomes,
            "http_status": self.statuses.categories,
            "status_code": self.codes.categories,
        }
        return pd.DataFrame(
            {
                name: (
                    pd.Categorical.from_codes(values, categories=pd.Index(categories[name]))
                    if name in categories
                    else values
                )
                for name, values in columns.items()
            },
            copy=False,
        )


def _file_batches(files: list[Path]) -> Iterator[tuple[Path, list[str], pa.RecordBatch | None]]:
    """(segment, its column names, batch) for every batch of every segment, then
    (segment, names, None) at the end of each."""
    for file in files:
        try:
            names = pq.read_schema(file).names
            split = [c for c in ("server_ms", "publish_lag_ms") if c in names]
            reader = pq.ParquetFile(file)
            for batch in reader.iter_batches(
                batch_size=BATCH_ROWS, columns=[*EVENT_COLUMNS, *split]
            ):
                yield file, names, batch
        except (pa.ArrowInvalid, OSError) as exc:
            raise ConfigError(f"{file}: unreadable events segment ({exc})") from None
        yield file, names, None


_T = TypeVar("_T")


def _prefetched(items: Iterator[_T], depth: int = 2) -> Iterator[_T]:
    """``items`` produced by a reader thread at most ``depth`` ahead: Parquet decodes
    (without the GIL) while the previous batch is folded into the digest."""
    box: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)

    def produce() -> None:
        try:
            for item in items:
                box.put(("item", item))
        except BaseException as exc:  # handed to the consumer, raised there
            box.put(("error", exc))
        box.put(("end", None))

    threading.Thread(target=produce, name="segment-reader", daemon=True).start()
    while True:
        kind, value = box.get()
        if kind == "end":
            return
        if kind == "error":
            raise value
        yield value


def _batch_values(
    batch: pa.RecordBatch, schema_names: list[str], t0: float, operations: _Codes, outcomes: _Codes
) -> dict[str, npt.NDArray[Any]]:
    """The analysis columns of one batch: ``t_s`` (float32 seconds since ``t0``),
    ``operation`` and ``outcome`` codes, the latency columns (ms) and, when the segment
    has a server stamp, ``server_notify_ms``."""
    split = [c for c in ("server_ms", "publish_lag_ms") if c in schema_names]
    notify = batch.column("notify_ms").to_numpy()
    values: dict[str, npt.NDArray[Any]] = {
        "t_s": (batch.column("ts").to_numpy() - t0).astype(np.float32),
        "operation": operations.encode(batch.column("operation")),
        "outcome": outcomes.encode(batch.column("outcome")),
        "response_ms": batch.column("response_ms").to_numpy(),
        "notify_ms": notify,
        "notify_from_intended_ms": batch.column("notify_from_intended_ms").to_numpy(),
        "start_lag_ms": batch.column("start_lag_ms").to_numpy(),
    }
    if split:
        # the server-side part: request sent -> the server's own timestamp of the
        # notification (``server_ms`` where the folder has it, else notify - delivery)
        values["server_notify_ms"] = (
            batch.column("server_ms").to_numpy()
            if "server_ms" in split
            else notify - batch.column("publish_lag_ms").to_numpy()
        )
    return values


def event_batches(
    path: Path, t0: float
) -> Iterator[tuple[dict[str, npt.NDArray[Any]], list[str], list[str]]]:
    """Another streamed pass over the events of the run folder at ``path``: each batch's
    columns (as the digest gets them) with the operation and outcome names their codes
    index so far (the lists grow as new names appear)."""
    operations, outcomes = _Codes(), _Codes()
    for _file, schema_names, batch in _prefetched(_file_batches(segments(path, "events"))):
        if batch is not None:
            values = _batch_values(batch, schema_names, t0, operations, outcomes)
            yield values, operations.categories, outcomes.categories


def read_events(
    path: Path, t0: float, plan_of: Callable[[EventFacts], DigestPlan], *, keep: bool
) -> tuple[EventDigest, pd.DataFrame, pd.DataFrame | None]:
    """The digest, the first examples (t_s instead of ts) and, when ``keep``, the
    compact columns of the events of the run folder at ``path``.

    ``plan_of`` makes the digest's plan from the rows and the last ``ts`` (footers)."""
    # no segment, or only empty ones: a run that made no operation (still reported)
    files = segments(path, "events")
    facts = _footer_facts(files)
    digest = EventDigest(plan_of(facts))
    kept = _Columns(facts[0]) if keep else None
    operations, outcomes = _Codes(), _Codes()
    digest.operations, digest.outcomes = operations.categories, outcomes.categories
    examples: list[pd.DataFrame] = []
    example_counts: dict[tuple[int, int, int], int] = {}
    at = 0
    not_ok_parts: list[npt.NDArray[np.bool_]] = []
    kinds: dict[tuple[int, int, int], int] = {}
    for file, schema_names, batch in _prefetched(_file_batches(files)):
        if batch is None:  # the end of a segment: its first examples, if still needed
            if any(example_counts.get(k, 0) < _EXAMPLES_PER_KIND for k in kinds):
                for k, count in kinds.items():
                    example_counts[k] = example_counts.get(k, 0) + count
                names = [c for c in EXAMPLE_COLUMNS if c in schema_names]
                rows = pa.array(np.concatenate(not_ok_parts))
                full = pq.read_table(file, columns=names).filter(rows)
                examples.append(full.slice(0, _EXAMPLES_PER_SEGMENT).to_pandas())
            not_ok_parts, kinds = [], {}
            continue
        n = batch.num_rows
        values = _batch_values(batch, schema_names, t0, operations, outcomes)
        http = batch.column("http_status").to_numpy()
        status = batch.column("status_code").to_numpy()
        outcome = values["outcome"].astype(np.int64)
        digest.add(
            values["t_s"], values["operation"].astype(np.int64), outcome, values, (http, status)
        )
        if kept is not None:
            kept.put(slice(at, at + n), batch, values)
        at += n
        ok = outcomes.categories.index("ok") if "ok" in outcomes.categories else -1
        not_ok = outcome != ok
        not_ok_parts.append(not_ok)
        keys = np.stack([outcome[not_ok], http[not_ok], status[not_ok]], axis=1)
        unique, counts = np.unique(keys, axis=0, return_counts=True)
        for key, count in zip(unique.tolist(), counts.tolist(), strict=True):
            kind = (int(key[0]), int(key[1]), int(key[2]))
            kinds[kind] = kinds.get(kind, 0) + int(count)
    events = kept.frame(operations.categories, outcomes.categories) if kept is not None else None
    example_frame = (
        pd.concat(examples, ignore_index=True)
        if examples
        else pd.DataFrame(columns=list(EXAMPLE_COLUMNS))
    )
    example_frame["t_s"] = example_frame["ts"].astype(float) - t0
    examples_out = example_frame.drop(columns=["ts"]).sort_values("t_s", kind="stable")
    return digest, examples_out, events
