"""Login pacing: the asked rate while the loop is fine; while it lags, an adaptive share
(additive increase, multiplicative decrease against the 10 ms goal); no burst after."""

from __future__ import annotations

import itertools
from collections.abc import Callable

from gwsload.contract.pacing import (
    ADJUST_S,
    DECREASE,
    INCREASE_SHARE,
    MAX_LOOP_LAG_MS,
    MIN_SHARE,
    LoginPacer,
    merge_pacing,
    pacing_text,
)
from gwsload.launcher.progress import format_progress

LAGGING = MAX_LOOP_LAG_MS * 3


def _admit_for(
    pacer: LoginPacer, start: float, end: float, lag: Callable[[float], float]
) -> list[float]:
    """Drive the pacer like its gevent driver: note the lag (as ``lag(now)`` says)
    before each attempt, wait what it says, at most 50 ms (the lag probe's period)."""
    admitted: list[float] = []
    now = start
    while now < end:
        pacer.note_lag(lag(now), now)
        wait = pacer.wait_s(now)
        if wait == 0.0:
            admitted.append(now)
        else:
            now += min(wait, 0.05)
    return admitted


def _windows(pacer: LoginPacer, lags: list[float], start: float = 0.0) -> list[float]:
    """One adjustment window per lag (two notes of it each); the share after each."""
    pacer.note_lag(lags[0], start)  # opens the first window
    shares = []
    for k, lag in enumerate(lags):
        pacer.note_lag(lag, start + k * ADJUST_S + ADJUST_S / 2)
        pacer.note_lag(lag, start + (k + 1) * ADJUST_S)
        shares.append(pacer.share)
    return shares


def _fine(now: float) -> float:
    return 0.0


def test_logins_go_at_the_asked_rate_when_the_loop_is_fine() -> None:
    pacer = LoginPacer(20.0)
    admitted = _admit_for(pacer, 0.0, 10.0, _fine)
    assert 199 <= len(admitted) <= 201
    summary = pacer.summary(10.0)
    assert summary.used_per_s is not None and abs(summary.used_per_s - 20.0) < 0.1
    assert not summary.slowed and summary.held_s == 0.0


def test_a_lagging_loop_cuts_the_rate_multiplicatively_down_to_the_floor() -> None:
    pacer = LoginPacer(100.0)
    # the lag rises a little every window: not falling
    shares = _windows(pacer, [LAGGING + window for window in range(11)])
    assert shares[0] == DECREASE  # the first window: a first cut
    assert shares[1] == DECREASE**2
    assert min(shares) == MIN_SHARE and shares[-1] == MIN_SHARE  # never below the floor
    assert pacer.used_per_s == 100.0 * MIN_SHARE


def test_a_lag_above_the_goal_that_falls_holds_the_rate() -> None:
    pacer = LoginPacer(100.0)
    # cut; still above the goal but falling: held; above and no longer falling: cut
    shares = _windows(pacer, [LAGGING, LAGGING - 5, LAGGING - 5])
    assert shares == [DECREASE, DECREASE, DECREASE**2]


def test_a_fine_loop_raises_the_rate_additively_back_to_the_asked_one() -> None:
    pacer = LoginPacer(100.0)
    _windows(pacer, [LAGGING + window for window in range(20)])
    assert pacer.share == MIN_SHARE
    # 20 windows at the goal (fine), from 10 s on
    shares = _windows(pacer, [MAX_LOOP_LAG_MS] * 20, start=20 * ADJUST_S)
    steps = [round(b - a, 9) for a, b in itertools.pairwise(shares) if b < 1.0]
    assert steps and set(steps) == {INCREASE_SHARE}
    assert shares[-1] == 1.0 and max(shares) == 1.0  # never above the asked rate
    # below the asked rate from the first cut until the share was back at 1
    back_s = (21 + shares.index(1.0)) * ADJUST_S
    assert abs(pacer.summary(40 * ADJUST_S).held_s - (back_s - ADJUST_S)) < 1e-9


def test_sporadic_late_wake_ups_do_not_slow_the_logins() -> None:
    """A shared machine: one wake-up in three is late (the process waited for a core).
    The median of each window is fine, so the logins go at the asked rate; the former
    rule (a tenth of the rate whenever the latest wake-up was late) made such ramps
    about three times longer than asked."""
    pacer = LoginPacer(100.0)

    def lag(now: float) -> float:
        return LAGGING if int(now * 1000) % 3 == 0 else 2.0

    admitted = _admit_for(pacer, 0.0, 20.0, lag)
    assert len(admitted) >= 0.95 * 100 * 20
    assert not pacer.summary(20.0).slowed


def test_a_lagging_spell_slows_the_logins_and_no_burst_follows() -> None:
    pacer = LoginPacer(20.0)

    def lag(now: float) -> float:  # 4 s of a loop lagging more and more
        return LAGGING + now if 2.0 <= now < 6.0 else 0.0

    admitted = _admit_for(pacer, 0.0, 14.0, lag)
    during = [t for t in admitted if 2.5 <= t < 6.0]
    assert len(during) < 0.5 * 3.5 * 20.0  # well below the asked rate while it lagged
    assert len(during) >= 3.5 * 20.0 * MIN_SHARE - 1  # but never below the floor
    # no catch-up burst after: never closer than the asked spacing
    assert min(b - a for a, b in itertools.pairwise(admitted)) >= 1 / 20.0 - 1e-9
    # back at the asked rate within (1 - MIN_SHARE) / INCREASE_SHARE windows
    late = [t for t in admitted if t >= 6.0 + (1 - MIN_SHARE) / INCREASE_SHARE * ADJUST_S + 1]
    assert min(b - a for a, b in itertools.pairwise(late)) <= 1 / 20.0 + 0.05
    summary = pacer.summary(14.0)
    assert summary.slowed and 3.0 <= summary.held_s <= 10.0
    assert summary.used_per_s is not None and summary.used_per_s < 20.0
    assert summary.asked_per_s == 20.0
    assert summary.to_dict()["logins"] == len(admitted)


def test_time_below_the_asked_rate_ends_with_the_logins_that_waited() -> None:
    """A ramp that ended with the share still below 1: the time after its last login is
    not time the logins were slowed (no login waited)."""
    pacer = LoginPacer(100.0)
    _windows(pacer, [LAGGING + window for window in range(4)])  # 2 s, all lagging
    assert pacer.share < 1.0
    assert pacer.summary(2.0).held_s == 1.5  # from the first cut at 0.5 s
    assert pacer.summary(600.0).held_s == 1.5  # nobody waited after 2 s


def test_the_run_line_adds_processes_and_names_the_rate_used() -> None:
    fine = {"logins": 50, "asked_per_s": 50.0, "used_per_s": 49.9, "held_s": 0.0}
    slowed = {"logins": 30, "asked_per_s": 50.0, "used_per_s": 12.5, "held_s": 14.0}
    merged = merge_pacing([fine, slowed, {}])
    assert merged == {"logins": 80, "asked_per_s": 100.0, "used_per_s": 62.4, "held_s": 14.0}
    assert pacing_text(merge_pacing([fine])) is None
    line = pacing_text(merged)
    assert line is not None and line.startswith("logins slowed to 62.4/s (asked 100/s)")
    assert "> 10 ms" in line
    record = {"elapsed_s": 30.0, "duration_s": 60.0, "users": 80, "logins": merged}
    assert line in format_progress(record)
    assert merge_pacing([]) == {}
