"""HTTP sessions (``JSESSIONID``) bound to a GWS user, each with its CSRF token.

A client that does not keep cookies opens a new session on every request; the store
keeps only the newest few per user so such a client cannot grow memory without bound.
"""

from __future__ import annotations

import secrets
import uuid
from collections import OrderedDict
from dataclasses import dataclass

__all__ = ["HttpSession", "SessionStore"]

#: sessions kept per user; older ones are forgotten (their cookie stops working)
MAX_SESSIONS_PER_USER = 8


@dataclass(frozen=True, slots=True)
class HttpSession:
    id: str
    user_id: str
    csrf_token: str


class SessionStore:
    def __init__(self) -> None:
        self._sessions: dict[str, HttpSession] = {}
        self._by_user: dict[str, OrderedDict[str, None]] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    def get(self, session_id: str | None) -> HttpSession | None:
        return self._sessions.get(session_id) if session_id else None

    def create(self, user_id: str) -> HttpSession:
        # Tomcat-style id: 32 upper-case hex characters
        session = HttpSession(secrets.token_hex(16).upper(), user_id, str(uuid.uuid4()))
        self._sessions[session.id] = session
        owned = self._by_user.setdefault(user_id, OrderedDict())
        owned[session.id] = None
        while len(owned) > MAX_SESSIONS_PER_USER:
            oldest, _ = owned.popitem(last=False)
            self._sessions.pop(oldest, None)
        return session

    def invalidate(self, session_id: str) -> None:
        session = self._sessions.pop(session_id, None)
        if session is not None:
            self._by_user.get(session.user_id, OrderedDict()).pop(session_id, None)
