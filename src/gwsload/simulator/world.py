"""The simulated GWS node's state: agents, their devices and calls. Pure: no I/O, no clock.

Theory of operation. A REST handler calls one operation on ``World`` with the wall
time ``now`` (UNIX seconds). The operation either raises ``ApiError`` and changes
nothing, or changes the state at once and returns the ``Notification``s GWS would
publish about it; the caller decides when they go out (the latency model). So a GET
right after an accepted operation already shows the new state, while the
notification may still be on its way, as with a real node that has forwarded the
request to T-Server.

Call states and what the client may do in each (``capabilities``, exact lists from
GWS 8.5 samples; order as in the samples)::

    Dialing --(far end answers)--> Established <--Hold/Retrieve--> Held
       \\________________ Hangup ______________/________________/--> Released ([])

Recording is a second state on an Established or Held call: ``Stopped`` (adds
StartCallRecording), ``Recording`` (PauseCallRecording, StopCallRecording) and
``Paused`` (ResumeCallRecording, StopCallRecording), mirrored in the user data
``GSIP_RECORD`` = OFF / ON / PAUSED, with ``GSIP_REC_FN`` set when recording starts.
"""

from __future__ import annotations

import random
import string
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from gwsload.simulator import payloads
from gwsload.simulator.agents import AgentAccount
from gwsload.simulator.model import (
    ATTACHED_DATA_CHANGE,
    CALL_TRANSITIONS,
    CALLS_CHANNEL,
    DEVICES_CHANNEL,
    GSIP_RECORD,
    MAX_CALLS_PER_AGENT,
    RECORDING_CHANGE,
    RECORDING_OPERATIONS,
    STATUS_CHANGE,
    USER_STATES,
    Agent,
    ApiError,
    Call,
    CallState,
    Notification,
    RecordingState,
    capabilities_of,
    operation_name,
)

__all__ = [
    "CALLS_CHANNEL",
    "DEVICES_CHANNEL",
    "RECORDING_OPERATIONS",
    "Agent",
    "ApiError",
    "Call",
    "CallState",
    "Notification",
    "RecordingState",
    "World",
    "capabilities_of",
    "operation_name",
]

_NAMESPACE = uuid.UUID("6f1c9a52-3c1e-4e57-9a57-7a2a3c1b0d11")


class World:
    """All agents and calls of one simulated node. Every call id is unique in the world."""

    def __init__(
        self, accounts: Iterable[AgentAccount], *, rng: random.Random, api_base: str = ""
    ) -> None:
        self._rng = rng
        #: externalApiUrlV2: prefix of every ``uri`` in payloads (set once the port is known)
        self.api_base = api_base
        #: False = every voice operation fails with HTTP 503 (a fault)
        self.voice_available = True
        #: False = the contact center lacks api-voice-recording: calls offer no
        #: recording operation and have no recordingState (a fault)
        self.recording_feature = True
        self.agents: dict[str, Agent] = {}
        self.by_user_id: dict[str, Agent] = {}
        self._calls: dict[str, tuple[Agent, Call]] = {}
        self._by_dn: dict[str, Agent] = {}
        for account in accounts:
            user_id = uuid.uuid5(_NAMESPACE, account.username).hex
            device_id = str(uuid.uuid5(_NAMESPACE, "device:" + account.username))
            agent = Agent(account, user_id, device_id)
            self.agents[account.username] = agent
            self.by_user_id[user_id] = agent
            self._by_dn[account.dn] = agent

    # -- lookups ---------------------------------------------------------------------------

    def authenticate(self, username: str, password: str) -> Agent | None:
        agent = self.agents.get(username)
        return agent if agent is not None and agent.account.password == password else None

    def call_of(self, agent: Agent, call_id: str) -> Call:
        call = agent.calls.get(call_id)
        if call is None:
            raise ApiError(6, f"Call {call_id} not found", 404)
        return call

    def active_agents(self) -> list[Agent]:
        return [agent for agent in self.agents.values() if agent.session_active]

    # -- session and agent state -----------------------------------------------------------

    def start_session(
        self, agent: Agent, params: Mapping[str, Any], now: float
    ) -> list[Notification]:
        channels = params.get("channels")
        if channels is None:
            raise ApiError(1, "Missing required parameter 'channels'")
        if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
            raise ApiError(10, "'channels' must be a list of channel names, e.g. [\"voice\"]")
        if "voice" not in channels:
            raise ApiError(10, f"No supported channel in {channels}; this node offers 'voice'")
        self._require_voice()
        agent.session_active = True
        agent.user_state = "NotReady"
        return [self._device_notification(agent)]

    def end_session(self, agent: Agent) -> None:
        agent.session_active = False
        agent.user_state = "NotReady"

    def set_user_state(self, agent: Agent, operation: str) -> list[Notification]:
        if operation not in USER_STATES:
            raise ApiError(
                10, f"Unknown operationName {operation!r}; expected one of {list(USER_STATES)}"
            )
        self._require_voice()
        self._require_session(agent)
        agent.user_state = operation
        return [self._device_notification(agent)]

    # -- calls -----------------------------------------------------------------------------

    def dial(
        self, agent: Agent, device_id: str, params: Mapping[str, Any], now: float
    ) -> tuple[Call, list[Notification]]:
        if device_id != agent.device_id:
            raise ApiError(6, f"Device {device_id} not found", 404)
        destination = params.get("destination")
        if destination is None:
            raise ApiError(1, "Missing required parameter 'destination'")
        number = destination.get("phoneNumber") if isinstance(destination, dict) else None
        if not isinstance(number, str) or not number.strip():
            raise ApiError(1, "Missing required parameter 'destination.phoneNumber'")
        user_data = params.get("userData", {})
        if not isinstance(user_data, dict):
            raise ApiError(10, "'userData' must be an object")
        self._require_voice()
        self._require_session(agent)
        if len(agent.calls) >= MAX_CALLS_PER_AGENT:
            raise ApiError(
                2, f"Too many calls on device {device_id} (at most {MAX_CALLS_PER_AGENT})"
            )
        call = Call(
            id=self._new_call_id(),
            conn_id=f"{self._rng.getrandbits(64):016x}",
            state=CallState.DIALING,
            call_type="Internal" if len(number) <= 5 else "Outbound",
            destination=number.strip(),
            created_at=now,
            user_data=dict(user_data),
            dnis=number.strip(),
            recordable=agent.recording_available,
        )
        self._register(agent, call)
        notifications = [self._call_notification(agent, call, STATUS_CHANGE, now)]
        callee = self._by_dn.get(call.destination)
        if (
            callee is not None
            and callee is not agent
            and callee.session_active
            and len(callee.calls) < MAX_CALLS_PER_AGENT
        ):
            # both ends are ours: the callee's phone rings, and the call is up once it answers
            ringing = Call(
                id=self._new_call_id(),
                conn_id=call.conn_id,
                state=CallState.RINGING,
                call_type="Internal",
                destination=agent.dn,
                created_at=now,
                user_data=dict(user_data),
                dnis=callee.dn,
                peer_id=call.id,
                recordable=callee.recording_available,
            )
            call.peer_id = ringing.id
            self._register(callee, ringing)
            notifications.append(self._call_notification(callee, ringing, STATUS_CHANGE, now))
        return call, notifications

    def _register(self, agent: Agent, call: Call) -> None:
        agent.calls[call.id] = call
        self._calls[call.id] = (agent, call)

    def far_end_releases(self, call_id: str, now: float) -> list[Notification]:
        """The dialled party is busy or does not answer: Dialing -> Released."""
        found = self._calls.get(call_id)
        if found is None or found[1].state is not CallState.DIALING:
            return []
        agent, call = found
        return self._release(agent, call, now)

    def far_end_answers(self, call_id: str, now: float) -> list[Notification]:
        """The dialled party picks up: Dialing -> Established (nothing if hung up meanwhile)."""
        found = self._calls.get(call_id)
        if found is None or found[1].state is not CallState.DIALING:
            return []
        agent, call = found
        self._establish(call, now)
        return [self._call_notification(agent, call, STATUS_CHANGE, now)]

    def call_operation(
        self,
        agent: Agent,
        call_id: str,
        params: Mapping[str, Any],
        now: float,
        *,
        fail_later: bool = False,
        fail_unrecordable_later: bool = False,
    ) -> list[Notification]:
        """``POST /api/v2/me/calls/{id}``: check the operation against the capabilities.

        ``fail_later``: a recording operation is accepted but fails behind GWS (as when
        the recorder refuses): nothing changes and an ``ErrorMessage`` is published.
        ``fail_unrecordable_later``: on a call without recording, a recording operation
        (that the call would otherwise allow) fails the same way instead of being refused.
        """
        call = self.call_of(agent, call_id)
        operation = operation_name(params)
        caps = capabilities_of(call.state, call.recording, recordable=call.recordable)
        if (
            operation in RECORDING_OPERATIONS
            and not call.recordable
            and fail_unrecordable_later
            and operation in capabilities_of(call.state, call.recording)
        ):
            # accepted, then refused behind GWS (the recorder has no licence for this DN)
            self._require_voice()
            return [payloads.error_notification(self.api_base, agent, call, operation)]
        if operation not in caps:
            raise ApiError(
                2, f"Operation {operation} is not valid for call {call_id} in state "
                f"{_state_text(call)}; allowed: {', '.join(caps) or 'none'}",
            )  # fmt: skip
        self._require_voice()
        if operation in RECORDING_OPERATIONS:
            if fail_later:
                return [payloads.error_notification(self.api_base, agent, call, operation)]
            return [self._change_recording(agent, call, RECORDING_OPERATIONS[operation], now)]
        if operation in CALL_TRANSITIONS:
            return self._change_state(agent, call, CALL_TRANSITIONS[operation], now)
        if operation in ("AttachUserData", "UpdateUserData"):
            user_data = params.get("userData")
            if not isinstance(user_data, dict):
                raise ApiError(1, "Missing required parameter 'userData' (an object)")
            call.user_data.update(user_data)
            return [self._call_notification(agent, call, ATTACHED_DATA_CHANGE, now)]
        if operation == "DeleteUserDataPair":
            key = params.get("key")
            if not isinstance(key, str):
                raise ApiError(1, "Missing required parameter 'key'")
            call.user_data.pop(key, None)
            return [self._call_notification(agent, call, ATTACHED_DATA_CHANGE, now)]
        if operation == "DeleteUserData":
            call.user_data.clear()
            return [self._call_notification(agent, call, ATTACHED_DATA_CHANGE, now)]
        if operation == "SendDtmf":
            if not isinstance(params.get("dtmfDigits"), str):
                raise ApiError(1, "Missing required parameter 'dtmfDigits'")
            return []
        raise ApiError(3, f"Operation {operation} is not simulated", 501)

    def _change_recording(
        self, agent: Agent, call: Call, target: RecordingState, now: float
    ) -> Notification:
        if target is RecordingState.RECORDING and "GSIP_REC_FN" not in call.user_data:
            call.user_data["GSIP_REC_FN"] = payloads.recording_file_name(agent, call, now)
        call.recording = target
        call.user_data["GSIP_RECORD"] = GSIP_RECORD[target]
        return self._call_notification(agent, call, RECORDING_CHANGE, now)

    def _change_state(
        self, agent: Agent, call: Call, target: CallState, now: float
    ) -> list[Notification]:
        if target is CallState.RELEASED:
            return self._release(agent, call, now)
        answering = call.state is CallState.RINGING
        if target is CallState.ESTABLISHED and call.established_at is None:
            self._establish(call, now)
        else:
            call.state = target
        notifications = [self._call_notification(agent, call, STATUS_CHANGE, now)]
        peer = self._calls.get(call.peer_id) if call.peer_id else None
        if answering and peer is not None and peer[1].state is CallState.DIALING:
            self._establish(peer[1], now)
            notifications.append(self._call_notification(peer[0], peer[1], STATUS_CHANGE, now))
        return notifications

    def _release(self, agent: Agent, call: Call, now: float) -> list[Notification]:
        """Released, with an empty capability list; the other simulated leg goes too."""
        call.state = CallState.RELEASED
        # the recording ends with the call
        if call.recording in (RecordingState.RECORDING, RecordingState.PAUSED):
            call.recording = RecordingState.STOPPED
            call.user_data["GSIP_RECORD"] = "OFF"
        notifications = [self._call_notification(agent, call, STATUS_CHANGE, now)]
        del agent.calls[call.id]
        del self._calls[call.id]
        peer = self._calls.get(call.peer_id) if call.peer_id else None
        if peer is not None:
            peer[1].peer_id = None
            notifications.extend(self._release(peer[0], peer[1], now))
        return notifications

    def _establish(self, call: Call, now: float) -> None:
        call.state = CallState.ESTABLISHED
        call.established_at = now
        call.recording = RecordingState.STOPPED if self.recording_feature else None

    # -- payloads --------------------------------------------------------------------------

    def user_payload(self, agent: Agent) -> dict[str, Any]:
        return payloads.user_payload(self.api_base, agent)

    def device_payload(self, agent: Agent) -> dict[str, Any]:
        return payloads.device_payload(self.api_base, agent)

    def call_payload(self, agent: Agent, call: Call, now: float) -> dict[str, Any]:
        return payloads.call_payload(self.api_base, agent, call, now)

    def _call_notification(
        self, agent: Agent, call: Call, notification_type: str, now: float
    ) -> Notification:
        return payloads.call_notification(self.api_base, agent, call, notification_type, now)

    def _device_notification(self, agent: Agent) -> Notification:
        return payloads.device_notification(self.api_base, agent)

    # -- helpers ---------------------------------------------------------------------------

    def _require_voice(self) -> None:
        if not self.voice_available:
            raise ApiError(4, "Voice service is not available at this time", 503)

    @staticmethod
    def _require_session(agent: Agent) -> None:
        if not agent.session_active:
            raise ApiError(
                2, f"Agent {agent.username} is not logged in on the voice channel; "
                "call StartContactCenterSession first",
            )  # fmt: skip

    def _new_call_id(self) -> str:
        alphabet = string.digits + string.ascii_uppercase
        while True:
            call_id = "".join(self._rng.choice(alphabet) for _ in range(32))
            if call_id not in self._calls:
                return call_id


def _state_text(call: Call) -> str:
    return str(call.state) + (f" (recording {call.recording})" if call.recording else "")
