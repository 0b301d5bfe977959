"""The process's login gate: the gevent driver of :class:`gwsload.contract.pacing.LoginPacer`.

Each agent waits at the gate before each login: its first, and every full re-login
after the server lost it (a target restart must not become a login stampede). One
releaser greenlet admits the waiters in arrival order, when the pacer says so (the
asked rate, slowed while the event loop lags), so a fast ramp never starves the
agents already in. Waiters sleep on their own event: one admission wakes one
greenlet, not all of them.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

import gevent
from gevent.event import Event

from gwsload.contract.pacing import LoginPacer, PacingSummary

__all__ = ["LoginGate"]

#: a waiter looks at whether it was asked to leave this often
_LEAVE_CHECK_S = 1.0


class LoginGate:
    """Admits logins at ``rate_per_s()`` logins per second while ``lag_ms()`` allows."""

    def __init__(self, rate_per_s: Callable[[], float], lag_ms: Callable[[], float]) -> None:
        self._rate_per_s = rate_per_s
        self._lag_ms = lag_ms
        self.pacer = LoginPacer(rate_per_s())
        self._waiters: deque[Event] = deque()
        self._wake = Event()
        self._greenlet: gevent.Greenlet | None = None

    def start(self) -> None:
        if self._greenlet is None:
            self._greenlet = gevent.spawn(self._release)

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill(block=False)
            self._greenlet = None

    def admit(self, leaving: Callable[[], bool]) -> bool:
        """Wait for this agent's turn; False when it was asked to leave first."""
        turn = Event()
        self._waiters.append(turn)
        self._wake.set()
        while not turn.wait(timeout=_LEAVE_CHECK_S):
            if leaving():
                return False  # its turn, when it comes, goes unused: one login fewer
        return True

    def summary(self) -> PacingSummary:
        return self.pacer.summary(time.monotonic())

    def _release(self) -> None:
        pacer = self.pacer
        while True:
            if not self._waiters:
                self._wake.clear()
                self._wake.wait()
                continue
            now = time.monotonic()
            pacer.rate_per_s = self._rate_per_s()
            pacer.note_lag(self._lag_ms(), now)
            wait = pacer.wait_s(now)
            if wait > 0:
                gevent.sleep(wait)
                continue
            self._waiters.popleft().set()
