"""Operations already final, remembered for a while to name the notifications that follow.

A notification that matches no waiting operation is ``late`` when it belongs to an
operation declared lost (its first copy), or a ``duplicate`` when it repeats one
that already had its notification. To tell them apart the matcher remembers, for
``retain_s``, the lost operations (oldest first) and the latest matched operation
per key; memory stays bounded because nothing older is kept. Pure: standard
library only, no clock.
"""

from __future__ import annotations

from collections import deque

from gwsload.gws.expectation import Expectation, Key

__all__ = ["SettledOperations"]


class SettledOperations:
    """The lost and matched operations of one agent younger than ``retain_s``."""

    def __init__(self, retain_s: float) -> None:
        self.retain_s = retain_s
        # the latest expectation per key that had its notification (for duplicates)
        self._last_matched: dict[Key, Expectation] = {}
        # expectations declared lost, oldest first (for late notifications)
        self._lost: deque[Expectation] = deque()

    def matched(self, exp: Expectation) -> None:
        self._last_matched[exp.key] = exp

    def lost(self, exp: Expectation) -> None:
        self._lost.append(exp)

    def last_matched(self, key: Key) -> Expectation | None:
        return self._last_matched.get(key)

    def claim_lost(self, key: Key) -> tuple[Expectation | None, bool]:
        """The oldest lost operation of ``key`` not yet claimed by a late notification
        (claimed now; True), else the newest already claimed one (False)."""
        seen: Expectation | None = None
        for exp in self._lost:
            if exp.key != key:
                continue
            if not exp.late_seen:
                exp.late_seen = True
                return exp, True
            seen = exp
        return seen, False

    def forget_older(self, now: float) -> None:
        """Forget the lost and matched operations older than ``retain_s``."""
        horizon = now - self.retain_s
        while self._lost and self._lost[0].deadline < horizon:
            self._lost.popleft()
        for key in [k for k, e in self._last_matched.items() if e.t_sent < horizon]:
            del self._last_matched[key]
