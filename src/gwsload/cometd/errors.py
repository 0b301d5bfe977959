"""Errors of the gevent CometD client.

Exception tree::

    CometdError             a CometD operation failed; the message says which, against
    |                       which server, and why (refused, timed out, transport down)
    +-- TransportError      raised inside transports/ only: a request did not get a
    |                       Bayeux answer (socket error, timeout, HTTP status, bad body);
    |                       ``status`` is the HTTP status when there was one
    +-- CometdSettingError  the caller asked for something the client cannot do (a URL
                            it cannot reach, an unknown transport); also a ValueError

A refusal the server declares (``"successful": false``) surfaces as a
``CometdError`` from the call that caused it (``handshake``, ``subscribe``...).
"""

from __future__ import annotations

__all__ = ["CometdError", "CometdSettingError", "TransportError"]


class CometdError(Exception):
    """A CometD operation failed (refused by the server, timed out, or no transport)."""


class CometdSettingError(CometdError, ValueError):
    """A setting the client cannot use; the message names it and what was expected.

    The library's own error: a command line that passed the setting on reports it
    as bad input (``gwsload.errors.ConfigError`` is the commands' error, not this).
    """


class TransportError(CometdError):
    """A request got no Bayeux answer; ``status`` is the HTTP status if one came."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

    @property
    def refused(self) -> bool:
        """An HTTP 4xx that a retry will not fix (bad credentials, forbidden, not found)."""
        return (
            self.status is not None
            and 400 <= self.status < 500
            and self.status
            not in (
                408,
                429,
            )
        )
