"""The client session's bookkeeping: its fields and the small moves on them.

What :class:`~gwsload.bayeux._client.ClientSession` knows between calls (state,
session, pending requests, queue, subscriptions, advice, outage clock) and the
steps every part of it takes: a state move, a new request id, the back-off. The
rules for what a reply or a failure does live in :mod:`gwsload.bayeux._client_replies`;
the calls, what to send and the timers in :mod:`gwsload.bayeux._client`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final

from gwsload.bayeux._client_events import Event, Lane
from gwsload.bayeux._messages import Advice, ConnectionType, Message, MetaChannel
from gwsload.bayeux._state import ClientState, Trigger, next_state

__all__ = [
    "CONNECT",
    "DEFAULT_BACKOFF_FIRST",
    "DEFAULT_BACKOFF_MAX",
    "DEFAULT_CONNECT_HOLD_MS",
    "DEFAULT_MAX_NETWORK_DELAY",
    "DISCONNECT",
    "HANDSHAKE",
    "SUBSCRIBE",
    "UNSUBSCRIBE",
    "PendingRequest",
    "SessionBookkeeping",
]

#: how long a server holds /meta/connect until it advises otherwise (faye's and CometD's default)
DEFAULT_CONNECT_HOLD_MS: Final = 30_000
#: extra time allowed for a reply to reach us (the CometD JavaScript client's maxNetworkDelay)
DEFAULT_MAX_NETWORK_DELAY: Final = 10.0
#: first non-zero back-off; it doubles on every failure in a row, up to the maximum
DEFAULT_BACKOFF_FIRST: Final = 0.5
#: the CometD JavaScript client caps its back-off at 60 s; a load agent should come back sooner
DEFAULT_BACKOFF_MAX: Final = 30.0

HANDSHAKE = MetaChannel.HANDSHAKE.value
CONNECT = MetaChannel.CONNECT.value
SUBSCRIBE = MetaChannel.SUBSCRIBE.value
UNSUBSCRIBE = MetaChannel.UNSUBSCRIBE.value
DISCONNECT = MetaChannel.DISCONNECT.value


@dataclass(slots=True)
class PendingRequest:
    """A request on the wire, waiting for its reply."""

    message: Message  # as queued, without clientId, so it can be sent again
    lane: Lane
    deadline: float


class SessionBookkeeping:
    """The fields of a client session and the steps shared by its calls and replies."""

    def __init__(
        self,
        connection_types: tuple[str, ...] = (ConnectionType.LONG_POLLING.value,),
        *,
        ack: bool = False,
        max_network_delay: float = DEFAULT_MAX_NETWORK_DELAY,
        backoff_first: float = DEFAULT_BACKOFF_FIRST,
        backoff_max: float = DEFAULT_BACKOFF_MAX,
        rng: random.Random | None = None,
    ) -> None:
        if not connection_types:
            raise ValueError("connection_types must name at least one connection type")
        self._types = connection_types
        self._ack_wanted = ack
        self._max_network_delay = max_network_delay
        self._backoff_first = backoff_first
        self._backoff_max = backoff_max
        self._rng = rng if rng is not None else random.Random()
        self._state = ClientState.DISCONNECTED
        self._last_id = 0
        self._replies = 0
        self._events: list[Event] = []
        self._subscriptions: dict[str, None] = {}  # an ordered set
        self._reset_session()

    def _reset_session(self) -> None:
        self._client_id: str | None = None
        self._connection_type: str | None = None
        self._advice = Advice()
        self._ack = False
        self._ack_batch = 0
        self._queue: list[Message] = []
        self._pending: dict[str, PendingRequest] = {}
        self._handshake_due: float | None = None
        self._handshake_id: str | None = None
        self._rehandshake = False
        self._connect_due: float | None = None
        self._connect_id: str | None = None
        self._attempts = 0
        self._outage_started: float | None = None
        self._outage_cause = ""
        self._outage_rehandshake = False

    # -- read-only views ------------------------------------------------------

    @property
    def state(self) -> ClientState:
        return self._state

    @property
    def client_id(self) -> str | None:
        return self._client_id

    @property
    def connection_type(self) -> str | None:
        return self._connection_type

    @property
    def advice(self) -> Advice:
        """The last advice, every field kept from the latest reply that had it."""
        return self._advice

    @property
    def ack_enabled(self) -> bool:
        return self._ack

    @property
    def replies_received(self) -> int:
        """Replies (not deliveries) handled so far. A payload that added none changed
        nothing but deliveries, so a driver may skip its send step after it."""
        return self._replies

    @property
    def subscriptions(self) -> tuple[str, ...]:
        return tuple(self._subscriptions)

    # -- internals ------------------------------------------------------------

    def _move(self, trigger: Trigger) -> bool:
        new = next_state(self._state, trigger)
        if new is None:
            return False
        self._state = new
        return True

    def _new_id(self) -> str:
        self._last_id += 1
        return str(self._last_id)

    def _enqueue(self, message: Message) -> str:
        rid = self._new_id()
        self._queue.append(message.evolve(id=rid))
        return rid

    def _take_events(self) -> list[Event]:
        events, self._events = self._events, []
        return events

    def _backoff(self) -> float:
        """0 for the first failure in a row, then doubling with jitter (50-100 %)."""
        self._attempts += 1
        if self._attempts == 1:
            return 0.0
        ceiling = min(self._backoff_max, self._backoff_first * 2.0 ** (self._attempts - 2))
        return ceiling * (0.5 + 0.5 * self._rng.random())

    def _interval(self) -> float:
        return max(self._advice.interval or 0, 0) / 1000

    def _unconnected(self, now: float, cause: str) -> None:
        if self._outage_started is None:
            self._outage_started = now
            self._outage_cause = cause
