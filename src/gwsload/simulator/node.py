"""One simulated GWS node: the world, the HTTP sessions, the publisher and the fault timers.

The REST handlers and the middleware reach everything through this object
(``request.app[NODE]``). It owns the asyncio side: the far end answering after
``--answer-delay-ms``, the periodic fault timers and the truth-log flush.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, Protocol

from gwsload.simulator.agents import AgentAccount, generate_accounts, read_accounts_file
from gwsload.simulator.faults import Faults
from gwsload.simulator.latency import LatencyModel
from gwsload.simulator.options import SimulatorOptions
from gwsload.simulator.publisher import Publisher
from gwsload.simulator.sessions import SessionStore
from gwsload.simulator.truth_log import TruthLog
from gwsload.simulator.world import Notification, World

__all__ = ["CometdLike", "SimulatedNode"]

log = logging.getLogger("gwsload.simulator")


class CometdLike(Protocol):
    """What the node needs from the CometD endpoint (``cometd_endpoint.CometdEndpoint``)."""

    def notify(
        self, user_id: str, channel: str, data: dict[str, Any], ext: dict[str, Any] | None = None
    ) -> int: ...

    def expire_sessions(self, user_id: str | None = None) -> int: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class SimulatedNode:
    def __init__(
        self,
        options: SimulatorOptions,
        endpoint: CometdLike,
        *,
        accounts: Iterable[AgentAccount] | None = None,
    ) -> None:
        self.options = options
        self.endpoint = endpoint
        if accounts is None:
            accounts = (
                read_accounts_file(options.agents_file)
                if options.agents_file is not None
                else generate_accounts(options.agents, options.password)
            )
        self.world = World(accounts, rng=random.Random(f"{options.seed}:ids"))
        self.world.voice_available = not options.voice_down
        self.world.recording_feature = not options.no_recording_feature
        self.sessions = SessionStore()
        self.faults = Faults(options, options.seed)
        for agent in self.world.agents.values():
            agent.recording_available = self.faults.recording_available(agent.username)
        #: operations a fault refused or spoiled, by truth-log action (tests, stats)
        self.fault_counts: dict[str, int] = {}
        self.truth = TruthLog(options.truth_log) if options.truth_log is not None else None
        self.publisher = Publisher(
            endpoint,
            LatencyModel(options, random.Random(f"{options.seed}:latency")),
            self.faults,
            truth=self.truth,
            delivery_delay_ms=options.delivery_delay_ms,
        )
        self._tasks: list[asyncio.Task[None]] = []
        self._answer_timers: dict[str, asyncio.TimerHandle] = {}
        #: HTTP requests received (``GET /gwsload/requests``)
        self.requests_received = 0
        #: valid ``Authorization`` header values -> user id (saves a base64 decode per request)
        self.auth_cache: dict[str, str] = {}

    # -- operations the REST layer calls -----------------------------------------------------

    def publish(self, notifications: list[Notification]) -> None:
        if notifications:
            self.publisher.submit(notifications)

    def schedule_answer(self, call_id: str, outcome: str = "answer") -> None:
        """The far end answers after ``--answer-delay-ms``; or, ``busy``, releases the
        call then; or, ``no_answer``, after ``--dial-no-answer-ms``."""
        loop = asyncio.get_running_loop()
        if outcome == "answer":
            delay_ms, action = self.options.answer_delay_ms, self._far_end_answers
        else:
            delay_ms = (
                self.options.answer_delay_ms
                if outcome == "busy"
                else self.options.dial_no_answer_ms
            )
            action = self._far_end_releases
        self._answer_timers[call_id] = loop.call_later(delay_ms / 1000.0, action, call_id)

    def _far_end_answers(self, call_id: str) -> None:
        self._answer_timers.pop(call_id, None)
        self.publish(self.world.far_end_answers(call_id, time.time()))

    def _far_end_releases(self, call_id: str) -> None:
        self._answer_timers.pop(call_id, None)
        self.publish(self.world.far_end_releases(call_id, time.time()))

    def record_fault(self, action: str, agent: str, call_id: str, operation: str) -> None:
        """A fault that spoiled an operation rather than a notification: counted, and in
        the truth log with ``seq`` 0 and the operation in ``notification_type``."""
        self.fault_counts[action] = self.fault_counts.get(action, 0) + 1
        if self.truth is not None:
            self.truth.write(
                ts=time.time(), seq=0, agent=agent, call_id=call_id,
                notification_type=operation, recording_state="", action=action, delay_ms=0.0,
            )  # fmt: skip

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        await self.endpoint.start()
        if self.truth is not None:
            self._spawn(self._every(1.0, self.truth.flush))
        if self.options.expire_sessions_every_s > 0:
            self._spawn(self._every(self.options.expire_sessions_every_s, self._expire_one))
        if self.options.stall_every_s > 0:
            stall_s = self.options.stall_ms / 1000.0
            self._spawn(
                self._every(self.options.stall_every_s, lambda: self.publisher.stall(stall_s))
            )

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        for timer in self._answer_timers.values():
            timer.cancel()
        self._answer_timers.clear()
        self.publisher.close()
        try:
            await self.endpoint.close()
        finally:
            if self.truth is not None:
                self.truth.close()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        self._tasks.append(asyncio.get_running_loop().create_task(coro))

    @staticmethod
    async def _every(period_s: float, action: Callable[[], object]) -> None:
        while True:
            await asyncio.sleep(period_s)
            try:
                action()
            except Exception:  # a fault timer must never die silently
                log.exception("periodic simulator task failed")

    def _expire_one(self) -> None:
        candidates = self.world.active_agents() or list(self.world.agents.values())
        agent = self.faults.choice_rng.choice(candidates)
        dropped = self.endpoint.expire_sessions(agent.user_id)
        log.info("fault: expired %d CometD session(s) of %s", dropped, agent.username)
