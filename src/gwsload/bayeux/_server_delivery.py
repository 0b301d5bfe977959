"""How a server session's events leave it: riding on replies, or in acknowledged batches.

Without the acknowledgement extension, queued events ride on any reply of their
session (CometD). With it (handshake ``ext.ack: true``) they go only through
/meta/connect: each connect reply carries ``ext.ack: <batch>``, the next connect
acknowledges a batch, and unacknowledged batches are sent again with the new one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gwsload.bayeux._messages import Advice, Message, MetaChannel
from gwsload.bayeux._server_session import Session

__all__ = ["accept_ack", "connect_reply", "has_deliverable", "take_riders"]


def has_deliverable(session: Session) -> bool:
    """Events a connect reply would carry now (so it is not held)."""
    return bool(session.queue or session.unacked)


def accept_ack(session: Session, request: Message) -> None:
    """Forget the batches a connect request acknowledges."""
    if not session.ack or not isinstance(request.ext, dict):
        return
    acked = request.ext.get("ack")
    if isinstance(acked, int) and not isinstance(acked, bool):
        session.unacked = [(b, events) for b, events in session.unacked if b > acked]


def connect_reply(session: Session, request: Message, advice: Advice) -> list[Message]:
    """The session's deliverable events, then the connect reply."""
    ext: dict[str, Any] | None = None
    if session.ack:
        if session.queue:
            session.batch += 1
            session.unacked.append((session.batch, session.queue))
            session.queue = []
        # unacknowledged batches are sent again with the new one
        events = [e for _, batch in session.unacked for e in batch]
        ext = {"ack": session.batch}
    else:
        events, session.queue = session.queue, []
    reply = Message(MetaChannel.CONNECT, id=request.id, successful=True, advice=advice, ext=ext)
    return [*events, reply]


def take_riders(sessions: Iterable[Session]) -> list[Message]:
    """The queued events of the sessions without acks, to ride on their batch's replies."""
    riders: list[Message] = []
    for session in sessions:
        if not session.ack and session.queue:
            riders.extend(session.queue)
            session.queue = []
    return riders
