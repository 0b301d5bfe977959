"""The load process's collections: reference cycles made by the agents are freed by the
young collector within a period or two, without waiting for CPython's allocation
count; one that outlived a young collection by the oldest one, when due."""

from __future__ import annotations

import gc
import weakref

import gevent
import pytest

from gwsload.collection import (
    OLDEST_GC_MAX_PERIOD_S,
    OLDEST_GC_MIN_PERIOD_S,
    OLDEST_GC_S_PER_AGENT,
    OldestCollector,
    next_oldest_period_s,
)
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


def test_cpythons_own_collector_is_off_while_the_greenlet_runs() -> None:
    was_enabled = gc.isenabled()
    gc.enable()
    collector = YoungCollector(period_s=0.05)
    try:
        collector.start()
        assert not gc.isenabled()  # its full collections would stall the loop
        collector.stop()
        assert gc.isenabled()  # given back as it was found
    finally:
        collector.stop()
        if not was_enabled:
            gc.disable()


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_cycle_that_outlived_a_young_collection_waits_for_the_oldest_one() -> None:
    was_enabled = gc.isenabled()
    gc.disable()  # only the collectors under test may free the cycle
    collector = YoungCollector(period_s=0.02)
    clock = _Clock()
    oldest = OldestCollector(clock)
    try:
        a, b = _Node(), _Node()
        a.other, b.other = b, a
        gone = weakref.ref(a)
        gc.collect(0)  # alive at a young collection: out of the young generation
        del a, b
        collector.start()
        gevent.sleep(0.2)
        assert gone() is not None  # the young collections no longer see it
        clock.now += OLDEST_GC_MIN_PERIOD_S - 1
        assert not oldest.collect_if_due(agents=10)
        assert gone() is not None
        clock.now += 1
        assert oldest.collect_if_due(agents=10)
        assert gone() is None
        assert oldest.last_duration_s is not None
        assert not oldest.collect_if_due(agents=10)  # the next is a period away
        clock.now += OLDEST_GC_MIN_PERIOD_S
        assert oldest.collect_if_due(agents=10)
    finally:
        collector.stop()
        if was_enabled:
            gc.enable()
        gc.collect()


def test_a_big_process_collects_its_oldest_generation_rarely() -> None:
    clock = _Clock()
    oldest = OldestCollector(clock)
    clock.now += OLDEST_GC_MIN_PERIOD_S
    # 10,000 agents: a walk of about half a second, so one every 15 minutes
    assert not oldest.collect_if_due(agents=10_000)
    clock.now += OLDEST_GC_MAX_PERIOD_S - OLDEST_GC_MIN_PERIOD_S - 1
    assert not oldest.collect_if_due(agents=10_000)
    clock.now += 1
    assert oldest.collect_if_due(agents=10_000)
    oldest.restart()  # a freeze: a whole period again
    clock.now += OLDEST_GC_MIN_PERIOD_S
    assert not oldest.collect_if_due(agents=10_000)


def test_a_long_oldest_collection_makes_the_next_come_later() -> None:
    assert next_oldest_period_s(0.001) == OLDEST_GC_MIN_PERIOD_S  # small heap: every 10 s
    assert next_oldest_period_s(1_000 * OLDEST_GC_S_PER_AGENT) == pytest.approx(200.0)
    assert next_oldest_period_s(5.0) == OLDEST_GC_MAX_PERIOD_S
