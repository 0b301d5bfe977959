"""Encoding replies for the wire without ever failing a whole response.

The codec refuses NaN and infinities (they are not JSON), but Python's JSON
parser accepts them in a client's publish; such a message is dropped from the
reply instead of turning every later response of its subscribers into an error.
"""

from __future__ import annotations

from collections.abc import Sequence

from gwsload.bayeux import Message, encode

__all__ = ["encode_replies"]


def encode_replies(messages: Sequence[Message]) -> str:
    """A JSON array of ``messages``, leaving out any that cannot be encoded."""
    try:
        return encode(messages)
    except (ValueError, TypeError):
        return encode([m for m in messages if _encodable(m)])


def _encodable(message: Message) -> bool:
    try:
        encode([message])
    except (ValueError, TypeError):
        return False
    return True
