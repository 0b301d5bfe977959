"""The Locust users' common part, and a synthetic agent that needs no server.

:class:`AgentBase` holds what every agent user shares: its unique identity slot,
the stop checks and interruptible pauses, the hold and think draws, and the open
workload's tickets. The recording agent is in :mod:`gwsload.harness.recording`.

:class:`SyntheticAgent` needs no server: it produces operations with known
latencies through the same recorder, to check the harness itself (and to measure
what the harness costs).
"""

from __future__ import annotations

import random
import time
from typing import Any

import gevent
from gevent.event import Event
from locust import User, task
from locust.user.task import LOCUST_STATE_STOPPING

from gwsload.gws.matcher import RECORDING_OPERATIONS
from gwsload.gws.outcomes import Outcome
from gwsload.harness.distributed import run_state
from gwsload.harness.roles import LoadProcess

__all__ = ["AgentBase", "SyntheticAgent", "wall_offset"]

#: how long a user waits for its process to receive the run configuration
_READY_TIMEOUT_S = 60.0
_WALL_OFFSET = time.time() - time.perf_counter()


def wall_offset() -> float:
    """``time.time() - time.perf_counter()``, read once per process (all agents share it)."""
    return _WALL_OFFSET


class AgentBase(User):
    """Shared: identity slot, stop checks, the process state."""

    abstract = True

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.process: LoadProcess | None = None
        self.slot: int | None = None
        self.rng = random.Random()
        #: set when Locust asks this user to leave (a ramp-down or the end of the test)
        self._leaving = Event()

    def on_start(self) -> None:
        state = run_state(self.environment)
        if not state.ready.wait(timeout=_READY_TIMEOUT_S) or state.load is None:
            raise RuntimeError("no run configuration reached this process")
        self.process = state.load
        self.slot = self.process.identities.acquire()
        self.rng.seed(self.slot)

    def on_stop(self) -> None:
        if self.process is not None and self.slot is not None:
            self.process.identities.release(self.slot)
            self.slot = None

    def stop(self, force: bool = False) -> bool:
        """Locust asks this user to leave: also wake it from a hold or think pause (a
        ramp-down stops users one by one, before the process itself is stopping)."""
        stopped: bool = super().stop(force)
        self._leaving.set()
        return stopped

    @property
    def stopping(self) -> bool:
        process = self.process
        return self._state == LOCUST_STATE_STOPPING or (
            process is not None and process.stopping.is_set()
        )

    def pause(self, seconds: float) -> None:
        """Sleep, but wake at once when this user is asked to leave: by a ramp-down, or
        at the end of the test (Locust then asks every user still in). One event per
        user: 10,000 waiters linked to one shared event would make each wake-up scan
        them all."""
        if seconds > 0 and not self.stopping:
            self._leaving.wait(timeout=seconds)

    def draw_hold(self) -> float:
        return self._load().config.workload.hold_s.sample(self.rng)

    def draw_think(self) -> float:
        return self._load().config.workload.think_time_s.sample(self.rng)

    def _load(self) -> LoadProcess:
        if self.process is None:
            raise RuntimeError("user used before on_start")
        return self.process

    def next_intended(self) -> float | None:
        """Open workload: the next ticket (None when none came, e.g. between stages);
        closed workload: now."""
        ticker = self._load().ticker
        if ticker is None:
            return time.perf_counter()
        return ticker.take(timeout=0.5)


class SyntheticAgent(AgentBase):
    """Operations with known latencies, no server: for checking the harness itself.

    Each cycle records a StartCallRecording and a StopCallRecording outcome whose
    response and notification latencies are drawn (uniform, seeded by the agent
    slot); every ``lost_every``-th operation of an agent is ``lost``.
    """

    def wait_time(self) -> float:
        return 0.0  # an agent paces itself (hold, think, tickets)

    lost_every = 50

    @task
    def operate(self) -> None:
        load = self._load()
        recorder = load.recorder
        name = load.directory[self.slot if self.slot is not None else 0].username
        count = 0
        rng = self.rng
        while not self.stopping:
            intended = self.next_intended()
            if intended is None:
                continue
            for operation in ("StartCallRecording", "StopCallRecording"):
                count += 1
                t_sent = time.perf_counter()
                response_s = rng.uniform(0.001, 0.020)
                notify_s = rng.uniform(0.002, 0.200)
                lost = count % self.lost_every == 0
                recorder.record_outcome(
                    Outcome(
                        kind="lost" if lost else "ok",
                        agent=name,
                        call_id=f"call-{name}",
                        operation=operation,
                        notification_type="CallRecordingStateChange",
                        expected_state=RECORDING_OPERATIONS[operation],
                        t_intended=min(intended, t_sent),
                        t_sent=t_sent,
                        t_response=t_sent + response_s,
                        t_notified=None if lost else t_sent + notify_s,
                        http_status=200,
                        status_code=0,
                        error="lost" if lost else "",
                        server_ts=None,
                        server_seq=-1,
                        wall_offset=_WALL_OFFSET,
                    )
                )
            if load.ticker is None:
                self.pause(self.draw_think())
            else:
                gevent.idle()
