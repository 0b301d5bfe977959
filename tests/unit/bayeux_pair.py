"""BayeuxPair: a ClientSession wired to a ServerEngine in memory, on virtual time.

It plays both drivers at once: it sends the client's batches to the engine,
answers held connects at their deadline or when woken, pushes websocket events,
runs the engine's expiry sweep, and fires the client's timers, all in order of
time. ``advance(seconds)`` moves the clock; nothing sleeps. ``network_down``
makes every batch fail on the way (the server sees nothing).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from gwsload.bayeux._client import ClientSession
from gwsload.bayeux._client_events import Batch, Delivery, Event, Lane
from gwsload.bayeux._codec import decode, encode
from gwsload.bayeux._messages import ConnectionType, Message
from gwsload.bayeux._server import HeldConnect, ServerEngine

__all__ = ["BayeuxPair"]


@dataclass
class _Held:
    held: HeldConnect
    #: replies of the same long-polling request, sent with the connect's answer
    riders: list[Message]
    woken: bool = False


class BayeuxPair:
    def __init__(
        self,
        connection_type: str = ConnectionType.LONG_POLLING.value,
        *,
        ack: bool = False,
        timeout_ms: int = 30_000,
        interval_ms: int = 0,
        max_interval_ms: int = 10_000,
        seed: int = 1,
    ) -> None:
        self.server = ServerEngine(
            timeout_ms=timeout_ms, interval_ms=interval_ms, max_interval_ms=max_interval_ms
        )
        self.client = ClientSession((connection_type,), ack=ack, rng=random.Random(seed))
        self.websocket = connection_type == ConnectionType.WEBSOCKET.value
        self.now = 0.0
        self.events: list[Event] = []
        self.network_down = False
        #: every batch the client sent, for counting round trips
        self.sent: list[Batch] = []
        self._held: dict[int, _Held] = {}

    @property
    def deliveries(self) -> list[Delivery]:
        return [e for e in self.events if isinstance(e, Delivery)]

    def take_events(self) -> list[Event]:
        events, self.events = self.events, []
        return events

    def publish(self, channel: str, data: object) -> None:
        """A server-side publish, delivered as the real drivers would."""
        self._wake(self.server.publish(channel, data))
        self._settle()

    def drop_sessions(self) -> None:
        self._wake(self.server.drop_sessions(every_owner=True))
        self._settle()

    def lose_connections(self) -> None:
        """Every connection breaks: held connects are abandoned, requests in flight fail."""
        for entry in self._held.values():
            self.server.abandon(entry.held, self.now)
        self._held.clear()
        self.events += self.client.transport_failed(self.now, "connection lost")
        self._settle()

    def advance(self, seconds: float = 0.0) -> list[Event]:
        """Move the clock by ``seconds``, handling every timer on the way, in order."""
        end = self.now + seconds
        while True:
            self._settle()
            due = self._next_due()
            if due is None or due > end:
                break
            self.now = max(self.now, due)
        self.now = end
        self._settle()
        return self.events

    # -- internals --------------------------------------------------------------

    def _next_due(self) -> float | None:
        times = [t for t in (self.client.get_timer(), self.server.get_timer()) if t is not None]
        times += [h.held.deadline for h in self._held.values()]
        return min(times) if times else None

    def _settle(self) -> None:
        """Do everything due at ``self.now`` until nothing moves."""
        for _ in range(1000):
            moved = False
            self.events += self.client.handle_timer(self.now)
            expired = self.server.sweep(self.now)
            if expired:
                self._wake(expired)
            for token, entry in list(self._held.items()):
                if entry.woken or entry.held.deadline <= self.now:
                    del self._held[token]
                    self._answer(entry.riders + self.server.complete(entry.held, self.now))
                    moved = True
            for batch in self.client.outbound(self.now):
                self._send(batch)
                moved = True
            if not moved:
                return
        raise AssertionError("the pair did not settle (a loop between client and server?)")

    def _send(self, batch: Batch) -> None:
        self.sent.append(batch)
        if self.network_down:
            self.events += self.client.transport_failed(self.now, "network down", batch)
            return
        outcome = self.server.handle(decode(batch.payload), self.now)
        for released in outcome.released:
            entry = self._held.pop(released.token, None)
            riders = entry.riders if entry is not None else []
            self._answer(riders + self.server.complete(released, self.now))
        if outcome.hold is not None:
            if self.websocket:
                self._answer(outcome.replies)
                self._held[outcome.hold.token] = _Held(outcome.hold, [])
            else:
                self._held[outcome.hold.token] = _Held(outcome.hold, list(outcome.replies))
        else:
            self._answer(outcome.replies)
        self._wake(outcome.woke)
        assert batch.lane in (Lane.CONNECT, Lane.IMMEDIATE)

    def _wake(self, client_ids: list[str]) -> None:
        for client_id in client_ids:
            if self.websocket:
                events = self.server.take_events(client_id)
                if events:
                    self._answer(events)
                    continue
            for entry in self._held.values():
                if entry.held.client_id == client_id:
                    entry.woken = True

    def _answer(self, messages: list[Message]) -> None:
        if messages:
            self.events += self.client.receive(encode(messages), self.now)
