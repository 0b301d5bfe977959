"""One operation in flight (:class:`Expectation`) and the names the matcher keys on.
Pure: standard library only."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gwsload.contract.operations import CALL_RECORDING_STATE_CHANGE, RECORDING_OPERATIONS
from gwsload.gws.outcomes import Outcome

__all__ = [
    "CALL_RECORDING_STATE_CHANGE",
    "CALL_STATE_CHANGE_MESSAGE",
    "ERROR_MESSAGE",
    "RECORDING_OPERATIONS",
    "STATUS_CHANGE",
    "Expectation",
    "Key",
    "state_of",
]

CALL_STATE_CHANGE_MESSAGE = "CallStateChangeMessage"
STATUS_CHANGE = "StatusChange"
#: GWS's asynchronous error for an accepted operation (gws-api.md §4)
ERROR_MESSAGE = "ErrorMessage"


Key = tuple[str, str, str]


def state_of(notification_type: str, call: Mapping[str, Any]) -> str:
    """The state a call notification reports: ``recordingState`` for recording changes,
    the call ``state`` for every other ``notificationType``."""
    field = "recordingState" if notification_type == CALL_RECORDING_STATE_CHANGE else "state"
    value = call.get(field)
    return value if isinstance(value, str) else ""


@dataclass(slots=True, eq=False)
class Expectation:
    """One operation in flight. Created by :meth:`NotificationMatcher.expect`; the caller
    passes it back to ``on_response`` / ``on_transport_error``. ``outcome`` is set once
    the operation is final."""

    call_id: str
    operation: str
    notification_type: str
    expected_state: str
    t_registered: float
    t_intended: float
    t_sent: float
    timeout_s: float
    t_response: float | None = None
    http_status: int = 0
    status_code: int = -1
    error: str = ""
    t_notified: float | None = None
    server_ts: float | None = None
    server_seq: int = -1
    #: the GWS node that answered the request (``X-Gwsload-Node``; "" when not named)
    node: str = ""
    outcome: Outcome | None = None
    late_seen: bool = False
    #: the ``ErrorMessage`` that failed this operation (text, errorCode), when one came
    async_error: tuple[str, int] | None = None

    @property
    def key(self) -> Key:
        return (self.call_id, self.notification_type, self.expected_state)

    @property
    def deadline(self) -> float:
        return self.t_sent + self.timeout_s

    @property
    def done(self) -> bool:
        return self.outcome is not None
