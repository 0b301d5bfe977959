"""Read a run folder (docs/run-folder.md, format 1) into compact DataFrames.

Events are read segment by segment with column projection and kept as numpy
columns (float32 latencies and time as seconds since ``t0``, one-byte codes for
operation, outcome, HTTP status and statusCode): 16 bytes a row for a closed
workload (columns that repeat another, like a closed workload's notification from
schedule, are not stored), 24-28 for an open one or with server publish stamps.
``notify_after_response_ms`` is ``notify_ms - response_ms``
(:func:`notify_after_response_ms`).
Only the first examples of non-ok rows keep their text columns.
Every problem with the folder is a ConfigError with one line naming the file.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from gwsload.analysis.hdr import HdrCounts, read_hlog_totals
from gwsload.analysis.load_tables import (
    check_columns,
    read_anomalies,
    read_generator,
    read_incidents,
    read_sessions,
    segments,
)
from gwsload.contract.manifest import KNOWN_FORMATS, read_manifest
from gwsload.contract.periods import measured_end_seconds, warmup_seconds
from gwsload.contract.saturation import SIMULATOR_HEALTH_FIELDS, SIMULATOR_HEALTH_FILE
from gwsload.errors import ConfigError

__all__ = [
    "KNOWN_FORMATS",
    "RunFolder",
    "load_run",
    "measured_end_seconds",
    "notify_after_response_ms",
    "warmup_seconds",
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
#: non-ok rows kept with their text, per segment (enough for "first examples")
_EXAMPLES_PER_SEGMENT = 50
#: a segment's text is read only while some kind of outcome has fewer examples than this
_EXAMPLES_PER_KIND = 3


_SIMULATOR_COLUMNS = ("t_s", *SIMULATOR_HEALTH_FIELDS[1:])


def _empty(columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=float) for c in columns})


@dataclass(frozen=True)
class RunFolder:
    """Everything the reports need from one run folder."""

    path: Path
    manifest: dict[str, Any]
    t0: float
    warmup_s: float
    #: end of the data (last event or the run's duration), seconds since t0
    end_s: float
    #: end of the measured period: the last stage's end (see measured_end_seconds)
    measure_end_s: float
    #: t_s, operation, outcome, http_status, status_code and the latency columns (ms);
    #: ``server_notify_ms``: the events' ``server_ms`` when present, else ``notify_ms -
    #: publish_lag_ms`` (NaN when the server sent no timestamp): the part of the
    #: notification latency before the server stamped the notification
    events: pd.DataFrame
    #: first non-ok rows with their text columns (t_s instead of ts)
    examples: pd.DataFrame
    #: t_s, kind, agent, call_id, operation, recording_state, age_ms
    anomalies: pd.DataFrame
    #: t_s, worker, agent, kind, detail, duration_ms
    incidents: pd.DataFrame
    #: t_s, worker, users, cpu_percent, rss_bytes, open_fds, greenlets, loop_lag_ms
    generator: pd.DataFrame
    #: setup and session steps: t_s, agent, operation, outcome, http_status,
    #: status_code, error, response_ms (empty when the folder has no sessions/)
    sessions: pd.DataFrame
    #: post-warm-up HDR totals per tag, None when latency.hlog is absent
    hdr: list[HdrCounts] | None
    #: the embedded simulator's own health (simulator.csv): t_s, cpu_percent,
    #: cpu_wait_percent, rss_bytes, open_fds, tasks, loop_lag_ms; empty when absent
    simulator: pd.DataFrame = field(default_factory=lambda: _empty(_SIMULATOR_COLUMNS))

    @property
    def run_id(self) -> str:
        return str(self.manifest.get("run_id", self.path.name))

    @property
    def workload_model(self) -> str:
        workload = self.manifest.get("workload") or {}
        return str(workload.get("model", "closed"))


class _Codes:
    """Maps each segment's Arrow dictionary onto one list of categories, no per-row strings."""

    def __init__(self) -> None:
        self.categories: list[str] = []
        self._index: dict[str, int] = {}

    def encode(self, column: pa.ChunkedArray) -> npt.NDArray[np.int8]:
        array = pc.fill_null(column.combine_chunks(), "")
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

    def encode(self, column: pa.ChunkedArray) -> npt.NDArray[np.int8]:
        # Arrow's hash encoding: no sort, one pass
        array = pc.dictionary_encode(column.combine_chunks())
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


def _count_rows(files: list[Path]) -> int:
    # footers only; a ParquetFile kept open holds its buffers, so none is kept
    rows = 0
    for file in files:
        try:
            metadata = pq.read_metadata(file)
        except (pa.ArrowInvalid, OSError) as exc:
            raise ConfigError(f"{file}: unreadable events segment ({exc})") from None
        check_columns(file, metadata.schema.to_arrow_schema(), EVENT_COLUMNS)
        rows += metadata.num_rows
    return rows


def _read_events(path: Path, t0: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    # no segment, or only empty ones: a run that made no operation (still reported)
    files = segments(path, "events")
    total = _count_rows(files)
    # filled in place, segment by segment: the only full-size copy of the events
    columns: dict[str, npt.NDArray[Any]] = {
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
    optional = {
        "notify_from_intended_ms": _Optional(total, "notify_ms"),
        "start_lag_ms": _Optional(total, 0.0),
        "server_notify_ms": _Optional(total, math.nan),
    }
    operations, outcomes = _Codes(), _Codes()
    statuses, codes = _IntCodes(), _IntCodes()
    examples: list[pd.DataFrame] = []
    example_counts: dict[tuple[int, int, int], int] = {}
    at = 0
    for file in files:
        try:
            names = pq.read_schema(file).names
            split = [c for c in ("server_ms", "publish_lag_ms") if c in names]
            table = pq.read_table(file, columns=[*EVENT_COLUMNS, *split])
        except (pa.ArrowInvalid, OSError) as exc:
            raise ConfigError(f"{file}: unreadable events segment ({exc})") from None
        n = table.num_rows
        part = slice(at, at + n)
        columns["t_s"][part] = table["ts"].to_numpy() - t0
        columns["operation"][part] = operations.encode(table["operation"])
        columns["outcome"][part] = outcome = outcomes.encode(table["outcome"])
        http = table["http_status"].to_numpy()
        status = table["status_code"].to_numpy()
        columns["http_status"][part] = statuses.encode(table["http_status"])
        columns["status_code"][part] = codes.encode(table["status_code"])
        notify = table["notify_ms"].to_numpy()
        columns["response_ms"][part] = table["response_ms"].to_numpy()
        columns["notify_ms"][part] = notify
        optional["notify_from_intended_ms"].put(
            part, table["notify_from_intended_ms"].to_numpy(), columns
        )
        optional["start_lag_ms"].put(part, table["start_lag_ms"].to_numpy(), columns)
        if split:
            # the server-side part: request sent -> the server's own timestamp of the
            # notification (``server_ms`` where the folder has it, else notify - delivery)
            server = (
                table["server_ms"].to_numpy()
                if "server_ms" in split
                else notify - table["publish_lag_ms"].to_numpy()
            )
            optional["server_notify_ms"].put(part, server, columns)
        at += n
        del table
        not_ok = (
            outcome != outcomes.categories.index("ok")
            if "ok" in outcomes.categories
            else np.ones(n, bool)
        )
        kinds = set(
            zip(
                outcome[not_ok].tolist(),
                http[not_ok].tolist(),
                status[not_ok].tolist(),
                strict=True,
            )
        )
        if any(example_counts.get(k, 0) < _EXAMPLES_PER_KIND for k in kinds):
            for k in kinds:
                example_counts[k] = example_counts.get(k, 0) + int(
                    ((outcome == k[0]) & (http == k[1]) & (status == k[2])).sum()
                )
            names = [c for c in EXAMPLE_COLUMNS if c in pq.read_schema(file).names]
            full = pq.read_table(file, columns=names).filter(pa.array(not_ok))
            examples.append(full.slice(0, _EXAMPLES_PER_SEGMENT).to_pandas())
    for name, column in optional.items():
        columns[name] = column.result(columns)
    categories: dict[str, list[Any]] = {
        "operation": operations.categories,
        "outcome": outcomes.categories,
        "http_status": statuses.categories,
        "status_code": codes.categories,
    }
    events = pd.DataFrame(
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
    example_frame = (
        pd.concat(examples, ignore_index=True)
        if examples
        else pd.DataFrame(columns=list(EXAMPLE_COLUMNS))
    )
    example_frame["t_s"] = example_frame["ts"].astype(float) - t0
    return events, example_frame.drop(columns=["ts"]).sort_values("t_s", kind="stable")


def notify_after_response_ms(
    events: pd.DataFrame, rows: npt.NDArray[Any] | None = None
) -> npt.NDArray[np.float32]:
    """Notification time minus response time (ms; negative: notification first) of the
    ``rows`` (a mask or indices; all when None), NaN where either is missing:
    ``t_notified - t_response = notify_ms - response_ms``."""
    notify, response = events["notify_ms"].to_numpy(), events["response_ms"].to_numpy()
    if rows is not None:
        notify, response = notify[rows], response[rows]
    result: npt.NDArray[np.float32] = notify - response
    return result


def _read_simulator(path: Path, t0: float) -> pd.DataFrame:
    file = path / SIMULATOR_HEALTH_FILE
    if not file.exists():
        return _empty(_SIMULATOR_COLUMNS)
    try:
        frame = pd.read_csv(file)
    except (ValueError, OSError) as exc:
        raise ConfigError(f"{file}: not a CSV file ({exc})") from None
    missing = [c for c in SIMULATOR_HEALTH_FIELDS if c not in frame.columns]
    if missing:
        raise ConfigError(
            f"{file}: missing columns {missing} (expected {','.join(SIMULATOR_HEALTH_FIELDS)})"
        )
    frame = frame.astype(float)
    frame.insert(0, "t_s", frame["ts"] - t0)
    return frame.drop(columns=["ts"])


def load_run(path: Path | str) -> RunFolder:
    """Read and check a run folder. Raises ConfigError (one line) on anything broken."""
    path = Path(path)
    manifest = read_manifest(path)
    t0 = float(manifest["t0"])
    events, examples = _read_events(path, t0)
    warmup = warmup_seconds(manifest)
    duration = manifest.get("duration_s")
    observed_end = float(events["t_s"].max()) if len(events) else 0.0
    end_s = float(duration) if isinstance(duration, int | float) and duration > 0 else observed_end
    # a run stopped during its warm-up has an empty measured period (the failed-run
    # rule then says so); its end is never before its start
    end_s = max(end_s, observed_end, warmup)
    hlog = path / "latency.hlog"
    measure_end = measured_end_seconds(manifest, end_s)
    hdr = read_hlog_totals(hlog, t0=t0, from_s=warmup, to_s=measure_end) if hlog.exists() else None
    return RunFolder(
        path=path,
        manifest=manifest,
        t0=t0,
        warmup_s=warmup,
        end_s=end_s,
        measure_end_s=measure_end,
        events=events,
        examples=examples,
        anomalies=read_anomalies(path, t0),
        incidents=read_incidents(path, t0),
        generator=read_generator(path, t0),
        sessions=read_sessions(path, t0),
        hdr=hdr,
        simulator=_read_simulator(path, t0),
    )
