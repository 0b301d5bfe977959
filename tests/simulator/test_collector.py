"""The simulator's collections: CPython's collector off while the schedule runs, a
reference cycle freed by the young collections, the collector given back after."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import weakref

from gwsload.simulator.collector import collect_on_schedule


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


async def _life_of_a_cycle() -> tuple[bool, bool, bool]:
    task = asyncio.create_task(collect_on_schedule(lambda: 10_000))
    await asyncio.sleep(0.01)
    off_while_running = not gc.isenabled()
    a, b = _Node(), _Node()
    a.other, b.other = b, a
    gone = weakref.ref(a)
    del a, b
    alive_at_first = gone() is not None  # a cycle: reference counting does not free it
    await asyncio.sleep(0.35)  # three young collections
    freed = gone() is None
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return off_while_running, alive_at_first and freed, gc.isenabled()


def test_the_schedule_frees_young_cycles_with_cpythons_collector_off() -> None:
    was_enabled = gc.isenabled()
    gc.enable()
    try:
        off_while_running, freed, given_back = asyncio.run(_life_of_a_cycle())
    finally:
        gc.unfreeze()  # the schedule froze the test process's heap
        if not was_enabled:
            gc.disable()
    assert off_while_running
    assert freed
    assert given_back
