"""The load process's young-generation collector: reference cycles made by the agents
are freed within a period or two, without waiting for CPython's allocation count."""

from __future__ import annotations

import gc
import weakref

import gevent
import pytest

from gwsload.harness.young_gc import YoungCollector

pytestmark = pytest.mark.gevent


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def test_young_cycles_are_collected_by_the_greenlet_alone() -> None:
    was_enabled = gc.isenabled()
    gc.disable()  # only the collector under test may free the cycle
    collector = YoungCollector(period_s=0.05)
    try:
        a, b = _Node(), _Node()
        a.other, b.other = b, a
        gone = weakref.ref(a)
        del a, b
        gevent.sleep(0.01)
        assert gone() is not None  # a cycle: reference counting alone does not free it
        collector.start()
        gevent.sleep(0.2)
        assert gone() is None
        collector.stop()
        c, d = _Node(), _Node()
        c.other, d.other = d, c
        kept = weakref.ref(c)
        del c, d
        gevent.sleep(0.2)
        assert kept() is not None  # stopped: nothing collects any more
    finally:
        collector.stop()
        if was_enabled:
            gc.enable()
        gc.collect()


def test_a_cycle_that_outlived_a_young_collection_is_collected_too() -> None:
    was_enabled = gc.isenabled()
    gc.disable()
    collector = YoungCollector(period_s=0.02)
    try:
        a, b = _Node(), _Node()
        a.other, b.other = b, a
        gone = weakref.ref(a)
        collector.start()
        gevent.sleep(0.05)  # alive at a young collection: moved to the middle generation
        del a, b
        gevent.sleep(0.5)  # the middle generation's turn comes every tenth collection
        assert gone() is None
    finally:
        collector.stop()
        if was_enabled:
            gc.enable()
        gc.collect()
