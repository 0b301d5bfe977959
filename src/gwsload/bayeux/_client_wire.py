"""Client-side reading of server payloads: the delivery fast path, and failure kinds.

Deliveries are most of what a client receives, so they stay the parsed JSON
dicts (no ``Message`` is built for them); everything else goes through the
codec. A payload is checked whole before anything in it is handled.
"""

from __future__ import annotations

import json

from gwsload.bayeux._client_events import Delivery
from gwsload.bayeux._codec import message_from_wire
from gwsload.bayeux._errors import BayeuxFailure, RemoteProtocolError
from gwsload.bayeux._messages import Message

__all__ = ["is_session_unknown", "parse_payload"]


def is_session_unknown(failure: BayeuxFailure) -> bool:
    """``402::session_unknown`` (CometD) or ``401:<id>:Unknown client`` (faye)."""
    text = failure.message.lower()
    return failure.code in (401, 402) and ("unknown" in text or "session" in text)


def parse_payload(payload: str | bytes) -> list[Delivery | Message]:
    """Deliveries stay plain dicts (the hot path); replies become ``Message`` s."""
    try:
        parsed = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise RemoteProtocolError(f"payload is not JSON: {exc}") from None
    if isinstance(parsed, dict):
        parsed = [parsed]
    elif not isinstance(parsed, list):
        raise RemoteProtocolError(
            f"payload must be a JSON array of messages, got {type(parsed).__name__}"
        )
    items: list[Delivery | Message] = []
    for index, item in enumerate(parsed):
        if type(item) is dict and "successful" not in item:
            channel = item.get("channel")
            if type(channel) is str and not channel.startswith("/meta/"):
                items.append(Delivery(channel, item))
                continue
        items.append(message_from_wire(item, index))
    return items
