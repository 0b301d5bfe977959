"""When a process that serves thousands of agents collects its garbage: one schedule
for the load processes (gevent, :mod:`gwsload.harness.young_gc`) and the simulator
(asyncio, :mod:`gwsload.simulator.collector`).

CPython's own collector runs a full collection whenever the oldest generation has
grown by a quarter, walking every live object (about a microsecond each): in a
process holding 10,000 agents' sessions, pauses of 0.3-1.7 s every half minute, and
every notification in flight waits. So such a process turns it off and collects on
this schedule instead: the young generation every ``YOUNG_GC_PERIOD_S``, the
long-lived heap frozen out of sight (:func:`freeze_heap`), and the whole unfrozen heap
by :class:`OldestCollector` when due. Stdlib only.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

__all__ = [
    "OLDEST_GC_MAX_PERIOD_S",
    "OLDEST_GC_MIN_PERIOD_S",
    "OLDEST_GC_S_PER_AGENT",
    "YOUNG_GC_PERIOD_S",
    "OldestCollector",
    "freeze_heap",
    "next_oldest_period_s",
]

#: how often the young generation is collected
YOUNG_GC_PERIOD_S = 0.1

#: the oldest generation's collections come at least this often ...
OLDEST_GC_MIN_PERIOD_S = 10.0
#: ... at most this often ...
OLDEST_GC_MAX_PERIOD_S = 900.0
#: ... and otherwise this many times their expected duration apart
_OLDEST_GC_SPACING = 4000.0
#: an oldest collection's walk per agent in the process (measured at 10,000 agents)
OLDEST_GC_S_PER_AGENT = 50e-6


class OldestCollector:
    """Collects the whole unfrozen heap when due: 4,000 times the expected walk
    after the last (within the bounds above), the walk expected to take the longer of
    the last one measured and ``OLDEST_GC_S_PER_AGENT`` per agent."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last = clock()
        #: duration (s) of the latest collection, None before the first
        self.last_duration_s: float | None = None

    def restart(self) -> None:
        """A freeze just emptied the oldest generation: a whole period from now."""
        self._last = self._clock()

    def collect_if_due(self, agents: int) -> bool:
        expected_s = max(self.last_duration_s or 0.0, agents * OLDEST_GC_S_PER_AGENT)
        start = self._clock()
        if start - self._last < next_oldest_period_s(expected_s):
            return False
        gc.collect(2)
        self._last = self._clock()
        self.last_duration_s = self._last - start
        return True


def next_oldest_period_s(walk_s: float) -> float:
    """Seconds from one oldest-generation collection to the next when one walks ``walk_s``."""
    return min(max(walk_s * _OLDEST_GC_SPACING, OLDEST_GC_MIN_PERIOD_S), OLDEST_GC_MAX_PERIOD_S)


def freeze_heap(*, full: bool = True) -> None:
    """Move every live object out of the collector's sight, after a full collection
    when ``full`` (start-up) and without one otherwise (after a ramp).

    Long-lived objects (modules, agents) are frozen after start-up and after each
    ramp, so later collections only walk what was created since. A collection before
    the freeze after a ramp would walk every agent made by it, the agents already
    operating: at 10,000 agents a full one stalled the loop 1.3 s, one of the middle
    generation (which holds the ramp's survivors) 0.85 s. A reference cycle the
    ramp left behind in the older generations then stays frozen, in memory (the young
    collections free those made within the last 0.1 s).
    """
    if full:
        gc.collect(2)
    gc.freeze()
