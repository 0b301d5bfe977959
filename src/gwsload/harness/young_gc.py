"""The load process's garbage collection: small collections on a schedule, never
CPython's own, which stall the event loop for as long as the heap is big.

CPython starts a generation-0 collection when allocations minus deallocations of
tracked objects pass 700, and a full one when the oldest generation has grown by a
quarter since the last. In a load process both come at the wrong time: every
``/meta/connect`` renewal and every operation creates an agent's new request state
while freeing the previous one, so the young generation grows without the count
noticing, and during a ramp the full collections walk every agent's state: measured
at 10,000 agents, one every 5-10 s of the ramp, growing to 0.9 s each, and after it
0.3-0.5 s every half minute (about a microsecond per live object). Every
notification arriving meanwhile is stamped late.

So the load process turns CPython's collector off (:class:`YoungCollector` does it
for as long as it runs) and collects from greenlets instead, in two steps:

- the young generation every ``YOUNG_GC_PERIOD_S`` (0.1 s): it holds what was made
  since the last one and is still alive, a few milliseconds at 10,000 agents (every
  0.2 s: up to 20 ms; docs/scaling.md has the runs with either period). What
  survives stays in the middle generation, which is never collected on its own (at
  10,000 agents a middle collection every 2 s took 20-40 ms, every 0.4 s 15-30 ms);
- long-lived objects (modules, agents) are frozen after start-up and after each ramp
  (:func:`freeze_heap`), out of every later collection's sight;
- everything else, by :class:`OldestCollector`: its walk takes about a microsecond per
  live object, some 50 us per agent (0.43-0.54 s at 10,000 agents), so it comes
  once per 4,000 times its expected duration, at least every 15 minutes and at most
  every 10 s: a 5-ms walk (100 agents) every 20 s, 50 ms (1,000 agents) every 200 s,
  0.5 s (10,000 agents) every 15 minutes. A pause long enough to show in the
  loop lag then falls in fewer than one 2-s sample in a hundred, and a reference
  cycle that outlived a young collection is freed within that period.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

import gevent

__all__ = [
    "OLDEST_GC_MAX_PERIOD_S",
    "OLDEST_GC_MIN_PERIOD_S",
    "OLDEST_GC_S_PER_AGENT",
    "YOUNG_GC_PERIOD_S",
    "OldestCollector",
    "YoungCollector",
    "freeze_heap",
    "next_oldest_period_s",
]

#: how often the young generation is collected
YOUNG_GC_PERIOD_S = 0.1


class YoungCollector:
    """A greenlet collecting the young generations (see module doc); CPython's own
    collector is off while it runs."""

    def __init__(self, period_s: float = YOUNG_GC_PERIOD_S) -> None:
        self._period_s = period_s
        self._greenlet: gevent.Greenlet[[], None] | None = None
        self._was_enabled = False

    def start(self) -> None:
        if self._greenlet is None:
            self._was_enabled = gc.isenabled()
            gc.disable()
            self._greenlet = gevent.spawn(self._run)

    def stop(self) -> None:
        greenlet, self._greenlet = self._greenlet, None
        if greenlet is not None:
            greenlet.kill(block=True)
            if self._was_enabled:
                gc.enable()

    def _run(self) -> None:
        period = self._period_s
        while True:
            gevent.sleep(period)
            gc.collect(0)


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
