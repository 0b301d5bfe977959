"""An in-memory transport: the CometD client talking to a ``ServerEngine`` in-process.

For tests and the conformance suite: no sockets, real (monotonic) time, gevent.
:class:`MemoryServer` plays the part of the simulator's endpoint: it answers
batches with the engine, holds /meta/connect until its deadline or until events
arrive, pushes events on "websocket" transports, and sweeps expired sessions.
Several clients may share one server::

    server = MemoryServer(timeout_ms=2000)
    client = CometdClient("memory://", server.transport("websocket"))
    server.publish("/v2/me/calls", {...})
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import gevent
import gevent.event

from gwsload.bayeux import (
    Batch,
    ConnectionType,
    HeldConnect,
    Lane,
    Message,
    RemoteProtocolError,
    ServerEngine,
    decode,
    encode,
)
from gwsload.cometd.errors import TransportError
from gwsload.cometd.transports.base import Sink

__all__ = ["MemoryServer", "MemoryTransport"]


@dataclass
class _Held:
    held: HeldConnect
    transport: MemoryTransport
    batch: Batch
    riders: list[Message]
    wake: gevent.event.Event = field(default_factory=gevent.event.Event)


class MemoryServer:
    """A ``ServerEngine`` served to in-memory transports; engine options as keywords."""

    def __init__(self, engine: ServerEngine | None = None, **engine_options: Any) -> None:
        self.engine = engine if engine is not None else ServerEngine(**engine_options)
        self._held: dict[int, _Held] = {}
        self._sockets: dict[str, MemoryTransport] = {}
        #: when False, every batch fails as if the network were down
        self.reachable = True

    def transport(
        self, connection_type: str = ConnectionType.LONG_POLLING.value
    ) -> MemoryTransport:
        return MemoryTransport(self, connection_type)

    def publish(self, channel: str, data: Any, ext: dict[str, Any] | None = None) -> None:
        self._wake(self.engine.publish(channel, data, ext))

    def drop_sessions(self) -> None:
        """Forget every session at once (their held connects get 402)."""
        self._wake(self.engine.drop_sessions(every_owner=True))

    def handle(self, transport: MemoryTransport, batch: Batch) -> None:
        now = time.monotonic()
        self._wake(self.engine.sweep(now))
        try:
            messages = decode(batch.payload)
        except RemoteProtocolError as exc:
            raise TransportError(f"memory: HTTP 400 Bad request ({exc})", 400) from None
        outcome = self.engine.handle(messages, now)
        if transport.websocket:
            for message in messages:
                if message.client_id is not None:
                    self._sockets[message.client_id] = transport
        for released in outcome.released:
            entry = self._held.get(released.token)
            if entry is not None:
                entry.wake.set()
        if outcome.hold is None:
            transport.deliver(outcome.replies, batch)
        else:
            riders = list(outcome.replies)
            if transport.websocket and riders:
                transport.deliver(riders, None)
                riders = []
            entry = _Held(outcome.hold, transport, batch, riders)
            self._held[outcome.hold.token] = entry
            gevent.spawn(self._answer_held, entry)
        self._wake(outcome.woke)

    def _answer_held(self, entry: _Held) -> None:
        entry.wake.wait(timeout=max(0.0, entry.held.deadline - time.monotonic()))
        self._held.pop(entry.held.token, None)
        replies = entry.riders + self.engine.complete(entry.held, time.monotonic())
        transport = entry.transport
        transport.deliver(replies, None if transport.websocket else entry.batch)

    def _wake(self, client_ids: list[str]) -> None:
        for client_id in client_ids:
            socket = self._sockets.get(client_id)
            if socket is not None and not socket.closed:
                events = self.engine.take_events(client_id)
                if events:
                    socket.deliver(events, None)
                    continue
            for entry in list(self._held.values()):
                if entry.held.client_id == client_id:
                    entry.wake.set()


class MemoryTransport:
    """One client's connection to a :class:`MemoryServer`."""

    def __init__(self, server: MemoryServer, connection_type: str) -> None:
        self.connection_type = connection_type
        self.websocket = connection_type == ConnectionType.WEBSOCKET.value
        self.closed = False
        self._server = server
        self._sink: Sink | None = None

    def start(self, sink: Sink) -> None:
        self._sink = sink

    def send(self, batch: Batch, timeout: float) -> None:
        sink = self._sink
        assert sink is not None, "start() first"
        if self.closed or not self._server.reachable:
            error = TransportError("memory: server unreachable")
            if batch.lane is Lane.CONNECT:
                gevent.spawn(sink.on_failure, error, batch)
            else:
                sink.on_failure(error, batch)
            return
        try:
            self._server.handle(self, batch)
        except TransportError as exc:
            sink.on_failure(exc, batch)

    def deliver(self, messages: list[Message], batch: Batch | None) -> None:
        """Hand ``messages`` to the client, from a greenlet of its own (as a socket would)."""
        if messages and not self.closed and self._sink is not None:
            gevent.spawn(self._sink.on_payload, encode(messages), batch)

    def reset(self) -> None:
        return None

    def close(self) -> None:
        self.closed = True
