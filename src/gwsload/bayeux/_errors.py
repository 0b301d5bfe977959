"""Errors of the Bayeux core, and the ``code:args:message`` failure strings.

Exception tree::

    BayeuxError                 abstract: something broke the protocol contract
    +-- LocalProtocolError      we misused the machine (a bug in the caller), e.g.
    |                           subscribe() before the handshake; state is unchanged
    +-- RemoteProtocolError     the peer sent something that is not Bayeux (bad JSON,
                                a non-object message, a field of the wrong type);
                                ``hint`` is the failure a server should answer with

A failure that the peer *declares* (``"successful": false, "error": "402::..."``)
is not an exception: it is a :class:`BayeuxFailure` carried by an event, because
the protocol expects it (an expired session, a refused subscription).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "BayeuxError",
    "BayeuxFailure",
    "LocalProtocolError",
    "RemoteProtocolError",
]


class BayeuxError(Exception):
    """Base of the core's exceptions; never raised itself."""

    def __init__(self, message: str) -> None:
        if type(self) is BayeuxError:
            raise TypeError("BayeuxError is abstract; raise a subclass")
        super().__init__(message)


class LocalProtocolError(BayeuxError):
    """The caller asked for something illegal in the current state."""


class RemoteProtocolError(BayeuxError):
    """The peer sent something malformed; ``hint`` is the Bayeux failure to answer."""

    def __init__(self, message: str, hint: BayeuxFailure | None = None) -> None:
        super().__init__(message)
        self.hint = hint if hint is not None else BayeuxFailure(400, (), "bad_request")


_ERROR_RE = re.compile(r"^(\d{3}):([^:]*):(.*)$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class BayeuxFailure:
    """A Bayeux ``error`` string, ``code:args:message`` (spec section 5.12).

    faye fills ``args`` (``401:<clientId>:Unknown client``); CometD leaves them
    empty and uses snake-case messages (``402::session_unknown``). A server may
    also send free text: then ``code`` is None and ``message`` holds the text.
    """

    code: int | None
    args: tuple[str, ...]
    message: str

    @classmethod
    def parse(cls, text: str) -> BayeuxFailure:
        match = _ERROR_RE.match(text)
        if match is None:
            return cls(None, (), text)
        code, args, message = match.groups()
        return cls(int(code), tuple(args.split(",")) if args else (), message)

    def __str__(self) -> str:
        if self.code is None:
            return self.message
        return f"{self.code}:{','.join(self.args)}:{self.message}"


# The failures the server engine answers with (CometD's wording, which its own
# clients and the official JavaScript client know).
SESSION_UNKNOWN = BayeuxFailure(402, (), "session_unknown")
CHANNEL_MISSING = BayeuxFailure(400, (), "channel_missing")
BAD_REQUEST = BayeuxFailure(400, (), "bad_request")
