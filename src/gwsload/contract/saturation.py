"""When a measuring process (a load-generator worker, the embedded simulator) was saturated.

A saturated process adds its own delay to every latency measured through it and may
offer less load than asked, so a knee or an SLO breach it was part of is not a verdict
on the target. One rule for every such process, judged over its health samples of a
period (the whole measured period, or one capacity step):

- **CPU**: a sample at or above ``CPU_BUSY_PERCENT`` (% of one core: gevent and asyncio
  processes use one core) counts as busy; saturated when at least ``CPU_BUSY_SHARE``
  of the samples are busy;
- **event-loop lag**: a sample whose worst wake-up delay exceeds ``LOOP_LAG_MS`` counts
  as lagging; saturated when at least ``LOOP_LAG_SHARE`` of the samples lag. Each
  sample holds the worst delay of its window, so a single garbage-collection pause or
  a neighbour's burst on a shared machine must not condemn a period: it takes a pattern,
  and in a short period (a 20-second capacity step has about ten samples) at least
  ``MIN_SAMPLES_OVER`` samples over the line.

CPU wait (time runnable but waiting for a core, from ``/proc/<pid>/schedstat``) is
reported beside them as the likely cause of lag on a crowded machine; it does not
decide on its own.

Pure: stdlib only.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass

from gwsload.contract import numbers

__all__ = [
    "CPU_BUSY_PERCENT",
    "CPU_BUSY_SHARE",
    "CPU_WAIT_PERCENT",
    "LOOP_LAG_MS",
    "LOOP_LAG_SHARE",
    "MIN_SAMPLES_OVER",
    "SIMULATOR_HEALTH_FIELDS",
    "SIMULATOR_HEALTH_FILE",
    "Saturation",
    "count_open_fds",
    "judge",
    "load_process_findings",
    "parse_schedstat_wait_s",
]

#: a sample at or above this CPU % (of one core) counts as busy
CPU_BUSY_PERCENT = 90.0
#: saturated when at least this share of the samples is busy
CPU_BUSY_SHARE = 0.10
#: a sample whose worst event-loop wake-up delay exceeds this (ms) counts as lagging
LOOP_LAG_MS = 10.0
#: saturated when at least this share of the samples lag
LOOP_LAG_SHARE = 0.10
#: ... and at least this many samples are busy (or lag): one stall is not a pattern
MIN_SAMPLES_OVER = 2
#: a process that waited for a core at least this % of the time, on average, was on a
#: crowded machine: named in the reason, and the cause when its own CPU was not busy
CPU_WAIT_PERCENT = 10.0

#: the load processes' health samples, ``generator.csv`` (docs/run-folder.md)
GENERATOR_FIELDS = (
    "ts",
    "worker",
    "users",
    "cpu_percent",
    "rss_bytes",
    "open_fds",
    "greenlets",
    "loop_lag_ms",
    "cpu_wait_percent",
    "py_blocks",
)
#: columns added after the first format: absent in older folders, read as unknown
GENERATOR_LATER_FIELDS = ("cpu_wait_percent", "py_blocks")

#: the embedded simulator's own health samples in the run folder (docs/run-folder.md)
SIMULATOR_HEALTH_FILE = "simulator.csv"
SIMULATOR_HEALTH_FIELDS = (
    "ts",
    "cpu_percent",
    "cpu_wait_percent",
    "rss_bytes",
    "open_fds",
    "tasks",
    "loop_lag_ms",
)


@dataclass(frozen=True, slots=True)
class Saturation:
    """The verdict on one process over one period, with the figures it rests on."""

    samples: int
    busy_samples: int
    lagging_samples: int
    busy_share: float
    lag_share: float
    worst_lag_ms: float
    cpu_wait_percent: float

    @property
    def cpu_saturated(self) -> bool:
        return self.busy_samples >= MIN_SAMPLES_OVER and self.busy_share >= CPU_BUSY_SHARE

    @property
    def lag_saturated(self) -> bool:
        return self.lagging_samples >= MIN_SAMPLES_OVER and self.lag_share >= LOOP_LAG_SHARE

    @property
    def saturated(self) -> bool:
        return self.cpu_saturated or self.lag_saturated

    @property
    def crowded(self) -> bool:
        """Lagging while its own CPU was not busy, and waiting for a core: other processes
        on the machine, not its own load, held it back."""
        return (
            self.lag_saturated
            and not self.cpu_saturated
            and self.cpu_wait_percent >= CPU_WAIT_PERCENT
        )

    @property
    def reason(self) -> str:
        """Why it was saturated, e.g. ``event-loop lag > 10 ms in 61 % of samples``; "" if not."""
        parts = []
        if self.lag_saturated:
            parts.append(
                f"event-loop lag > {numbers.latency_ms(LOOP_LAG_MS)} in "
                f"{numbers.percent(self.lag_share, 2)} of samples"
            )
        if self.cpu_saturated:
            parts.append(
                f"CPU >= {numbers.significant(CPU_BUSY_PERCENT)} % of a core in "
                f"{numbers.percent(self.busy_share, 2)} of samples"
            )
        if parts and self.cpu_wait_percent >= CPU_WAIT_PERCENT:
            parts.append(
                f"waiting for a CPU {numbers.significant(self.cpu_wait_percent, 2)} % of the time"
            )
        return ", ".join(parts)


def judge(
    cpu_percent: Iterable[float],
    loop_lag_ms: Iterable[float],
    cpu_wait_percent: Iterable[float] = (),
) -> Saturation:
    """The rule over one process's samples of one period (NaN values are ignored)."""
    cpu = [c for c in cpu_percent if not math.isnan(c)]
    lags = [lag for lag in loop_lag_ms if not math.isnan(lag)]
    waits = [w for w in cpu_wait_percent if not math.isnan(w)]
    samples = max(len(cpu), len(lags))
    busy = sum(1 for c in cpu if c >= CPU_BUSY_PERCENT)
    lagging = sum(1 for lag in lags if lag > LOOP_LAG_MS)
    return Saturation(
        samples=samples,
        busy_samples=busy,
        lagging_samples=lagging,
        busy_share=busy / len(cpu) if cpu else 0.0,
        lag_share=lagging / len(lags) if lags else 0.0,
        worst_lag_ms=max(lags) if lags else math.nan,
        cpu_wait_percent=sum(waits) / len(waits) if waits else math.nan,
    )


def load_process_findings(worker: str, verdict: Saturation) -> list[str]:
    """What a saturated load-generator process is reported with, one line per cause
    (the console, ``manifest.json`` ``generator`` and the report's validity section)."""
    findings = []
    if verdict.cpu_saturated:
        findings.append(
            f"worker {worker} CPU >= {numbers.significant(CPU_BUSY_PERCENT)} % for "
            f"{numbers.percent(verdict.busy_share, 2)} of the run"
        )
    if verdict.lag_saturated:
        findings.append(
            f"worker {worker} event-loop lag > {numbers.latency_ms(LOOP_LAG_MS)} in "
            f"{numbers.percent(verdict.lag_share, 2)} of samples "
            f"(worst {numbers.latency_ms(verdict.worst_lag_ms)})"
        )
    return findings


def parse_schedstat_wait_s(text: str) -> float:
    """Seconds a task waited on a run queue, from ``/proc/<pid>/schedstat``.

    The file holds three numbers: time on the CPU (ns), time waiting to run (ns),
    timeslices. NaN when the text is not that (kernels without schedstats).
    """
    fields = text.split()
    try:
        return int(fields[1]) / 1e9
    except (IndexError, ValueError):
        return math.nan


def count_open_fds(pid: int) -> int:
    """Open file descriptors of process ``pid``.

    Linux 6.2 and later give the count as the size of ``/proc/<pid>/fd``: one ``stat``,
    where listing the directory (what psutil does) takes ~10 ms at 10,000 descriptors,
    all of it on the event loop of the process that samples itself. Older kernels
    report size 0 (a live process always has some open): then the directory is listed.
    """
    path = f"/proc/{pid}/fd"
    size = os.stat(path).st_size
    return size if size > 0 else len(os.listdir(path))
