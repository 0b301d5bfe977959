"""GWS payloads: the user, device and call objects and the notifications that carry them.

Shapes follow the GWS 8.5 samples (see docs/simulator.md); every ``uri`` starts with
``api_base`` (the node's ``externalApiUrlV2``).
"""

from __future__ import annotations

import time
from typing import Any

from gwsload.simulator.model import (
    CALL_MESSAGE,
    CALLS_CHANNEL,
    DEVICE_MESSAGE,
    DEVICES_CHANNEL,
    ERROR_MESSAGE,
    USER_STATES,
    Agent,
    Call,
    Notification,
    capabilities_of,
)

__all__ = [
    "call_notification",
    "call_payload",
    "device_notification",
    "device_payload",
    "error_notification",
    "recording_file_name",
    "user_payload",
]


def user_payload(api_base: str, agent: Agent) -> dict[str, Any]:
    number = agent.username.removeprefix("agent")
    return {
        "id": agent.user_id,
        "userName": agent.username,
        "firstName": "Agent",
        "lastName": number,
        "roles": ["ROLE_AGENT"],
        "enabled": True,
        "changePasswordOnFirstLogin": False,
        "uri": f"{api_base}/users/{agent.user_id}",
        "path": f"/users/{agent.user_id}",
    }


def device_payload(api_base: str, agent: Agent) -> dict[str, Any]:
    return {
        "id": agent.device_id,
        "deviceState": "Active" if agent.session_active else "Inactive",
        "userState": dict(USER_STATES[agent.user_state]),
        "phoneNumber": agent.dn,
        "e164Number": agent.dn,
        "telephonyNetwork": "Private",
        "doNotDisturb": "Off",
        "voiceEnvironmentUri": f"{api_base}/voice-environments/sim",
        "capabilities": ["ForwardCallsOn", "DoNotDisturbOn"],
        "uri": f"{api_base}/devices/{agent.device_id}",
        "path": f"/devices/{agent.device_id}",
    }


def call_payload(api_base: str, agent: Agent, call: Call, now: float) -> dict[str, Any]:
    since = call.established_at if call.established_at is not None else now
    payload: dict[str, Any] = {
        "id": call.id,
        "callUuid": call.id,
        "connId": call.conn_id,
        "state": str(call.state),
        "deviceUri": f"{api_base}/devices/{agent.device_id}",
        "participants": [_participant(call.destination)],
        "dnis": call.dnis or call.destination,
        "callType": call.call_type,
        "capabilities": capabilities_of(call.state, call.recording, recordable=call.recordable),
        "duration": str(max(0, int(now - since))),
        "mute": "Off",
        "supervisorListeningIn": False,
        "monitoredUserMuted": False,
        "monitoring": False,
        "uri": f"{api_base}/me/calls/{call.id}",
        "path": f"/calls/{call.id}",
    }
    if call.user_data:
        payload["userData"] = dict(call.user_data)
    if call.recording is not None:
        payload["recordingState"] = str(call.recording)
    return payload


def call_notification(
    api_base: str, agent: Agent, call: Call, notification_type: str, now: float
) -> Notification:
    data = {
        "notificationType": notification_type,
        "messageType": CALL_MESSAGE,
        "phoneNumber": agent.dn,
        "call": call_payload(api_base, agent, call, now),
    }
    return Notification(
        agent=agent.username,
        user_id=agent.user_id,
        channel=CALLS_CHANNEL,
        data=data,
        notification_type=notification_type,
        call_id=call.id,
        recording_state=str(call.recording) if call.recording is not None else "",
    )


def error_notification(api_base: str, agent: Agent, call: Call, operation: str) -> Notification:
    # GWS documents the messageType only; the other field names are this simulator's
    data = {
        "messageType": ERROR_MESSAGE,
        "phoneNumber": agent.dn,
        "errorCode": 4,
        "errorMessage": f"{operation} failed: the recorder refused the request",
        "operationName": operation,
        "callId": call.id,
        "callUri": f"{api_base}/me/calls/{call.id}",
    }
    return Notification(
        agent=agent.username,
        user_id=agent.user_id,
        channel=CALLS_CHANNEL,
        data=data,
        notification_type=ERROR_MESSAGE,
        call_id=call.id,
    )


def device_notification(api_base: str, agent: Agent) -> Notification:
    data = {"messageType": DEVICE_MESSAGE, "devices": [device_payload(api_base, agent)]}
    return Notification(
        agent=agent.username,
        user_id=agent.user_id,
        channel=DEVICES_CHANNEL,
        data=data,
        notification_type=DEVICE_MESSAGE,
    )


# -- helpers ---------------------------------------------------------------------------


def _participant(number: str) -> dict[str, str]:
    return {
        "e164Number": number,
        "formattedPhoneNumber": number,
        "phoneNumber": number,
        "digits": number,
    }


def recording_file_name(agent: Agent, call: Call, now: float) -> str:
    stamp = time.strftime("%Y%m%d_%H%M%S", time.gmtime(now))
    host = "gwsload-sim"
    return (
        f"{call.id}_{agent.dn}_{agent.dn}_{call.destination}_{stamp}_{host}__%3Ccont_center_id%3E"
    )
