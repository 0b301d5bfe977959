"""The recording agent: a Locust user operating its call's recording against GWS.

It takes a unique agent identity, logs in (REST + CometD subscriptions +
contact-center session + Ready), establishes a call and then loops:

- closed workload: start recording, hold for a drawn time (optionally pause and
  resume in between), stop recording, think, again;
- open workload: take a cycle ticket (its intended start time) and run the same
  cycle with the operations' intended times, so latency is measured from when the
  operation should have started.

The agent's life (log in, CometD, contact-center session, Ready, call, recording)
is an explicit state machine (:mod:`gwsload.gws.life`, driven by
:class:`~gwsload.gws.life_driver.AgentLife`): a released call is dialled again, a
lost login is redone in full, an unreachable target is waited for with a jittered,
capped back-off, and after any operation that did not end ``ok`` the call is re-read
so the next operation suits the server's real recording state. Each agent's phase
(operating / setting up / failing and why) is kept in the process's
``agent_states`` for the progress line. When the test stops, the agent finishes the
operation in hand, stops a recording it left running, hangs up and logs out.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from locust import task

from gwsload.cometd import Incident
from gwsload.gws.agent import Agent, AgentConfig
from gwsload.gws.calls import operation_towards
from gwsload.gws.life import AgentState
from gwsload.gws.life_driver import AgentLife
from gwsload.gws.matcher import RECORDING_OPERATIONS
from gwsload.gws.session import Response
from gwsload.harness.locust_rows import row_error
from gwsload.harness.users import AgentBase, wall_offset

__all__ = ["RecordingAgent"]

log = logging.getLogger("gwsload")


class RecordingAgent(AgentBase):
    """A contact-center agent operating the recording of its call (see module doc)."""

    def wait_time(self) -> float:
        return 0.0  # an agent paces itself (hold, think, tickets)

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.life: AgentLife | None = None
        #: counted in the process's live listeners (logged in)
        self._listening = False

    def on_start(self) -> None:
        super().on_start()
        load = self._load()
        config = load.config
        credentials = load.directory[self.slot if self.slot is not None else 0]
        agent = Agent(
            AgentConfig(
                base_url=config.target_url,
                user=credentials.username,
                password=credentials.password,
                destination=config.dial_destination,
                transport=config.transport,
                origin=config.origin,
                verify_tls=config.verify_tls,
                ca_file=config.ca_file,
                notification_timeout_s=config.notification_timeout_s,
                request_timeout_s=config.request_timeout_s,
            ),
            on_outcome=load.recorder.record_outcome,
            on_anomaly=load.recorder.record_anomaly,
            on_request=self._on_request,
            on_incident=self._on_incident,
            wall_offset=wall_offset(),
            connections=load.connections,
        )
        self.life = AgentLife(agent, rng=self.rng, on_incident=self._on_life_incident)
        load.agent_states.note(agent.config.user, self.life.phase, "")

    # -- reporting ------------------------------------------------------------------

    def _on_request(
        self, operation: str, response: Response | None, error: Exception | None
    ) -> None:
        if operation in RECORDING_OPERATIONS:
            return  # reported with its notification by the recorder
        if self.process is not None and self.life is not None:
            if response is not None:
                ts, ms = wall_offset() + response.t_sent, response.response_ms
                status, code = response.http_status, response.status_code
            else:
                ts, ms, status, code = time.time(), math.nan, None, -1
            self.process.recorder.record_session_step(
                ts,
                agent=self.life.agent.config.user,
                operation=operation,
                response_ms=ms,
                http_status=status,
                status_code=code,
                error=str(error or ""),
            )
        self.environment.events.request.fire(
            request_type="GET" if operation.startswith("Get") else "POST",
            name=operation,
            response_time=response.response_ms if response is not None else None,
            response_length=0,
            exception=row_error(f"{type(error).__name__}: {error}") if error is not None else None,
            context={},
        )

    def _on_incident(self, item: Incident) -> None:
        self._on_life_incident(item.ts, item.kind, item.detail, item.duration_ms)

    def _on_life_incident(
        self, ts: float, kind: str, detail: str, duration_ms: float | None
    ) -> None:
        if self.process is not None and self.life is not None:
            user = self.life.agent.config.user
            self.process.recorder.record_incident(ts, user, kind, detail, duration_ms)

    # -- the agent's life -------------------------------------------------------------

    @task
    def operate(self) -> None:
        load = self._load()
        while not self.stopping:
            if not self._ensure_call():
                continue
            intended = self.next_intended()
            if intended is None:
                continue
            self._cycle(intended)
            if load.ticker is None:
                self.pause(self.draw_think())

    def _ensure_call(self) -> bool:
        """Climb the agent's life until it operates a call; False (after its back-off)
        when a step failed or the test is stopping."""
        life = self.life
        if life is None:
            return False
        life.check()
        while not life.operating and not self.stopping:
            if life.state is AgentState.LOGGED_OUT and not self._admit():
                return False
            delay = life.step()
            self._note_phase()
            if delay > 0:
                self.pause(delay)
                return False
        return life.operating

    def _admit(self) -> bool:
        """Every login, the first and each full re-login, waits its turn at the process's
        gate: a ramp faster than the process sustains, or thousands of agents logging in
        again after a target restart, would delay the notifications of the agents
        already in (and, after a restart, stampede the target). False: asked to leave."""
        gate = self._load().logins
        return gate is None or gate.admit(lambda: self.stopping)

    def _note_phase(self) -> None:
        life, process = self.life, self.process
        if life is None or process is None:
            return
        process.agent_states.note(life.agent.config.user, life.phase, life.reason)
        listening = life.agent.logged_in
        if listening != self._listening:  # a live CometD listener greenlet (or not)
            process.listeners += 1 if listening else -1
            self._listening = listening

    def _cycle(self, intended: float) -> None:
        """Start, hold (maybe pause and resume), stop: each step brings the recording
        towards its goal from the state the server last reported, so an operation that
        failed (its call was re-read) never leads to one the call cannot take."""
        workload = self._load().config.workload
        hold = self.draw_hold()
        goals: list[tuple[str, float]] = [("Recording", 0.0)]
        if workload.pause_share > 0 and self.rng.random() < workload.pause_share:
            goals += [("Paused", hold / 3), ("Recording", 2 * hold / 3)]
        goals.append(("Stopped", hold))
        at = 0.0
        for goal, offset in goals:
            if offset > at:
                self.pause(offset - at)
                at = offset
            if self.stopping and goal != "Stopped":
                continue
            due = intended if offset == 0 else self._intended(intended, offset)
            if not self._operate_towards(goal, due):
                return

    def _operate_towards(self, goal: str, intended: float | None) -> bool:
        """One recording operation towards ``goal`` (none when the call is there
        already); False when the agent no longer operates its call."""
        life = self.life
        if life is None or not life.operating:
            return False
        agent = life.agent
        operation = operation_towards(agent.recording_state, goal)
        if operation is not None:
            exp = agent.record(operation, t_intended=intended)
            if exp.outcome is not None:
                life.after(exp.outcome)
                self._note_phase()
        return life.operating

    def _intended(self, cycle_start: float, offset: float) -> float | None:
        """Open workload: when the operation was due; closed: None (= when sent)."""
        if self._load().ticker is None or self.stopping:
            return None
        return cycle_start + offset

    def on_stop(self) -> None:
        life = self.life
        agent = life.agent if life is not None else None
        try:
            if life is not None and agent is not None and life.operating:
                self._operate_towards("Stopped", None)
                if life.operating and agent.call_id is not None:
                    agent.hangup()
        except Exception as exc:  # leaving must go on: log out whatever happened
            log.warning("%s: hangup at stop failed: %s", agent.config.user if agent else "?", exc)
        finally:
            if agent is not None:
                agent.logout()
            if life is not None:
                life.logged_out()
            if self.process is not None:
                if agent is not None:
                    self.process.agent_states.forget(agent.config.user)
                if self._listening:
                    self.process.listeners -= 1
                    self._listening = False
            self.life = None
            super().on_stop()
