"""Settings of one agent (pure: no gevent), and the error for a stalled agent flow."""

from __future__ import annotations

from dataclasses import dataclass

from gwsload.gws.errors import GwsError

__all__ = ["AgentConfig", "AgentError"]


class AgentError(GwsError):
    """The agent flow could not go on (a state never reached within its timeout)."""


@dataclass(frozen=True, slots=True)
class AgentConfig:
    """How one agent connects and behaves. Times in seconds."""

    base_url: str
    user: str
    password: str
    #: number dialled to set up the call whose recording is operated
    destination: str = "5000"
    transport: str = "long-polling"
    origin: str | None = None
    verify_tls: bool = True
    ca_file: str | None = None
    #: a notification not arriving within this is ``lost``
    notification_timeout_s: float = 10.0
    #: bound on waiting for Dialing / Established / Released
    call_state_timeout_s: float = 15.0
    request_timeout_s: float = 30.0
    cometd_timeout_s: float = 10.0
    #: place for StartContactCenterSession (GWS default place when None)
    place: str | None = None
    #: device to dial from; taken from GET /api/v2/me/devices when None
    device_id: str | None = None
    #: hang up leftover calls that cannot be reused (not Established)
    hangup_leftovers: bool = True
