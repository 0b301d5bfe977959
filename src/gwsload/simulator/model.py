"""The GWS call model: states, exact capability lists, agent states, and the records
the world keeps (agents, calls, notifications, refusals). Pure data, no behaviour beyond
``capabilities_of``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from gwsload.simulator.agents import AgentAccount

__all__ = [
    "ATTACHED_DATA_CHANGE",
    "CALLS_CHANNEL",
    "CALL_MESSAGE",
    "CALL_TRANSITIONS",
    "DEVICES_CHANNEL",
    "DEVICE_MESSAGE",
    "ERROR_MESSAGE",
    "GSIP_RECORD",
    "MAX_CALLS_PER_AGENT",
    "RECORDING_CHANGE",
    "RECORDING_OPERATIONS",
    "STATUS_CHANGE",
    "USER_STATES",
    "Agent",
    "ApiError",
    "Call",
    "CallState",
    "Notification",
    "RecordingState",
    "capabilities_of",
    "operation_name",
]

CALLS_CHANNEL = "/v2/me/calls"
DEVICES_CHANNEL = "/v2/me/devices"

CALL_MESSAGE = "CallStateChangeMessage"
DEVICE_MESSAGE = "DeviceStateChangeMessage"
STATUS_CHANGE = "StatusChange"
RECORDING_CHANGE = "CallRecordingStateChange"
ERROR_MESSAGE = "ErrorMessage"
ATTACHED_DATA_CHANGE = "AttachedDataChanged"

#: a runaway client must not grow an agent without bound
MAX_CALLS_PER_AGENT = 16


class CallState(StrEnum):
    DIALING = "Dialing"
    RINGING = "Ringing"
    ESTABLISHED = "Established"
    HELD = "Held"
    RELEASED = "Released"


class RecordingState(StrEnum):
    RECORDING = "Recording"
    PAUSED = "Paused"
    STOPPED = "Stopped"


_USER_DATA_OPS = ["DeleteUserData", "AttachUserData", "DeleteUserDataPair"]
_BASE_CAPABILITIES: dict[CallState, list[str]] = {
    CallState.DIALING: ["SendDtmf", *_USER_DATA_OPS, "Hangup", "UpdateUserData"],
    # Ringing (inbound) has no GWS v2 sample; Answer plus the user-data operations
    CallState.RINGING: ["Answer", *_USER_DATA_OPS, "UpdateUserData"],
    CallState.ESTABLISHED: [
        "SingleStepTransfer", "InitiateConference", "Hold", "SingleStepConference",
        "InitiateTransfer", "SendDtmf", *_USER_DATA_OPS, "Hangup", "UpdateUserData",
    ],
    CallState.HELD: [
        "SingleStepTransfer", "InitiateConference", "Retrieve", "SingleStepConference",
        "InitiateTransfer", *_USER_DATA_OPS, "Hangup", "UpdateUserData",
    ],
    CallState.RELEASED: [],
}  # fmt: skip
_RECORDING_CAPABILITIES: dict[RecordingState, list[str]] = {
    RecordingState.STOPPED: ["StartCallRecording"],
    RecordingState.RECORDING: ["PauseCallRecording", "StopCallRecording"],
    RecordingState.PAUSED: ["ResumeCallRecording", "StopCallRecording"],
}
GSIP_RECORD = {
    RecordingState.RECORDING: "ON",
    RecordingState.PAUSED: "PAUSED",
    RecordingState.STOPPED: "OFF",
}
#: recording operation -> the recording state it leads to
RECORDING_OPERATIONS: dict[str, RecordingState] = {
    "StartCallRecording": RecordingState.RECORDING,
    "PauseCallRecording": RecordingState.PAUSED,
    "ResumeCallRecording": RecordingState.RECORDING,
    "StopCallRecording": RecordingState.STOPPED,
}
CALL_TRANSITIONS = {
    "Answer": CallState.ESTABLISHED,
    "Hold": CallState.HELD,
    "Retrieve": CallState.ESTABLISHED,
    "Hangup": CallState.RELEASED,
}

#: the three system-defined agent states of the voice channel
_READY_ID = "9430250E-0A1B-421F-B372-F29E69366DED"
_NOT_READY_ID = "900D55CC-2BB0-431F-8BF9-D3525B383BE6"
USER_STATES: dict[str, dict[str, str]] = {
    "Ready": {"id": _READY_ID, "displayName": "Ready", "state": "Ready"},
    "NotReady": {"id": _NOT_READY_ID, "displayName": "Not Ready", "state": "NotReady"},
    "AfterCallWork": {
        "id": _NOT_READY_ID,
        "displayName": "AfterCallWork",
        "state": "NotReady",
        "workMode": "AfterCallWork",
    },
}


def capabilities_of(
    state: CallState, recording: RecordingState | None, *, recordable: bool = True
) -> list[str]:
    """What the client may do with a call in this state (a fresh list). ``recordable``
    False: no recording operation (the agent lacks api-voice-recording, or its DN is
    not set up to record)."""
    caps = list(_BASE_CAPABILITIES[state])
    if recordable and recording is not None and state in (CallState.ESTABLISHED, CallState.HELD):
        caps.extend(_RECORDING_CAPABILITIES[recording])
    return caps


class ApiError(Exception):
    """A refused request: GWS ``statusCode`` + ``statusMessage``, and the HTTP status."""

    def __init__(self, status_code: int, message: str, http_status: int = 400) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.http_status = http_status

    def body(self) -> dict[str, Any]:
        return {"statusCode": self.status_code, "statusMessage": self.message}


@dataclass(frozen=True, slots=True)
class Notification:
    """One GWS notification: Bayeux ``data`` for ``channel``, plus what the truth log needs."""

    agent: str
    user_id: str
    channel: str
    data: dict[str, Any]
    notification_type: str
    call_id: str = ""
    recording_state: str = ""

    @property
    def is_recording(self) -> bool:
        return self.notification_type == RECORDING_CHANGE


@dataclass(slots=True)
class Call:
    id: str
    conn_id: str
    state: CallState
    call_type: str
    destination: str
    created_at: float
    established_at: float | None = None
    #: None until the call is established (recording is offered from then on)
    recording: RecordingState | None = None
    user_data: dict[str, Any] = field(default_factory=dict)
    #: the dialled number for an outbound leg; the agent's own DN for an inbound one
    dnis: str = ""
    #: the other leg, when both ends are simulated agents
    peer_id: str | None = None
    #: recording operations are offered (False: --recording-unavailable-share)
    recordable: bool = True


@dataclass(slots=True)
class Agent:
    account: AgentAccount
    user_id: str
    device_id: str
    #: logged in on the voice channel (StartContactCenterSession)
    session_active: bool = False
    user_state: str = "NotReady"
    calls: dict[str, Call] = field(default_factory=dict)
    #: the agent may record (False: --recording-unavailable-share)
    recording_available: bool = True

    @property
    def username(self) -> str:
        return self.account.username

    @property
    def dn(self) -> str:
        return self.account.dn


def operation_name(params: Mapping[str, Any]) -> str:
    operation = params.get("operationName")
    if operation is None:
        raise ApiError(1, "Missing required parameter 'operationName'")
    if not isinstance(operation, str):
        raise ApiError(10, "'operationName' must be a string")
    return operation
