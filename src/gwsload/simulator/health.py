"""The simulator's own health, sampled into the run folder (``simulator.csv``).

Embedded in a run, the simulator shares the machine with the load generator: when it
runs short of CPU its event loop answers late, and that delay lands in every latency
the run measures. Every ``interval_s`` one row records, for this process: CPU % of
one core, CPU wait % (runnable but waiting for a core, ``/proc/self/schedstat``; NaN
where the kernel has no schedstats), RSS, open fds, asyncio tasks, and the worst
event-loop lag of the interval. The lag probe asks to wake every ``period_s`` and
notes how late it actually woke: what every held /meta/connect and publish also
suffered. The saturation rule that reads the file is gwsload.contract.saturation.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import math
import time
from pathlib import Path

import psutil

from gwsload.contract.saturation import (
    SIMULATOR_HEALTH_FIELDS,
    Saturation,
    count_open_fds,
    judge,
    parse_schedstat_wait_s,
)
from gwsload.errors import ConfigError

__all__ = ["HealthLog", "LoopLagProbe", "judge_health_log"]

_SCHEDSTAT = Path("/proc/self/schedstat")
#: (UNIX time, CPU seconds, CPU-wait seconds, RSS bytes, open fds)
_Reading = tuple[float, float, float, int, int]


class LoopLagProbe:
    """Measures how late the event loop wakes a sleeper; keeps the worst per window."""

    __slots__ = ("_max_lag_s", "_period_s")

    def __init__(self, period_s: float = 0.05) -> None:
        self._period_s = period_s
        self._max_lag_s = 0.0

    def take_max_ms(self) -> float:
        """The worst lateness since the last call, in ms; resets the window."""
        worst, self._max_lag_s = self._max_lag_s, 0.0
        return worst * 1000.0

    async def run(self) -> None:
        clock = time.perf_counter
        while True:
            due = clock() + self._period_s
            await asyncio.sleep(self._period_s)
            self._max_lag_s = max(self._max_lag_s, clock() - due)


def _wait_s() -> float:
    try:
        return parse_schedstat_wait_s(_SCHEDSTAT.read_text(encoding="ascii"))
    except OSError:
        return math.nan


class HealthLog:
    """Writes one ``simulator.csv`` row every ``interval_s`` while :meth:`run` runs.

    The file is created (with its header) at construction: a path that cannot be
    written is a ``ConfigError`` before the simulator serves anything.
    """

    def __init__(self, path: Path, *, interval_s: float = 2.0) -> None:
        self.path = path
        self.interval_s = interval_s
        self._process = psutil.Process()
        self._probe = LoopLagProbe()
        try:
            self._file = path.open("w", encoding="utf-8", newline="")
        except OSError as exc:
            raise ConfigError(f"--health-log {path}: cannot write it ({exc.strerror})") from None
        self._csv = csv.writer(self._file)
        self._csv.writerow(SIMULATOR_HEALTH_FIELDS)
        self._file.flush()

    def _reading(self) -> _Reading:
        with self._process.oneshot():
            times = self._process.cpu_times()
            rss = int(self._process.memory_info().rss)
        fds = count_open_fds(self._process.pid)
        return time.time(), times.user + times.system, _wait_s(), rss, fds

    async def run(self) -> None:
        """Sample until cancelled; the file is closed on the way out."""
        lag_task = asyncio.create_task(self._probe.run())
        try:
            before = self._reading()
            while True:
                await asyncio.sleep(self.interval_s)
                after = self._reading()
                self._write(before, after)
                before = after
        finally:
            lag_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await lag_task
            self._file.close()

    def _write(self, before: _Reading, after: _Reading) -> None:
        elapsed = after[0] - before[0]
        cpu = 100.0 * (after[1] - before[1]) / elapsed if elapsed > 0 else 0.0
        wait = 100.0 * (after[2] - before[2]) / elapsed if elapsed > 0 else math.nan
        self._csv.writerow(
            [
                f"{after[0]:.3f}",
                f"{max(cpu, 0.0):.1f}",
                "" if math.isnan(wait) else f"{max(wait, 0.0):.1f}",
                after[3],
                after[4],
                len(asyncio.all_tasks()),
                f"{self._probe.take_max_ms():.2f}",
            ]
        )
        self._file.flush()


def judge_health_log(path: Path, *, since_ts: float) -> Saturation | None:
    """The saturation rule over the samples of a ``simulator.csv`` taken after ``since_ts``
    (UNIX seconds); None when there is no such file."""
    columns: dict[str, list[float]] = {"cpu_percent": [], "loop_lag_ms": [], "cpu_wait_percent": []}
    try:
        with path.open(encoding="utf-8", newline="") as file:
            for row in csv.DictReader(file):
                if float(row["ts"] or "nan") < since_ts:
                    continue
                for name, values in columns.items():
                    values.append(float(row.get(name) or "nan"))
    except (OSError, KeyError, ValueError):  # absent (external target) or unreadable
        return None
    return judge(columns["cpu_percent"], columns["loop_lag_ms"], columns["cpu_wait_percent"])
