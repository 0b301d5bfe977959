"""Login pacing: the asked rate while the loop is fine, nothing while it lags, no burst after."""

from __future__ import annotations

import itertools

from gwsload.contract.pacing import (
    HELD_SHARE,
    HOLD_RECHECK_S,
    MAX_LOOP_LAG_MS,
    LoginPacer,
    merge_pacing,
    pacing_text,
)
from gwsload.launcher.progress import format_progress


def _admit_for(
    pacer: LoginPacer, start: float, end: float, lag_at: dict[int, float]
) -> list[float]:
    """Drive the pacer like its gevent driver: wait what it says, note the lag (by
    whole second, from ``lag_at``, 0 elsewhere) before each attempt."""
    admitted: list[float] = []
    now = start
    while now < end:
        pacer.note_lag(lag_at.get(int(now), 0.0), now)
        wait = pacer.wait_s(now)
        if wait == 0.0:
            admitted.append(now)
        else:
            now += wait
    return admitted


def test_logins_go_at_the_asked_rate_when_the_loop_is_fine() -> None:
    pacer = LoginPacer(20.0)
    admitted = _admit_for(pacer, 0.0, 10.0, {})
    assert 199 <= len(admitted) <= 201
    summary = pacer.summary(10.0)
    assert summary.used_per_s is not None and abs(summary.used_per_s - 20.0) < 0.1
    assert not summary.slowed and summary.held_s == 0.0


def test_a_lagging_loop_holds_logins_back_and_the_used_rate_says_so() -> None:
    pacer = LoginPacer(20.0)
    lagging = {s: MAX_LOOP_LAG_MS * 3 for s in range(2, 6)}  # 4 s of a lagging loop
    admitted = _admit_for(pacer, 0.0, 10.0, lagging)
    # while it lagged: only the held share of the asked rate (2/s of 20/s)
    held = [t for t in admitted if 2.0 < t < 6.0]
    assert len(held) == round(4 * 20.0 * HELD_SHARE)
    # no catch-up burst after the hold: the asked spacing right away
    after = [t for t in admitted if t >= 6.0]
    assert min(b - a for a, b in itertools.pairwise(after)) >= 1 / 20.0 - 1e-9
    summary = pacer.summary(10.0)
    assert summary.slowed and abs(summary.held_s - 4.0) <= HOLD_RECHECK_S * 2
    assert summary.used_per_s is not None and summary.used_per_s < 14.0  # 128 in 10 s
    assert summary.asked_per_s == 20.0
    assert summary.to_dict()["logins"] == len(admitted)


def test_lag_exactly_at_the_limit_does_not_hold() -> None:
    pacer = LoginPacer(5.0)
    pacer.note_lag(MAX_LOOP_LAG_MS, 0.0)
    assert pacer.wait_s(0.0) == 0.0
    pacer.note_lag(MAX_LOOP_LAG_MS + 0.1, 1.0)
    assert pacer.wait_s(1.0) == 0.0  # the held share: one now, the next in 2 s
    assert pacer.wait_s(1.5) == HOLD_RECHECK_S
    assert pacer.summary(1.5).slowed


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
