"""A Locust process of a run stops by itself when nobody is left to stop it.

One real operating-system thread (not a greenlet: it must act even when the event
loop is stuck) ends the process at once (``os._exit``, no graceful stop: that would
mean more requests to the target) when

- the lifeline pipe from ``gwsload run`` reads end-of-file: the launcher is gone
  (see :mod:`gwsload.lifeline`; exit code 125);
- the process passes its hard deadline, armed at the start of each test
  (:func:`~gwsload.contract.deadline.hard_deadline_s`: the stages, the agents' leave
  time and a margin; exit code 124);
- a worker has heard no heartbeat from its master for ``MASTER_SILENCE_S`` (the master
  answers each worker's heartbeat every second; exit code 125). Locust's own check
  waits 60 s and then stops the users gracefully, which goes on sending requests.

What the run folder already holds stays; the reason goes to stderr (the process's log).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from gevent import monkey

from gwsload.lifeline import EXIT_DEADLINE, EXIT_ORPHANED

__all__ = ["MASTER_SILENCE_S", "Watchdog"]

#: a worker that has not heard from its master for this long stops (docs/running.md)
MASTER_SILENCE_S = 10.0
#: how often the watchdog thread looks at the deadline and the master's heartbeat
_POLL_S = 0.25


class Watchdog:
    """See module doc. ``master_heartbeat``: the wall time of the master's last heartbeat
    (None until the first), for a worker; None for a master or a single process."""

    def __init__(
        self,
        *,
        lifeline_fd: int | None,
        master_heartbeat: Callable[[], float | None] | None = None,
        master_silence_s: float = MASTER_SILENCE_S,
    ) -> None:
        self._fd = lifeline_fd
        self._master_heartbeat = master_heartbeat
        self._master_silence_s = master_silence_s
        self._deadline: float | None = None
        self._deadline_s = 0.0
        self._started = False

    def arm(self, seconds: float) -> None:
        """Stop this process ``seconds`` from now unless :meth:`disarm` comes first."""
        self._deadline_s = seconds
        self._deadline = time.monotonic() + seconds

    def disarm(self) -> None:
        self._deadline = None

    @property
    def armed(self) -> bool:
        return self._deadline is not None

    def reason_to_stop(self, *, now_mono: float, now_wall: float) -> tuple[int, str] | None:
        """Exit code and reason when the process must stop now, else None."""
        deadline = self._deadline
        if deadline is not None and now_mono >= deadline:
            return EXIT_DEADLINE, (
                f"hard deadline passed ({self._deadline_s:.0f} s after the start of the test: "
                "stages, ramp-down, agents still leaving, stop timeout, margin); "
                "stopping this load process now"
            )
        heard = self._master_heartbeat() if self._master_heartbeat is not None else None
        if heard is not None and now_wall - heard > self._master_silence_s:
            return EXIT_ORPHANED, (
                f"no heartbeat from the master for {now_wall - heard:.0f} s "
                f"(limit {self._master_silence_s:g} s): it is gone; stopping this worker now"
            )
        return None

    def start(self) -> None:
        """Start the watching thread (once); it lives as long as the process."""
        if self._started:
            return
        self._started = True
        # the unpatched functions, looked up here: the thread itself must take no lock
        # gevent patched (an import takes one), or it could wait forever for this hub
        start_thread, select, sleep = (
            monkey.get_original(module, name)
            for module, name in (
                ("_thread", "start_new_thread"),
                ("select", "select"),
                ("time", "sleep"),
            )
        )
        start_thread(self._run, (select, sleep))

    def _run(self, select: Callable[..., Any], sleep: Callable[[float], None]) -> None:
        while True:
            if self._fd is not None:
                ready, _, _ = select([self._fd], [], [], _POLL_S)
                if ready and self._line_cut(self._fd):
                    _stop(EXIT_ORPHANED, "the launcher (gwsload run) is gone; stopping now")
            else:
                sleep(_POLL_S)
            found = self.reason_to_stop(now_mono=time.monotonic(), now_wall=time.time())
            if found is not None:
                _stop(*found)

    def _line_cut(self, fd: int) -> bool:
        try:
            return not os.read(fd, 64)  # nobody writes: readable means end-of-file
        except OSError:
            self._fd = None  # not a lifeline after all: keep the other checks
            return False


def _stop(code: int, reason: str) -> None:
    try:
        os.write(2, f"gwsload: {reason}\n".encode())
    finally:
        os._exit(code)
