"""The server engine's session registry: who exists, whose they are, who listens where, when
each expires.

Bookkeeping only, kept apart from the rules in :mod:`gwsload.bayeux._server`: the
sessions by client id, by owner and by subscribed channel, and the expiry heap in
which each session has one live entry (older ones are stale and skipped), so a
sweep costs O(expired + stale entries x log n), not a scan of every session.
"""

from __future__ import annotations

import heapq

from gwsload.bayeux._channels import patterns_matching
from gwsload.bayeux._errors import LocalProtocolError
from gwsload.bayeux._server_session import Session

__all__ = ["SessionRegistry"]


class SessionRegistry:
    """The sessions of one engine, indexed by client id, owner, channel and expiry."""

    def __init__(self) -> None:
        self._sessions: dict[str, Session] = {}
        self._by_owner: dict[object, set[str]] = {}
        self._subscribers: dict[str, set[str]] = {}
        self._expiries: list[tuple[float, str]] = []

    def __len__(self) -> int:
        return len(self._sessions)

    def __contains__(self, client_id: object) -> bool:
        return client_id in self._sessions

    def get(self, client_id: str) -> Session | None:
        return self._sessions.get(client_id)

    def get_or_raise(self, client_id: str) -> Session:
        session = self._sessions.get(client_id)
        if session is None:
            raise LocalProtocolError(f"no session {client_id!r}")
        return session

    def of_owner(self, client_id: str | None, owner: object) -> Session | None:
        """The session, if it exists and is ``owner``'s (a session answers to no one else)."""
        session = self._sessions.get(client_id) if client_id is not None else None
        return session if session is not None and session.owner == owner else None

    def client_ids(self) -> list[str]:
        return sorted(self._sessions)

    def owned_by(self, owner: object) -> list[str]:
        """The client ids bound to ``owner``, sorted."""
        return sorted(self._by_owner.get(owner, ()))

    def add(self, session: Session) -> None:
        self._sessions[session.client_id] = session
        self._by_owner.setdefault(session.owner, set()).add(session.client_id)
        self._push_entry(session, session.expires_at)

    def remove(self, session: Session) -> None:
        self._sessions.pop(session.client_id, None)
        owned = self._by_owner.get(session.owner)
        if owned is not None:
            owned.discard(session.client_id)
            if not owned:
                del self._by_owner[session.owner]
        for name in session.subscriptions:
            self._forget_subscriber(name, session.client_id)
        session.hold = None

    # -- subscriptions

    def subscribe(self, session: Session, name: str) -> None:
        session.subscriptions.add(name)
        self._subscribers.setdefault(name, set()).add(session.client_id)

    def unsubscribe(self, session: Session, name: str) -> None:
        if name in session.subscriptions:
            session.subscriptions.discard(name)
            self._forget_subscriber(name, session.client_id)

    def subscribed_sessions(self, channel: str) -> set[str]:
        """The client ids subscribed to a pattern matching ``channel``."""
        recipients: set[str] = set()
        for pattern in patterns_matching(channel):
            subscribers = self._subscribers.get(pattern)
            if subscribers:
                recipients |= subscribers
        return recipients

    def _forget_subscriber(self, name: str, client_id: str) -> None:
        subscribers = self._subscribers.get(name)
        if subscribers is not None:
            subscribers.discard(client_id)
            if not subscribers:
                del self._subscribers[name]

    # -- expiry

    def touch(self, session: Session, expires_at: float, *, lower: bool = False) -> None:
        """Move the expiry later (or, with ``lower``, set it) keeping one live heap entry."""
        if lower or expires_at > session.expires_at:
            session.expires_at = expires_at
        if session.expires_at < session.entry_at:
            self._push_entry(session, session.expires_at)

    def next_expiry(self) -> float | None:
        return self._expiries[0][0] if self._expiries else None

    def sweep(self, now: float) -> list[str]:
        """Remove the sessions whose expiry passed; return their client ids."""
        expired: list[str] = []
        heap = self._expiries
        while heap and heap[0][0] <= now:
            at, client_id = heapq.heappop(heap)
            session = self._sessions.get(client_id)
            if session is None or session.entry_at != at:
                continue  # stale entry
            if session.expires_at <= now:
                self.remove(session)
                expired.append(client_id)
            else:
                session.entry_at = session.expires_at
                heapq.heappush(heap, (session.expires_at, client_id))
        return expired

    def _push_entry(self, session: Session, at: float) -> None:
        session.entry_at = at
        heapq.heappush(self._expiries, (at, session.client_id))
