"""Login pacing: logins at the asked rate, held back while the event loop lags.

A load process admits its agents' logins one at a time, at most at the rate the
scenario asks (the stage's ``spawn_rate``, this process's share). A login is a burst
of requests and parsing; a ramp faster than the process sustains delays every
notification of the agents already in (their stamps are taken late). So while the
process's measured event-loop lag is above :data:`MAX_LOOP_LAG_MS`, logins are
admitted only at :data:`HELD_SHARE` of the asked rate (a crowded machine, where the
lag does not fall however few logins there are, must still get its agents in);
admissions resume at the asked rate (no catch-up burst) once it is below.
The rate the process actually used is reported next to the asked one.

Pure: the caller passes the time (``time.monotonic()`` seconds) and the lag;
:func:`merge_pacing` and :func:`pacing_text` are the run's figures and its one line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gwsload.contract import numbers

__all__ = [
    "MAX_LOOP_LAG_MS",
    "LoginPacer",
    "PacingSummary",
    "merge_pacing",
    "pacing_text",
]

#: logins wait while the event loop of the process lags more than this
MAX_LOOP_LAG_MS = 10.0
#: a held-back pacer looks at the lag again after this long
HOLD_RECHECK_S = 0.05
#: while held back, logins still go at this share of the asked rate
HELD_SHARE = 0.1


@dataclass(frozen=True, slots=True)
class PacingSummary:
    """What the pacer did: admitted logins, asked and used rates, time held back."""

    logins: int
    asked_per_s: float
    #: logins per second from the first admission to the last (None: fewer than two)
    used_per_s: float | None
    held_s: float

    @property
    def slowed(self) -> bool:
        """True when the lag held logins back (the used rate is below the asked one)."""
        return self.held_s > 0

    def to_dict(self) -> dict[str, object]:
        return {
            "logins": self.logins,
            "asked_per_s": self.asked_per_s,
            "used_per_s": self.used_per_s,
            "held_s": self.held_s,
        }


class LoginPacer:
    """Admits logins at ``rate_per_s`` while the loop lag is at most ``max_lag_ms``."""

    __slots__ = (
        "_first",
        "_held_s",
        "_held_since",
        "_lag_ms",
        "_last",
        "_logins",
        "_max_lag_ms",
        "_next",
        "_next_held",
        "rate_per_s",
    )

    def __init__(self, rate_per_s: float, *, max_lag_ms: float = MAX_LOOP_LAG_MS) -> None:
        self.rate_per_s = rate_per_s
        self._max_lag_ms = max_lag_ms
        self._lag_ms = 0.0
        self._next: float | None = None
        self._next_held: float | None = None
        self._first: float | None = None
        self._last: float | None = None
        self._logins = 0
        self._held_s = 0.0
        self._held_since: float | None = None

    def note_lag(self, lag_ms: float, now: float) -> None:
        """The latest event-loop lag measured (ms); held time is counted from ``now``."""
        self._lag_ms = lag_ms
        if lag_ms <= self._max_lag_ms and self._held_since is not None:
            self._held_s += now - self._held_since
            self._held_since = None

    def wait_s(self, now: float) -> float:
        """0 when a login is admitted now (and counted); else seconds to wait first."""
        if self.rate_per_s <= 0:
            return HOLD_RECHECK_S
        if self._lag_ms > self._max_lag_ms:
            if self._held_since is None:
                self._held_since = now
            if self._next_held is not None and now < self._next_held:
                return min(HOLD_RECHECK_S, self._next_held - now)
            self._next_held = now + 1.0 / (self.rate_per_s * HELD_SHARE)
            self._next = now + 1.0 / self.rate_per_s
            return self._admit(now)
        if self._next is not None and now < self._next:
            return self._next - now
        interval = 1.0 / self.rate_per_s
        # on schedule when late by less than one interval (the waiter's own wake-up);
        # after a hold or a quiet spell from now: that time is no credit for a burst
        on_time = self._next is not None and now - self._next < interval
        self._next = (self._next if on_time and self._next is not None else now) + interval
        return self._admit(now)

    def _admit(self, now: float) -> float:
        self._logins += 1
        self._first = now if self._first is None else self._first
        self._last = now
        return 0.0

    def summary(self, now: float) -> PacingSummary:
        held = self._held_s + (now - self._held_since if self._held_since is not None else 0.0)
        used = None
        if self._logins >= 2 and self._first is not None and self._last is not None:
            span = self._last - self._first
            used = (self._logins - 1) / span if span > 0 else None
        return PacingSummary(self._logins, self.rate_per_s, used, held)


def merge_pacing(summaries: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The run's pacing from each process's ``PacingSummary.to_dict()``: logins and
    rates add up, the time held back is the longest of any process; {} when none."""
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
    rate asked and how long logins were held back."""
    held = float(merged.get("held_s", 0.0) or 0.0)
    if held <= 0:
        return None
    used = merged.get("used_per_s")
    used_text = "-" if used is None else numbers.significant(float(used))
    asked = numbers.significant(float(merged.get("asked_per_s", 0.0)))
    return (
        f"logins slowed to {used_text}/s (asked {asked}/s): held back "
        f"{numbers.duration_s(held)} while the event loop lagged > {MAX_LOOP_LAG_MS:g} ms"
    )
