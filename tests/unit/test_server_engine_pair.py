"""ClientSession against ServerEngine in memory, with virtual time (no sockets, no sleeps).

``BayeuxPair`` plays the long-polling transport between the two sans-IO machines:
immediate batches are answered at once; a held /meta/connect stays open until the
engine has events for it, a newer connect releases it, or its deadline passes.
Setting ``online = False`` models a network outage (requests fail to connect, the
open poll is lost).
"""

from __future__ import annotations

import random
from typing import Any

from gwsload.bayeux._client import ClientSession
from gwsload.bayeux._client_events import (
    Batch,
    Connected,
    Delivery,
    Event,
    HandshakeAccepted,
    Lane,
    ReconnectAdvised,
    SubscribeAccepted,
)
from gwsload.bayeux._codec import decode, encode
from gwsload.bayeux._messages import Message, Reconnect
from gwsload.bayeux._server import HeldConnect, ServerEngine

OWNER = "agent-user-id"
CHANNEL = "/v2/me/calls"


class BayeuxPair:
    def __init__(self, *, ack: bool = False, **server_options: Any) -> None:
        self.client = ClientSession(("long-polling",), ack=ack, rng=random.Random(7))
        self.server = ServerEngine(**server_options)
        self.now = 0.0
        self.events: list[Event] = []
        self.online = True
        self._poll: tuple[HeldConnect, list[Message], Batch] | None = None

    def of_type(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def deliveries(self) -> list[Any]:
        return [e.message["data"] for e in self.of_type(Delivery)]

    def pump(self) -> None:
        """Exchange everything due at the current time, until both sides are quiet."""
        for _ in range(200):
            self.events += self.client.handle_timer(self.now)
            batches = self.client.outbound(self.now)
            released = self._release_poll()
            for batch in batches:
                self._send(batch)
            if not batches and not released:
                return
        raise AssertionError("pair did not settle")

    def advance(self, to: float) -> None:
        """Move virtual time to ``to``, stopping at every timer of either side."""
        for _ in range(10_000):
            self.pump()
            timers = [self.client.get_timer(), self.server.get_timer()]
            if self._poll is not None:
                timers.append(self._poll[0].deadline)
            upcoming = [t for t in timers if t is not None and self.now < t <= to]
            self.now = min(upcoming, default=to)
            self.server.sweep(self.now)
            if self.now >= to:
                self.pump()
                return
        raise AssertionError("too many timer steps")

    def _send(self, batch: Batch) -> None:
        if not self.online:
            self.events += self.client.transport_failed(self.now, "connection refused", batch)
            return
        outcome = self.server.handle(decode(batch.payload), self.now, owner=OWNER)
        for held in outcome.released:
            answer = self.server.complete(held, self.now)
            if self._poll is not None and self._poll[0] == held:
                self._poll = None
            self._answer(answer)
        if outcome.hold is not None:
            assert batch.lane is Lane.CONNECT
            self._poll = (outcome.hold, outcome.replies, batch)
        else:
            self._answer(outcome.replies)

    def _release_poll(self) -> bool:
        if self._poll is None:
            return False
        held, prefix, batch = self._poll
        if not self.online:
            self._poll = None
            self.server.abandon(held, self.now)
            self.events += self.client.transport_failed(self.now, "connection lost", batch)
            return True
        due = (
            self.server.held_connect(held.client_id) != held
            or self.server.pending_count(held.client_id) > 0
            or self.now >= held.deadline
        )
        if due:
            self._poll = None
            self._answer([*prefix, *self.server.complete(held, self.now)])
        return due

    def _answer(self, messages: list[Message]) -> None:
        self.events += self.client.receive(encode(messages), self.now)


def started(pair: BayeuxPair) -> str:
    pair.client.handshake()
    pair.client.subscribe(CHANNEL)
    pair.advance(1.0)
    (accepted,) = pair.of_type(HandshakeAccepted)
    assert [e.channel for e in pair.of_type(SubscribeAccepted)] == [CHANNEL]
    assert len(pair.of_type(Connected)) == 1
    assert pair.server.held_connect(accepted.client_id) is not None
    client_id: str = accepted.client_id
    return client_id


def test_subscribe_then_deliveries_wake_the_held_connect() -> None:
    pair = BayeuxPair()
    client_id = started(pair)
    assert pair.server.subscriptions(client_id) == {CHANNEL}
    for seq in range(3):
        pair.server.deliver_to_owner(OWNER, CHANNEL, {"seq": seq}, {"gwsload": {"seq": seq}})
        pair.pump()
    assert pair.deliveries() == [{"seq": 0}, {"seq": 1}, {"seq": 2}]
    assert [e.message["ext"] for e in pair.of_type(Delivery)] == [
        {"gwsload": {"seq": s}} for s in range(3)
    ]
    assert pair.server.held_connect(client_id) is not None  # polling again


def test_idle_session_polls_at_the_timeout_and_stays_alive() -> None:
    pair = BayeuxPair(timeout_ms=30000, max_interval_ms=10000)
    client_id = started(pair)
    pair.advance(200.0)
    assert pair.server.has_session(client_id)
    assert pair.of_type(ReconnectAdvised) == []
    pair.server.deliver_to_owner(OWNER, CHANNEL, {"late": True})
    pair.pump()
    assert pair.deliveries() == [{"late": True}]


def test_ack_extension_end_to_end() -> None:
    pair = BayeuxPair(ack=True)
    client_id = started(pair)
    assert pair.of_type(HandshakeAccepted)[0].ack is True
    assert pair.server.ack_enabled(client_id)
    for seq in range(4):
        pair.server.deliver_to_owner(OWNER, CHANNEL, {"seq": seq})
        pair.pump()
    assert pair.deliveries() == [{"seq": s} for s in range(4)]
    # the client's current connect acknowledged the last batch: nothing left to resend
    assert pair.server.pending_count(client_id) == 0


def test_dropped_session_is_handshaken_again_and_resubscribed() -> None:
    pair = BayeuxPair()
    first = started(pair)
    assert pair.server.drop_sessions(OWNER) == [first]
    pair.advance(5.0)
    assert [e.action for e in pair.of_type(ReconnectAdvised)] == [Reconnect.HANDSHAKE]
    accepted = pair.of_type(HandshakeAccepted)
    assert len(accepted) == 2 and accepted[1].rehandshake is True
    second = accepted[1].client_id
    assert second != first and pair.server.subscriptions(second) == {CHANNEL}
    pair.server.deliver_to_owner(OWNER, CHANNEL, {"after": "rehandshake"})
    pair.pump()
    assert pair.deliveries() == [{"after": "rehandshake"}]


def test_outage_longer_than_max_interval_expires_the_session_then_recovers() -> None:
    pair = BayeuxPair(timeout_ms=30000, max_interval_ms=10000)
    first = started(pair)
    pair.online = False
    pair.advance(20.0)
    assert not pair.server.has_session(first)  # swept after max_interval
    pair.online = True
    pair.advance(80.0)
    accepted = pair.of_type(HandshakeAccepted)
    assert accepted[-1].rehandshake is True and accepted[-1].client_id != first
    second = accepted[-1].client_id
    assert pair.server.subscriptions(second) == {CHANNEL}
    reconnected = pair.of_type(Connected)[-1]
    assert reconnected.outage is not None and reconnected.outage.rehandshake is True
    pair.server.deliver_to_owner(OWNER, CHANNEL, {"back": True})
    pair.pump()
    assert pair.deliveries() == [{"back": True}]


def test_short_outage_keeps_the_session() -> None:
    pair = BayeuxPair(timeout_ms=30000, max_interval_ms=10000)
    client_id = started(pair)
    pair.server.deliver_to_owner(OWNER, CHANNEL, {"before": 1})
    pair.online = False
    pair.advance(3.0)
    pair.online = True
    pair.advance(20.0)
    assert pair.server.has_session(client_id)
    assert len(pair.of_type(HandshakeAccepted)) == 1
    assert pair.deliveries() == [{"before": 1}]
