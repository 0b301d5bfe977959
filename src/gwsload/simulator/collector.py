"""The simulator process's garbage collection, on the schedule of
:mod:`gwsload.collection` instead of CPython's own.

Measured at 10,000 agents on one node (long-polling, 240 operations a second): with
CPython's collector, the node's event loop stalled 0.4-1.7 s every half minute (its
full collections walk every session), and each stall reached the load generator as
a burst of held connects, responses and notifications all at once. This task
collects the young generation every 0.1 s and the whole unfrozen heap when due (at
most every 15 minutes at 10,000 agents); the heap at start-up (the agents' accounts,
the modules) is frozen out of sight first.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable

from gwsload.collection import YOUNG_GC_PERIOD_S, OldestCollector, freeze_heap

__all__ = ["collect_on_schedule"]

#: young collections between two looks at whether the oldest one is due
_OLDEST_LOOK_EVERY = 20


async def collect_on_schedule(agents: Callable[[], int]) -> None:
    """Run until cancelled; CPython's collector is off meanwhile and given back after.

    ``agents``: how many agents this process serves (the oldest collection's expected
    walk grows with them).
    """
    was_enabled = gc.isenabled()
    freeze_heap()
    gc.disable()
    oldest = OldestCollector()
    try:
        young = 0
        while True:
            await asyncio.sleep(YOUNG_GC_PERIOD_S)
            gc.collect(0)
            young += 1
            if young % _OLDEST_LOOK_EVERY == 0:
                oldest.collect_if_due(agents())
    finally:
        if was_enabled:
            gc.enable()
