"""Losses put down to a measuring process that stalled while they waited."""

from __future__ import annotations

import math

from gwsload.contract.loss_causes import STALL_SHARE, HealthPoint, attribute_losses

TIMEOUT_S = 10.0


def _points(lags: dict[float, float], wait: float = math.nan) -> list[HealthPoint]:
    return [HealthPoint(ts, lag, wait) for ts, lag in lags.items()]


def test_a_loss_that_waited_through_a_stall_is_the_stalled_process_s() -> None:
    stall_ms = STALL_SHARE * TIMEOUT_S * 1000.0
    samples = {
        "embedded simulator": _points({100.0: 5.0, 102.0: 4275.0, 104.0: 8.0}, wait=78.0),
        "load process w1": _points({100.0: 300.0, 102.0: 250.0, 104.0: 12.0}, wait=20.0),
    }
    # sent at 95 (waited until 105: the stall at 102 is in), at 93 (the 102 sample
    # covers 100-102, before its deadline at 103 + one interval), at 103 (after it)
    causes = attribute_losses(
        [95.0, 93.0, 103.0], samples, notification_timeout_s=TIMEOUT_S, sample_interval_s=2.0
    )
    assert causes.lost == 3 and causes.explained == 2
    # a busy machine's 300 ms is not a stall of a 10 s timeout: w1 is not named
    assert causes.processes == {"embedded simulator": (2, 4275.0, 78.0)}
    assert 300.0 < stall_ms <= 4275.0
    line = causes.line()
    assert line is not None
    assert line.startswith("2 of the 3 lost waited while a measuring process stalled")
    assert "embedded simulator: 2, event-loop lag up to 4,275 ms" in line
    assert "waiting for a CPU 78 % of the time" in line
    assert line.endswith("not evidence against the target")


def test_losses_with_no_stall_around_them_blame_nobody() -> None:
    samples = {"load process w1": _points({100.0: 999.0, 130.0: 5000.0})}
    causes = attribute_losses(
        [105.0, 110.0], samples, notification_timeout_s=TIMEOUT_S, sample_interval_s=2.0
    )
    # 999 ms is just under a tenth of 10 s; the 5 s stall came after both deadlines
    assert causes.explained == 0 and causes.processes == {}
    assert causes.line() is None
    assert (
        attribute_losses([], samples, notification_timeout_s=1, sample_interval_s=2).line() is None
    )


def test_a_stall_reported_after_the_deadline_still_covers_the_wait() -> None:
    # a process stalled 2.5 s from 100: its sampler wrote the lag at 104.4, after the
    # 1-s deadlines plus one interval (sent at 99.8: 102.8), yet the stall lay in the wait
    samples = {"embedded simulator": _points({98.0: 3.0, 102.6: 4.0, 104.4: 2500.0})}
    causes = attribute_losses(
        [99.8, 99.6, 104.5], samples, notification_timeout_s=1.0, sample_interval_s=2.0
    )
    # sent at 104.5, after the stall ended and was reported: not explained
    assert causes.explained == 2
