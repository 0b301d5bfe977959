"""The load process's garbage collection: small collections on a schedule, never
CPython's own, which stall the event loop for as long as the heap is big. The
schedule's rules live in :mod:`gwsload.collection` (the simulator follows them too);
this module is its gevent side.

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

import gevent

from gwsload.collection import YOUNG_GC_PERIOD_S

__all__ = ["YoungCollector"]


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
