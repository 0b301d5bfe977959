"""Incidents: what went wrong with a client's connection, for the run's incident log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Incident", "IncidentKind"]

IncidentKind = Literal["reconnect", "rehandshake", "transport_error", "listener_gap"]


@dataclass(frozen=True, slots=True)
class Incident:
    """One incident, reported to the client's ``on_incident`` callback.

    * ``transport_error``: a request failed on the wire (reported at once, no duration);
    * ``reconnect``: /meta/connect failed and was retried; reported when a connect
      succeeds again, ``duration_ms`` = time without a working connect;
    * ``rehandshake``: the server lost the session; reported once the new session's
      first connect succeeded (subscriptions renewed), with the same duration;
    * ``listener_gap``: the next /meta/connect left late (a busy process), with the delay.

    ``ts`` is when the incident began (UNIX seconds).
    """

    ts: float
    kind: IncidentKind
    detail: str
    duration_ms: float | None = None
