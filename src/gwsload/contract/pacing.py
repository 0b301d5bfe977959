"""Login pacing: logins at the asked rate, slowed adaptively while the event loop lags.

A load process admits its agents' logins one at a time, at most at the rate the
scenario asks (the stage's ``spawn_rate``, this process's share). A login is a burst
of requests and parsing; a ramp faster than the process sustains delays every
notification of the agents already in (their stamps are taken late). So the pacer
admits logins at a share of the asked rate that it adapts every :data:`ADJUST_S`
against the lag goal :data:`MAX_LOOP_LAG_MS` (additive increase, multiplicative
decrease, as TCP does with its window):

- the median lag of the window above the goal, and not falling since the last
  window: the share is multiplied by :data:`DECREASE`, down to :data:`MIN_SHARE`
  (a crowded machine, where the lag does not fall however few logins there are,
  must still get its agents in);
- above the goal but falling: the share is held (the last decrease is working);
- at or below the goal: the share grows by :data:`INCREASE_SHARE`, up to the asked
  rate (no catch-up burst: missed admissions are not made up).

The median, not the worst wake-up, decides: on a shared machine a single late
wake-up (the process waited for a core) says nothing about the logins. The rate the
process actually used, and how long it stayed below the asked rate, are reported
next to the asked one.

Pure: the caller passes the time (``time.monotonic()`` seconds) and the lag;
:func:`merge_pacing` and :func:`pacing_text` are the run's figures and its one line.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gwsload.contract import numbers

__all__ = [
    "ADJUST_S",
    "DECREASE",
    "INCREASE_SHARE",
    "MAX_LOOP_LAG_MS",
    "MIN_SHARE",
    "LoginPacer",
    "PacingSummary",
    "merge_pacing",
    "pacing_text",
]

#: the lag goal: logins slow down while the event loop of the process lags more
MAX_LOOP_LAG_MS = 10.0
#: the share of the asked rate is adapted this often (seconds)
ADJUST_S = 0.5
#: a window whose median lag is above the goal, and not falling, multiplies the share by this
DECREASE = 0.7
#: a window at or below the goal adds this much of the asked rate to the share
INCREASE_SHARE = 0.1
#: the share never goes below this: logins go on however the machine lags
MIN_SHARE = 0.1
#: a pacer with no rate to pace at looks again after this long
IDLE_RECHECK_S = 0.05


@dataclass(frozen=True, slots=True)
class PacingSummary:
    """What the pacer did: admitted logins, asked and used rates, and ``held_s``, the
    time it admitted below the asked rate because the loop lagged."""

    logins: int
    asked_per_s: float
    #: logins per second from the first admission to the last (None: fewer than two)
    used_per_s: float | None
    held_s: float

    @property
    def slowed(self) -> bool:
        """True when the lag slowed logins below the asked rate at some time."""
        return self.held_s > 0

    def to_dict(self) -> dict[str, object]:
        return {
            "logins": self.logins,
            "asked_per_s": self.asked_per_s,
            "used_per_s": self.used_per_s,
            "held_s": self.held_s,
        }


class LoginPacer:
    """Admits logins at an adaptive share of ``rate_per_s`` (see module doc)."""

    __slots__ = (
        "_first",
        "_held_s",
        "_held_since",
        "_lags",
        "_last",
        "_last_median",
        "_last_note",
        "_logins",
        "_max_lag_ms",
        "_next",
        "_window_end",
        "rate_per_s",
        "share",
    )

    def __init__(self, rate_per_s: float, *, max_lag_ms: float = MAX_LOOP_LAG_MS) -> None:
        self.rate_per_s = rate_per_s
        #: the share of the asked rate in use now (1.0: the asked rate)
        self.share = 1.0
        self._max_lag_ms = max_lag_ms
        self._lags: list[float] = []
        #: the latest note: the pacer is asked only while logins wait
        self._last_note: float | None = None
        self._window_end: float | None = None
        self._last_median: float | None = None
        self._next: float | None = None
        self._first: float | None = None
        self._last: float | None = None
        self._logins = 0
        self._held_s = 0.0
        self._held_since: float | None = None

    @property
    def used_per_s(self) -> float:
        """The rate logins are admitted at now."""
        return self.rate_per_s * self.share

    def note_lag(self, lag_ms: float, now: float) -> None:
        """The latest event-loop lag measured (ms); the share is adapted once a window."""
        self._lags.append(lag_ms)
        self._last_note = now
        if self._window_end is None:
            self._window_end = now + ADJUST_S
        if now < self._window_end:
            return
        median = statistics.median(self._lags)
        self._lags.clear()
        self._window_end = now + ADJUST_S
        previous, self._last_median = self._last_median, median
        if median <= self._max_lag_ms:
            self.share = min(1.0, self.share + INCREASE_SHARE)
        elif previous is None or median >= previous:
            self.share = max(MIN_SHARE, self.share * DECREASE)
        # else: above the goal but falling: the last decrease is working, hold
        if self.share < 1.0 and self._held_since is None:
            self._held_since = now
        elif self.share >= 1.0 and self._held_since is not None:
            self._held_s += now - self._held_since
            self._held_since = None

    def wait_s(self, now: float) -> float:
        """0 when a login is admitted now (and counted); else seconds to wait first."""
        rate = self.used_per_s
        if rate <= 0:
            return IDLE_RECHECK_S
        interval = 1.0 / rate
        if self._next is not None and now < self._next:
            return self._next - now
        # on schedule when late by less than one interval (the waiter's own wake-up);
        # after a quiet spell from now: that time is no credit for a burst
        on_time = self._next is not None and now - self._next < interval
        self._next = (self._next if on_time and self._next is not None else now) + interval
        self._logins += 1
        self._first = now if self._first is None else self._first
        self._last = now
        return 0.0

    def summary(self, now: float) -> PacingSummary:
        # below the asked rate counts while logins waited (the pacer was asked), not
        # after the ramp ended with a share below 1
        until = now if self._last_note is None else min(now, self._last_note)
        since = self._held_since
        held = self._held_s + (max(until - since, 0.0) if since is not None else 0.0)
        used = None
        if self._logins >= 2 and self._first is not None and self._last is not None:
            span = self._last - self._first
            used = (self._logins - 1) / span if span > 0 else None
        return PacingSummary(self._logins, self.rate_per_s, used, held)


def merge_pacing(summaries: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The run's pacing from each process's ``PacingSummary.to_dict()``: logins and
    rates add up, the time below the asked rate is the longest of any process; {} when none."""
    found = [s for s in summaries if s]
    if not found:
        return {}
    used = [float(s["used_per_s"]) for s in found if s.get("used_per_s") is not None]
    return {
        "logins": sum(int(s.get("logins", 0)) for s in found),
        "asked_per_s": sum(float(s.get("asked_per_s", 0.0)) for s in found),
        "used_per_s": sum(used) if used else None,
        "held_s": max(float(s.get("held_s", 0.0)) for s in found),
    }


def pacing_text(merged: Mapping[str, Any]) -> str | None:
    """One line when the lag slowed the logins (None otherwise): the rate used, the
    rate asked and how long logins went below the asked rate."""
    held = float(merged.get("held_s", 0.0) or 0.0)
    if held <= 0:
        return None
    used = merged.get("used_per_s")
    used_text = "-" if used is None else numbers.significant(float(used))
    asked = numbers.significant(float(merged.get("asked_per_s", 0.0)))
    return (
        f"logins slowed to {used_text}/s (asked {asked}/s): below the asked rate for "
        f"{numbers.duration_s(held)} while the event loop lagged > {MAX_LOOP_LAG_MS:g} ms"
    )
