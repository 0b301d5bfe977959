"""Generator health of one Locust process: CPU, memory, fds, greenlets, event-loop lag.

A saturated load generator adds its own delay to every latency it measures, so each
process samples itself every few seconds and the samples go into ``generator.csv``.
Event-loop lag is measured by a greenlet that asks to wake every ``period_s`` and
notes how late it actually woke: when the hub is busy, that lateness is what every
notification waiting to be stamped also suffers.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import gevent

from gwsload.metrics.health import GeneratorSample, ProcessProbe, build_sample

__all__ = ["HealthSampler", "LoopLagProbe"]


class LoopLagProbe:
    """A greenlet measuring how late the hub wakes a sleeper; keeps the worst per window."""

    __slots__ = ("_greenlet", "_last_lag_s", "_max_lag_s", "_period_s")

    def __init__(self, period_s: float = 0.05) -> None:
        self._period_s = period_s
        self._max_lag_s = 0.0
        self._last_lag_s = 0.0
        self._greenlet: gevent.Greenlet | None = None

    def start(self) -> None:
        if self._greenlet is None:
            self._greenlet = gevent.spawn(self._run)

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill(block=False)
            self._greenlet = None

    def take_max_ms(self) -> float:
        """The worst lateness since the last call, in ms; resets the window."""
        worst, self._max_lag_s = self._max_lag_s, 0.0
        return worst * 1000.0

    @property
    def last_ms(self) -> float:
        """The lateness of the latest wake-up, in ms (the login pacing reads it)."""
        return self._last_lag_s * 1000.0

    def _run(self) -> None:
        period = self._period_s
        clock = time.perf_counter
        while True:
            due = clock() + period
            gevent.sleep(period)
            lag = clock() - due
            self._last_lag_s = lag
            self._max_lag_s = max(self._max_lag_s, lag)


class HealthSampler:
    """Samples this process; ``users`` and ``greenlets`` are asked of the caller."""

    def __init__(
        self,
        worker: str,
        *,
        users: Callable[[], int],
        greenlets: Callable[[], int],
        probe: LoopLagProbe | None = None,
    ) -> None:
        self._worker = worker
        self._users = users
        self._greenlets = greenlets
        self._lag = probe or LoopLagProbe()
        self._process = ProcessProbe()
        self._before = self._process.read(time.time())

    def start(self) -> None:
        self._lag.start()

    def stop(self) -> None:
        self._lag.stop()

    @property
    def loop_lag_ms_now(self) -> float:
        """The event loop's latest lateness, ms (not a window's worst)."""
        return self._lag.last_ms

    def sample(self) -> GeneratorSample:
        """The sample of the period since the previous call (CPU % over that period)."""
        after = self._process.read(time.time())
        sample = build_sample(
            self._before,
            after,
            worker=self._worker,
            users=self._users(),
            greenlets=self._greenlets(),
            loop_lag_ms=self._lag.take_max_ms(),
            py_blocks=sys.getallocatedblocks(),
        )
        self._before = after
        return sample
