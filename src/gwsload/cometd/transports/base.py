"""The seam between the CometD client and its transports.

A transport moves :class:`~gwsload.bayeux.Batch` es to the server
and hands back what came, through the :class:`Sink` the client gives it:
``on_payload(payload, batch)`` for a received body or frame (``batch`` is the
request it answers, or None for a websocket frame), ``on_failure(error, batch)``
when a request (``batch``) or the whole connection (None) is lost. Transports do
not interpret Bayeux; the session does.
"""

from __future__ import annotations

from typing import Protocol

from gwsload.bayeux import Batch
from gwsload.cometd.errors import TransportError

__all__ = ["Sink", "Transport"]


class Sink(Protocol):
    def on_payload(self, payload: str | bytes, batch: Batch | None) -> None: ...

    def on_failure(self, error: TransportError, batch: Batch | None) -> None: ...


class Transport(Protocol):
    #: the Bayeux connection type this transport speaks
    connection_type: str

    def start(self, sink: Sink) -> None:
        """Remember where to deliver; open nothing yet."""

    def send(self, batch: Batch, timeout: float) -> None:
        """Send ``batch``; its answer (or failure) reaches the sink, maybe later.

        ``timeout`` bounds the wait for the answer, in seconds. A long-polling
        transport may block the calling greenlet for an immediate exchange; a
        held /meta/connect never blocks the caller.
        """

    def reset(self) -> None:
        """Drop the connection(s); the next send opens new ones."""

    def close(self) -> None:
        """Release every socket and greenlet; the transport is not used again."""
