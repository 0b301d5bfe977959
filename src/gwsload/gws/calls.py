"""The agent's view of its calls, kept from notifications and GET responses. Pure.

GWS's Dial response carries no call id: the client learns it from the ``Dialing``
``StatusChange`` notification of a call it did not know before. Recording
notifications carry the whole call, but other notifications (and older servers) may
leave ``recordingState`` out, so the last known one is kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["KEPT_CALL_FIELDS", "RECORDING_ON", "CallTable", "operation_towards"]

#: recording states in which the call records (paused included)
RECORDING_ON = frozenset({"Recording", "Paused"})


def operation_towards(recording_state: str | None, goal: str) -> str | None:
    """The recording operation that moves a call from ``recording_state`` (None:
    unknown, taken as ``Stopped``) towards ``goal`` (``Recording``, ``Paused`` or
    ``Stopped``); None when there is nothing to do or nothing valid to send (a
    stopped recording cannot be paused)."""
    state = recording_state or "Stopped"
    if state == goal:
        return None
    if goal == "Recording":
        return "ResumeCallRecording" if state == "Paused" else "StartCallRecording"
    if goal == "Paused":
        return "PauseCallRecording" if state == "Recording" else None
    if goal == "Stopped":
        return "StopCallRecording"
    raise ValueError(f"goal must be Recording, Paused or Stopped, got {goal!r}")


#: the fields of a call an agent reads (its state, recording state and the operations
#: it offers); the rest of a notified call (participants, user data...) is not kept, as
#: an agent holds its calls for hours
KEPT_CALL_FIELDS = ("id", "state", "recordingState", "capabilities")


class CallTable:
    """Live calls by id (the latest of each, :data:`KEPT_CALL_FIELDS` only); Released
    calls are dropped."""

    __slots__ = ("_calls", "_dialed", "_watching_dial")

    def __init__(self) -> None:
        self._calls: dict[str, dict[str, Any]] = {}
        self._watching_dial = False
        self._dialed: list[str] = []

    def update(self, call: Mapping[str, Any]) -> None:
        """Take a call payload (from a notification or a GET)."""
        call_id = call.get("id")
        if not isinstance(call_id, str):
            return
        if call.get("state") == "Released":
            self._calls.pop(call_id, None)
            return
        if call.get("state") == "Dialing" and self._watching_dial and call_id not in self._calls:
            self._dialed.append(call_id)
        payload = {name: call[name] for name in KEPT_CALL_FIELDS if name in call}
        previous = self._calls.get(call_id)
        if previous is not None and "recordingState" in previous:
            payload.setdefault("recordingState", previous["recordingState"])
        self._calls[call_id] = payload

    def drop(self, call_id: str) -> None:
        """Forget a call the server no longer has."""
        self._calls.pop(call_id, None)

    def recover(self, calls: Iterable[Mapping[str, Any]]) -> None:
        """Take the calls of ``GET /api/v2/me/calls?fields=*`` (known ones are kept)."""
        for call in calls:
            call_id = call.get("id")
            if isinstance(call_id, str) and call_id not in self._calls:
                self.update(call)

    def watch_dial(self) -> None:
        """From now on, remember calls that appear in state Dialing (see :meth:`dialed`)."""
        self._dialed.clear()
        self._watching_dial = True

    def stop_watching_dial(self) -> None:
        self._watching_dial = False

    def dialed(self) -> str | None:
        """The first new Dialing call since :meth:`watch_dial`, else None."""
        return self._dialed[0] if self._dialed else None

    def state(self, call_id: str | None) -> str | None:
        return self._field(call_id, "state")

    def recording_state(self, call_id: str | None) -> str | None:
        return self._field(call_id, "recordingState")

    def get(self, call_id: str) -> dict[str, Any] | None:
        return self._calls.get(call_id)

    def ids(self) -> list[str]:
        return list(self._calls)

    def __contains__(self, call_id: object) -> bool:
        return call_id in self._calls

    def __len__(self) -> int:
        return len(self._calls)

    def _field(self, call_id: str | None, name: str) -> str | None:
        call = self._calls.get(call_id) if call_id is not None else None
        value = call.get(name) if call is not None else None
        return value if isinstance(value, str) else None
