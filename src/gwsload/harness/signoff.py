"""The sign-off: a load process asks its agents to leave one by one over the ramp-down.

After the last stage Locust keeps its users (:func:`gwsload.stages.load_at`); this
process's :class:`SignOff` greenlet asks them to leave itself, at the steady rate of
:func:`gwsload.stages.sign_offs_due` (its agents at the start of the sign-off spread
over ``ramp_down_s``). Each agent leaves in its own greenlet (finishes the operation
in hand, stops recording, hangs up, logs out), so a slow sign-off never holds the
next one back: Locust's own ramp-down waits for each second's batch of leaving users
before asking the next, which made 100 asked sign-offs a second come out at 30-50.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import gevent
from locust.user.task import LOCUST_STATE_STOPPING

from gwsload.stages import sign_offs_due

__all__ = ["SignOff"]

log = logging.getLogger("gwsload")

#: how often the sign-off looks whether the next agents are due
_TICK_S = 0.05
#: after the ramp-down, how often it looks for users spawned late
_LATE_CHECK_S = 1.0


class SignOff:
    """Asks the users of ``runner`` to leave from ``start_wall`` (``time.time()``) on,
    spread over ``ramp_down_s``, until ``stopping()`` is true."""

    def __init__(
        self,
        runner: Any,
        *,
        start_wall: float,
        ramp_down_s: float,
        stopping: Callable[[], bool],
    ) -> None:
        self._runner = runner
        self._start_wall = start_wall
        self._ramp_down_s = ramp_down_s
        self._stopping = stopping
        self._greenlet: gevent.Greenlet | None = None
        #: agents asked to leave so far
        self.asked = 0

    def start(self) -> None:
        if self._greenlet is None:
            self._greenlet = gevent.spawn(self._run)

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill(block=False)
            self._greenlet = None

    def _staying(self) -> list[Any]:
        """This process's users not yet asked to leave."""
        users = []
        for greenlet in list(self._runner.user_greenlets):
            user = greenlet.args[0] if greenlet.args else None
            if user is not None and not greenlet.dead and user._state != LOCUST_STATE_STOPPING:
                users.append(user)
        return users

    def _run(self) -> None:
        gevent.sleep(max(self._start_wall - time.time(), 0.0))
        # the users in at the start, in order: the k-th is asked k / rate seconds in
        # (one look at the whole list, not one per tick: 10,000 users)
        queue = deque(self._staying())
        agents = len(queue)
        turns = 0
        while not self._stopping():
            due = sign_offs_due(agents, self._ramp_down_s, time.time() - self._start_wall)
            while turns < due and queue:
                turns += 1
                user = queue.popleft()
                if not user.greenlet.dead and user._state != LOCUST_STATE_STOPPING:
                    gevent.spawn(_ask_to_leave, user)
                    self.asked += 1
            if turns < agents:
                gevent.sleep(_TICK_S)
                continue
            # after the ramp-down: a user spawned late (a worker's users re-dispatched
            # by the master) leaves at once
            for user in self._staying():
                gevent.spawn(_ask_to_leave, user)
                self.asked += 1
            gevent.sleep(_LATE_CHECK_S)


def _ask_to_leave(user: Any) -> None:
    """Locust's graceful stop of one user (a user not yet running is killed, and its
    ``on_stop`` runs in its greenlet: this one waits, not the sign-off's)."""
    if user._state == LOCUST_STATE_STOPPING:
        return  # the end of the test asked it meanwhile
    try:
        user.stop(force=False)
    except Exception:  # a user ending by itself at this instant: nothing to ask
        log.debug("sign-off: could not ask %r to leave", user, exc_info=True)
