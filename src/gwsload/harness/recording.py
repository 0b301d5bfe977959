"""The recording agent: a Locust user operating its call's recording against GWS.

It takes a unique agent identity, logs in (REST + CometD subscriptions +
contact-center session + Ready), establishes a call and then loops:

- closed workload: start recording, hold for a drawn time (optionally pause and
  resume in between), stop recording, think, again;
- open workload: take a cycle ticket (its intended start time) and run the same
  cycle with the operations' intended times, so latency is measured from when the
  operation should have started.

A released call is dialled again; a failed login or dial is retried with back-off.
When the test stops, the agent finishes the operation in hand, stops a recording it
left running, hangs up and logs out.
"""

from __future__ import annotations

import logging
from typing import Any

from locust import task

from gwsload.cometd import Incident
from gwsload.gws.agent import Agent, AgentConfig
from gwsload.gws.matcher import RECORDING_OPERATIONS
from gwsload.gws.session import Response
from gwsload.harness.users import AgentBase, wall_offset

__all__ = ["RecordingAgent"]

log = logging.getLogger("gwsload")


class RecordingAgent(AgentBase):
    """A contact-center agent operating the recording of its call (see module doc)."""

    def wait_time(self) -> float:
        return 0.0  # an agent paces itself (hold, think, tickets)

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.agent: Agent | None = None
        self._failures = 0
        #: whether GWS holds this agent's call recording (from accepted operations)
        self._recording = False
        #: counted in the process's live listeners (logged in)
        self._listening = False

    def on_start(self) -> None:
        super().on_start()
        load = self._load()
        config = load.config
        credentials = load.directory[self.slot if self.slot is not None else 0]
        self.agent = Agent(
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
        )

    # -- reporting ------------------------------------------------------------------

    def _on_request(
        self, operation: str, response: Response | None, error: Exception | None
    ) -> None:
        if operation in RECORDING_OPERATIONS:
            return  # reported with its notification by the recorder
        self.environment.events.request.fire(
            request_type="GET" if operation.startswith("Get") else "POST",
            name=operation,
            response_time=response.response_ms if response is not None else 0.0,
            response_length=0,
            exception=error,
            context={},
        )

    def _on_incident(self, item: Incident) -> None:
        if self.process is not None and self.agent is not None:
            self.process.recorder.record_incident(
                item.ts, self.agent.config.user, item.kind, item.detail, item.duration_ms
            )

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
        """Logged in with an Established call; False (after a back-off) when not yet."""
        agent = self.agent
        if agent is None:
            return False
        try:
            if not agent.logged_in:
                agent.login()
                self._load().listeners += 1  # a live CometD listener from now on
                self._listening = True
            if agent.call_id is None or agent.call_state(agent.call_id) != "Established":
                self._recording = False  # a new call starts unrecorded
                agent.establish_call()
        except Exception as exc:  # a refused login or dial is retried, never fatal
            self._failures += 1
            delay = min(0.5 * 2 ** min(self._failures, 5), 10.0)
            log.warning("%s: %s (retrying in %.1f s)", agent.config.user, exc, delay)
            self.pause(delay)
            return False
        self._failures = 0
        return True

    def _cycle(self, intended: float) -> None:
        """Start, hold (maybe pause and resume), stop. A refused operation means this
        agent's view of the call is wrong: the call is dropped and a new one dialled."""
        agent = self.agent
        if agent is None:
            return
        workload = self._load().config.workload
        hold = self.draw_hold()
        if not self._operate("StartCallRecording", intended):
            return
        pausing = workload.pause_share > 0 and self.rng.random() < workload.pause_share
        if pausing:
            self.pause(hold / 3)
            if not self.stopping:
                due = self._intended(intended, hold / 3)
                if not self._operate("PauseCallRecording", due):
                    return
                self.pause(hold / 3)
                if not self._operate("ResumeCallRecording", self._intended(intended, 2 * hold / 3)):
                    return
            self.pause(hold / 3)
        else:
            self.pause(hold)
        self._operate("StopCallRecording", self._intended(intended, hold))

    def _operate(self, operation: str, intended: float | None) -> bool:
        """One recording operation; True when GWS accepted it (whatever its notification
        did: a lost notification does not change what the server did)."""
        agent = self.agent
        if agent is None:
            return False
        exp = agent.record(operation, t_intended=intended)
        accepted = 200 <= exp.http_status < 300 and exp.status_code == 0
        if accepted:
            self._recording = operation != "StopCallRecording"
            return True
        self._abandon_call()
        return False

    def _abandon_call(self) -> None:
        agent = self.agent
        if agent is None or agent.call_id is None:
            return
        try:
            agent.hangup()
        except Exception as exc:  # the next cycle dials a new call either way
            log.info("%s: hangup of a refused call failed: %s", agent.config.user, exc)
        agent.call_id = None
        self._recording = False

    def _intended(self, cycle_start: float, offset: float) -> float | None:
        """Open workload: when the operation was due; closed: None (= when sent)."""
        if self._load().ticker is None or self.stopping:
            return None
        return cycle_start + offset

    def on_stop(self) -> None:
        agent = self.agent
        try:
            if agent is not None and agent.logged_in:
                if agent.call_id is not None and self._recording:
                    self._operate("StopCallRecording", None)
                if agent.call_id is not None:
                    agent.hangup()
        except Exception as exc:  # leaving must go on: log out whatever happened
            log.warning("%s: hangup at stop failed: %s", agent.config.user if agent else "?", exc)
        finally:
            if agent is not None:
                agent.logout()
            if self._listening and self.process is not None:
                self.process.listeners -= 1
                self._listening = False
            self.agent = None
            super().on_stop()
