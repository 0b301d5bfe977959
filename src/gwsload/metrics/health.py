"""Load-generator health: samples (``generator.csv``) and the saturation verdict.

A saturated generator adds its own latency, so a run must say when it happened.
The gevent side measures greenlet count and event-loop lag and calls::

    probe = ProcessProbe()                       # psutil, this process
    before = probe.read(now)
    ...
    after = probe.read(now)
    sample = build_sample(before, after, worker="w1", users=120, greenlets=250,
                          loop_lag_ms=1.2)       # pure
    verdict = judge_saturation(samples)           # pure -> manifest "generator"

CPU % is of one core (100 = one core busy; a gevent process uses one core).
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from gwsload.contract.saturation import (
    CPU_BUSY_PERCENT,
    CPU_BUSY_SHARE,
    LOOP_LAG_MS,
    LOOP_LAG_SHARE,
    count_open_fds,
    judge,
    load_process_findings,
    parse_schedstat_wait_s,
)

__all__ = [
    "CPU_BUSY_PERCENT",
    "CPU_BUSY_SHARE",
    "LOOP_LAG_MS",
    "LOOP_LAG_SHARE",
    "GeneratorSample",
    "ProcessProbe",
    "ProcessReading",
    "SaturationVerdict",
    "build_sample",
    "judge_saturation",
    "read_generator_samples",
]


@dataclass(frozen=True, slots=True)
class ProcessReading:
    """Raw counters of one process at time ``ts`` (UNIX seconds)."""

    ts: float
    cpu_s: float
    rss_bytes: int
    open_fds: int
    #: seconds the main thread waited for a CPU so far (/proc/<pid>/schedstat); None
    #: where the kernel keeps no schedstats
    wait_s: float | None = None


@dataclass(frozen=True, slots=True)
class GeneratorSample:
    """One ``generator.csv`` row."""

    ts: float
    worker: str
    users: int
    cpu_percent: float
    rss_bytes: int
    open_fds: int
    greenlets: int
    loop_lag_ms: float
    #: % of the period the main thread was runnable but waiting for a core; None: unknown
    cpu_wait_percent: float | None = None
    #: memory blocks Python's allocator holds (``sys.getallocatedblocks()``): the
    #: process's own objects, without the allocator's free pages that RSS also counts;
    #: None: unknown
    py_blocks: int | None = None

    def to_dict(self) -> dict[str, object]:
        """The msgpack-able / ``GeneratorLog.write`` form."""
        return {
            "ts": self.ts,
            "worker": self.worker,
            "users": self.users,
            "cpu_percent": self.cpu_percent,
            "rss_bytes": self.rss_bytes,
            "open_fds": self.open_fds,
            "greenlets": self.greenlets,
            "loop_lag_ms": self.loop_lag_ms,
            "cpu_wait_percent": self.cpu_wait_percent,
            "py_blocks": self.py_blocks,
        }

    @classmethod
    def from_dict(cls, row: Mapping[str, object]) -> GeneratorSample:
        """Inverse of :meth:`to_dict` (also takes generator.csv rows read as strings)."""
        return cls(
            ts=float(str(row["ts"])),
            worker=str(row["worker"]),
            users=int(str(row["users"])),
            cpu_percent=float(str(row["cpu_percent"])),
            rss_bytes=int(str(row["rss_bytes"])),
            open_fds=int(str(row["open_fds"])),
            greenlets=int(str(row["greenlets"])),
            loop_lag_ms=float(str(row["loop_lag_ms"])),
            cpu_wait_percent=float(str(wait)) if (wait := row.get("cpu_wait_percent")) else None,
            py_blocks=int(str(blocks)) if (blocks := row.get("py_blocks")) else None,
        )


class ProcessProbe:
    """Reads CPU time, RSS and open file descriptors of a process (default: this one)."""

    def __init__(self, pid: int | None = None) -> None:
        self._process = psutil.Process(os.getpid() if pid is None else pid)
        self._schedstat = Path(f"/proc/{self._process.pid}/schedstat")

    def read(self, now: float) -> ProcessReading:
        """The process counters, stamped with ``now``."""
        with self._process.oneshot():
            times = self._process.cpu_times()
            rss = int(self._process.memory_info().rss)
        fds = count_open_fds(self._process.pid)
        try:
            wait_s = parse_schedstat_wait_s(self._schedstat.read_text(encoding="ascii"))
        except OSError:
            wait_s = math.nan
        return ProcessReading(
            now, times.user + times.system, rss, fds, None if math.isnan(wait_s) else wait_s
        )


def build_sample(
    before: ProcessReading,
    after: ProcessReading,
    *,
    worker: str,
    users: int,
    greenlets: int,
    loop_lag_ms: float,
    py_blocks: int | None = None,
) -> GeneratorSample:
    """The sample for the period between two readings (CPU % and CPU wait % over it)."""
    elapsed = after.ts - before.ts
    cpu = 0.0 if elapsed <= 0 else max(0.0, (after.cpu_s - before.cpu_s) / elapsed * 100.0)
    wait = None
    if elapsed > 0 and before.wait_s is not None and after.wait_s is not None:
        wait = max(0.0, (after.wait_s - before.wait_s) / elapsed * 100.0)
    return GeneratorSample(
        ts=after.ts,
        worker=worker,
        users=users,
        cpu_percent=cpu,
        rss_bytes=after.rss_bytes,
        open_fds=after.open_fds,
        greenlets=greenlets,
        loop_lag_ms=loop_lag_ms,
        cpu_wait_percent=wait,
        py_blocks=py_blocks,
    )


@dataclass(frozen=True, slots=True)
class SaturationVerdict:
    """The manifest ``generator`` entry: ``{"saturated": bool, "findings": [sentence, ...]}``."""

    saturated: bool
    findings: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, object]:
        """The manifest form."""
        return {"saturated": self.saturated, "findings": list(self.findings)}


def judge_saturation(samples: Sequence[GeneratorSample]) -> SaturationVerdict:
    """Decide whether any worker was saturated, with one finding sentence per cause,
    by the contract's rule (:mod:`gwsload.contract.saturation`)."""
    by_worker: dict[str, list[GeneratorSample]] = {}
    for sample in samples:
        by_worker.setdefault(sample.worker, []).append(sample)
    findings: list[str] = []
    for worker in sorted(by_worker):
        rows = by_worker[worker]
        verdict = judge([s.cpu_percent for s in rows], [s.loop_lag_ms for s in rows])
        findings += load_process_findings(worker, verdict)
    return SaturationVerdict(bool(findings), tuple(findings))


def read_generator_samples(path: str | os.PathLike[str]) -> list[GeneratorSample]:
    """The samples of a run's ``generator.csv`` (none when it is missing or unreadable).

    Read back from the file at the end, not kept in memory during the run: a list of
    every sample grows with the length of the run."""
    try:
        with open(Path(path), encoding="utf-8", newline="") as file:
            return [GeneratorSample.from_dict(row) for row in csv.DictReader(file)]
    except (OSError, ValueError, KeyError):
        return []


def _percentile(values: Sequence[float], percent: float) -> float:
    """Nearest-rank percentile (no interpolation); NaN values are ignored."""
    ordered = sorted(v for v in values if not math.isnan(v))
    if not ordered:
        return 0.0
    rank = max(1, math.ceil(percent / 100.0 * len(ordered)))
    return ordered[rank - 1]
