"""The small tables beside the events: anomalies, sessions, incidents, generator samples.

Each reader returns a DataFrame with ``t_s`` (seconds since ``t0``) in place of ``ts``;
a broken file is a ConfigError with one line naming it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from gwsload.contract.saturation import GENERATOR_FIELDS, GENERATOR_LATER_FIELDS
from gwsload.contract.segments import segment_paths
from gwsload.errors import ConfigError

__all__ = [
    "ANOMALY_COLUMNS",
    "SESSION_COLUMNS",
    "check_columns",
    "read_anomalies",
    "read_generator",
    "read_incidents",
    "read_sessions",
    "segments",
]

ANOMALY_COLUMNS = (
    "ts",
    "kind",
    "agent",
    "call_id",
    "operation",
    "recording_state",
    "age_ms",
    "node",
)
SESSION_COLUMNS = (
    "ts",
    "agent",
    "operation",
    "outcome",
    "http_status",
    "status_code",
    "error",
    "response_ms",
)


def segments(path: Path, folder: str) -> list[Path]:
    return segment_paths(path, folder)


def check_columns(file: Path, schema: pa.Schema, needed: tuple[str, ...]) -> None:
    missing = [c for c in needed if c not in schema.names]
    if missing:
        raise ConfigError(f"{file}: missing columns {missing} (see docs/run-folder.md)")


def read_anomalies(path: Path, t0: float) -> pd.DataFrame:
    frames = []
    for file in segments(path, "anomalies"):
        try:
            table = pq.read_table(file)
        except (pa.ArrowInvalid, OSError) as exc:
            raise ConfigError(f"{file}: unreadable anomalies segment ({exc})") from None
        check_columns(file, table.schema, ("ts", "kind"))
        frames.append(table.to_pandas())
    if not frames:
        return pd.DataFrame({"t_s": pd.Series(dtype=float), "kind": pd.Series(dtype=str)})
    frame = pd.concat(frames, ignore_index=True)
    frame["t_s"] = frame["ts"] - t0
    keep = [c for c in ("t_s", *ANOMALY_COLUMNS[1:]) if c in frame.columns]
    result: pd.DataFrame = frame[keep].sort_values("t_s", kind="stable").reset_index(drop=True)
    return result


def read_sessions(path: Path, t0: float) -> pd.DataFrame:
    frames = []
    for file in segments(path, "sessions"):
        try:
            table = pq.read_table(file, columns=None)
        except (pa.ArrowInvalid, OSError) as exc:
            raise ConfigError(f"{file}: unreadable sessions segment ({exc})") from None
        check_columns(file, table.schema, SESSION_COLUMNS)
        frames.append(table.select(list(SESSION_COLUMNS)).to_pandas())
    if not frames:
        frame = pd.DataFrame({c: pd.Series(dtype=object) for c in SESSION_COLUMNS})
        frame["ts"] = frame["ts"].astype(float)
        frame["response_ms"] = frame["response_ms"].astype(float)
    else:
        frame = pd.concat(frames, ignore_index=True)
    frame.insert(0, "t_s", frame["ts"] - t0)
    result: pd.DataFrame = (
        frame.drop(columns=["ts"]).sort_values("t_s", kind="stable").reset_index(drop=True)
    )
    return result


def read_incidents(path: Path, t0: float) -> pd.DataFrame:
    file = path / "incidents.jsonl"
    rows: list[dict[str, Any]] = []
    if file.exists():
        lines = file.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                if number == len(lines):  # a killed run may leave a partial last line
                    break
                raise ConfigError(f"{file}:{number}: not a JSON object") from None
            if not isinstance(row, dict) or not isinstance(row.get("ts"), int | float):
                raise ConfigError(f"{file}:{number}: expected an object with a numeric 'ts'")
            rows.append(row)
    frame = pd.DataFrame(rows, columns=["ts", "worker", "agent", "kind", "detail", "duration_ms"])
    frame.insert(0, "t_s", frame["ts"].astype(float) - t0)
    return frame.drop(columns=["ts"])


def read_generator(path: Path, t0: float) -> pd.DataFrame:
    file = path / "generator.csv"
    columns = [c for c in GENERATOR_FIELDS if c not in GENERATOR_LATER_FIELDS]
    if not file.exists():
        frame = pd.DataFrame({c: pd.Series(dtype=float) for c in columns})
    else:
        try:
            frame = pd.read_csv(file)
        except (ValueError, OSError) as exc:
            raise ConfigError(f"{file}: not a CSV file ({exc})") from None
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise ConfigError(f"{file}: missing columns {missing} (expected {','.join(columns)})")
    for later in GENERATOR_LATER_FIELDS:  # older folders (and kernels without schedstats)
        if later not in frame.columns:
            frame[later] = float("nan")
    frame.insert(0, "t_s", frame["ts"].astype(float) - t0)
    return frame.drop(columns=["ts"])
