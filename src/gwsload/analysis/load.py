"""Read a run folder (docs/run-folder.md, format 1).

Events are streamed once, batch by batch with column projection, into the run's
:class:`~gwsload.analysis.digest.EventDigest` (counts and HDR histograms: memory
does not grow with the number of operations). Only when asked
(``keep_events=True``: the example scripts) are they also kept as numpy columns
(float32 latencies and time as seconds since ``t0``, one-byte codes for
operation, outcome, HTTP status and statusCode): 16 bytes a row for a closed
workload (columns that repeat another, like a closed workload's notification from
schedule, are not stored), 24-28 for an open one or with server publish stamps.
``notify_after_response_ms`` is ``notify_ms - response_ms``
(:func:`notify_after_response_ms`).
Only the first examples of non-ok rows keep their text columns.
Every problem with the folder is a ConfigError with one line naming the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from gwsload.analysis.digest import EventDigest
from gwsload.analysis.digest_plan import make_plan
from gwsload.analysis.hdr import HdrCounts, read_hlog_totals
from gwsload.analysis.load_events import read_events
from gwsload.analysis.load_tables import (
    read_anomalies,
    read_generator,
    read_incidents,
    read_sessions,
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
    #: every statistic of the events, from one pass (analysis.digest)
    digest: EventDigest
    #: the compact event columns when kept (``load_run(..., keep_events=True)``), see
    #: :attr:`events`
    event_columns: pd.DataFrame | None
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
    def events(self) -> pd.DataFrame:
        """t_s, operation, outcome, http_status, status_code and the latency columns (ms);
        ``server_notify_ms``: the events' ``server_ms`` when present, else ``notify_ms -
        publish_lag_ms`` (NaN when the server sent no timestamp): the part of the
        notification latency before the server stamped the notification.

        Only when loaded with ``keep_events=True``: the report and check read the digest."""
        if self.event_columns is None:
            raise RuntimeError(f"{self.path}: events not kept (load_run(..., keep_events=True))")
        return self.event_columns

    @property
    def run_id(self) -> str:
        return str(self.manifest.get("run_id", self.path.name))

    @property
    def workload_model(self) -> str:
        workload = self.manifest.get("workload") or {}
        return str(workload.get("model", "closed"))


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


def load_run(path: Path | str, *, keep_events: bool = False) -> RunFolder:
    """Read and check a run folder. Raises ConfigError (one line) on anything broken.

    The events are streamed into :attr:`RunFolder.digest`; ``keep_events`` also keeps
    their compact columns (:attr:`RunFolder.events`, 16-28 bytes an operation)."""
    path = Path(path)
    manifest = read_manifest(path)
    t0 = float(manifest["t0"])
    incidents = read_incidents(path, t0)
    digest, examples, events = read_events(
        path, t0, lambda facts: make_plan(manifest, t0, facts, incidents), keep=keep_events
    )
    plan = digest.plan
    hlog = path / "latency.hlog"
    hdr = (
        read_hlog_totals(hlog, t0=t0, from_s=plan.warmup_s, to_s=plan.measure_end_s)
        if hlog.exists()
        else None
    )
    return RunFolder(
        path=path,
        manifest=manifest,
        t0=t0,
        warmup_s=plan.warmup_s,
        end_s=plan.end_s,
        measure_end_s=plan.measure_end_s,
        digest=digest,
        event_columns=events,
        examples=examples,
        anomalies=read_anomalies(path, t0),
        incidents=incidents,
        generator=read_generator(path, t0),
        sessions=read_sessions(path, t0),
        hdr=hdr,
        simulator=_read_simulator(path, t0),
    )
