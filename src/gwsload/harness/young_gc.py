"""Collect the young generation often, in small pieces, instead of rarely, in one stall.

CPython starts a generation-0 collection when allocations minus deallocations of
tracked objects pass 700. In a load process that count hardly grows: every
``/meta/connect`` renewal and every operation creates an agent's new request state
(headers, timers, waiters, messages) while freeing the previous one, which sits in
an older generation. The young generation itself keeps growing all the same (some
50,000 live objects at 1,000 agents), and when a collection finally comes it walks
all of them at once: 25-50 ms of CPU on the event loop at 1,000 busy agents, ten
times that at 10,000, and every notification arriving meanwhile is stamped late.

:class:`YoungCollector` runs ``gc.collect(0)`` every ``period_s`` (0.2 s) from a
greenlet, so each collection walks only what was made since the last one (about a
millisecond), and ``gc.collect(1)`` every tenth time, as CPython would (its automatic
collections, which would have done that, now seldom come: the count they wait for
is reset by each of these). For the same reason CPython's own trigger for the oldest
generation seldom comes, so once a ramp's heap is frozen (:func:`freeze_heap`) the
load process collects the oldest generation every ``OLDEST_GC_PERIOD_S``: it then
holds only what outlived the younger ones since the freeze, a short walk.
"""

from __future__ import annotations

import gc

import gevent

__all__ = ["OLDEST_GC_PERIOD_S", "YOUNG_GC_PERIOD_S", "YoungCollector", "freeze_heap"]

#: how often the young generation is collected
YOUNG_GC_PERIOD_S = 0.2
#: every how many young collections the middle generation is collected too
_MIDDLE_EVERY = 10


class YoungCollector:
    """A greenlet collecting generation 0 every ``period_s`` (see module doc)."""

    def __init__(self, period_s: float = YOUNG_GC_PERIOD_S) -> None:
        self._period_s = period_s
        self._greenlet: gevent.Greenlet[[], None] | None = None

    def start(self) -> None:
        if self._greenlet is None:
            self._greenlet = gevent.spawn(self._run)

    def stop(self) -> None:
        greenlet, self._greenlet = self._greenlet, None
        if greenlet is not None:
            greenlet.kill(block=True)

    def _run(self) -> None:
        period = self._period_s
        ticks = 0
        while True:
            gevent.sleep(period)
            ticks += 1
            gc.collect(1 if ticks % _MIDDLE_EVERY == 0 else 0)


#: how often, once a ramp's heap is frozen, the oldest generation is collected
OLDEST_GC_PERIOD_S = 60.0


def freeze_heap(*, full: bool = True) -> None:
    """Collect, then move every live object out of the collector's sight.

    A full (generation 2) collection walks every tracked object; with thousands of
    agents that is a 100 ms pause of the whole event loop, and every notification
    arriving meanwhile would be stamped late. Long-lived objects (modules, agents)
    are frozen after start-up and after each ramp, so later collections only walk
    what was created since. After a ramp (``full=False``) only the two younger
    generations are collected first: a full collection of 10,000 agents' heap stalled
    the loop 1.3 s, while the agents were already operating. A reference cycle that
    already sat in the oldest generation then stays frozen, in memory, for the run.
    """
    gc.collect(2 if full else 1)
    gc.freeze()
