"""Open workload: recording cycles started at a target rate, whatever the answers do.

A ticker greenlet issues one ticket per cycle at the rate in force (the stage's
``rate_per_s`` divided among the worker processes; constant or Poisson gaps), each
ticket carrying its *intended* start time on the ``time.perf_counter`` clock. Idle
agents take tickets in order. When every agent is busy, tickets wait, and the
operation that finally takes one keeps the ticket's intended time: the report
measures latency from when the operation should have started (coordinated-omission
correction), and
``start_lag_ms`` shows how late it really started.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

import gevent
from gevent.queue import Empty, Queue

__all__ = ["CycleTicker"]


class CycleTicker:
    """Issues cycle tickets (intended perf_counter start times) at ``rate_now()`` per second."""

    def __init__(
        self,
        rate_now: Callable[[], float | None],
        *,
        poisson: bool = False,
        seed: int = 1,
        max_backlog: int = 100_000,
    ) -> None:
        self._rate_now = rate_now
        self._poisson = random.Random(seed) if poisson else None
        self._tickets: Queue[float] = Queue()
        self._max_backlog = max_backlog
        self._greenlet: gevent.Greenlet | None = None
        #: tickets thrown away because the backlog was full (cycles that never started)
        self.overflowed = 0
        #: tickets issued so far
        self.issued = 0

    def start(self) -> None:
        if self._greenlet is None:
            self._greenlet = gevent.spawn(self._run)

    def stop(self) -> int:
        """Stop issuing; returns how many tickets were left untaken (cycles not started)."""
        if self._greenlet is not None:
            self._greenlet.kill(block=True)
            self._greenlet = None
        left = int(self._tickets.qsize())
        while not self._tickets.empty():
            self._tickets.get_nowait()
        return left + self.overflowed

    def take(self, timeout: float) -> float | None:
        """The next ticket's intended start, or None when none came within ``timeout``."""
        try:
            return float(self._tickets.get(timeout=timeout))
        except Empty:
            return None

    @property
    def backlog(self) -> int:
        return int(self._tickets.qsize())

    def _run(self) -> None:
        clock = time.perf_counter
        next_due = clock()
        while True:
            rate = self._rate_now()
            if not rate or rate <= 0:
                gevent.sleep(0.1)
                next_due = clock()
                continue
            now = clock()
            if next_due > now:
                gevent.sleep(min(next_due - now, 0.1))
                continue
            # issue every ticket that is due, with its own intended time, even when the
            # ticker itself woke late: lateness must show up, not be absorbed
            while next_due <= now:
                if self._tickets.qsize() >= self._max_backlog:
                    self.overflowed += 1
                else:
                    self._tickets.put(next_due)
                self.issued += 1
                gap = 1.0 / rate
                next_due += gap if self._poisson is None else self._poisson.expovariate(rate)
