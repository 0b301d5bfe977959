"""Append-only run logs: ``incidents.jsonl`` and ``generator.csv`` (docs/run-folder.md).

Both are line-buffered and flushed per line, so a killed run keeps every
complete line. Rows arriving from workers are plain dicts (msgpack-able) with
the documented field names, written as they are.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Mapping

from gwsload.contract.saturation import GENERATOR_FIELDS

__all__ = [
    "GENERATOR_FIELDS",
    "INCIDENT_FIELDS",
    "INCIDENT_KINDS",
    "GeneratorLog",
    "IncidentLog",
    "incident",
]

#: incidents.jsonl keys, in order
INCIDENT_FIELDS = ("ts", "worker", "agent", "kind", "detail", "duration_ms")
#: the documented incident kinds
INCIDENT_KINDS = frozenset(
    {
        "reconnect",
        "rehandshake",
        "transport_error",
        "listener_gap",
        "worker_lost",
        "worker_saturated",
        "target_unreachable",
        "relogin",
        "setup_error",
    }
)


def incident(
    ts: float,
    worker: str,
    agent: str,
    kind: str,
    *,
    detail: str = "",
    duration_ms: float | None = None,
) -> dict[str, object]:
    """One incident record (what :meth:`IncidentLog.write` takes and workers ship)."""
    if kind not in INCIDENT_KINDS:
        raise ValueError(f"incident kind must be one of {sorted(INCIDENT_KINDS)}, got {kind!r}")
    return {
        "ts": ts,
        "worker": worker,
        "agent": agent,
        "kind": kind,
        "detail": detail,
        "duration_ms": duration_ms,
    }


class IncidentLog:
    """``incidents.jsonl``: one JSON object per line, flushed as written."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._file: io.TextIOWrapper = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115

    def write(self, record: Mapping[str, object]) -> None:
        """Append one incident (keys as :func:`incident` makes them)."""
        values = {key: _json_value(record.get(key)) for key in INCIDENT_FIELDS}
        line = json.dumps(values, allow_nan=False)
        self._file.write(line + "\n")

    def close(self) -> None:
        """Close the file."""
        self._file.close()

    def __enter__(self) -> IncidentLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class GeneratorLog:
    """``generator.csv``: header once, then one row per sample, flushed per row."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        fresh = not os.path.exists(path) or os.path.getsize(path) == 0
        self._file: io.TextIOWrapper = open(  # noqa: SIM115
            path, "a", encoding="utf-8", newline="", buffering=1
        )
        self._csv = csv.writer(self._file, lineterminator="\n")
        if fresh:
            self._csv.writerow(GENERATOR_FIELDS)

    def write(self, sample: Mapping[str, object]) -> None:
        """Append one sample (a dict with the ``GENERATOR_FIELDS`` keys)."""
        self._csv.writerow([_cell(sample.get(key)) for key in GENERATOR_FIELDS])
        self._file.flush()

    def close(self) -> None:
        """Close the file."""
        self._file.close()

    def __enter__(self) -> GeneratorLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _json_value(value: object) -> object:
    # JSON has no NaN: an unknown duration is null
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _cell(value: object) -> object:
    # floats with a fixed precision keep the file small and diff-able
    if isinstance(value, float):
        return f"{value:.3f}"
    return "" if value is None else value
