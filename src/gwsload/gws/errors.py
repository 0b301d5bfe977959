"""GWS API errors: every non-zero ``statusCode`` becomes a :class:`GwsApiError`.

GWS answers each request with a JSON body holding ``statusCode`` (0 = success) and,
on error, ``statusMessage``; the meanings are the run-folder contract's
(:mod:`gwsload.contract.status`).
"""

from __future__ import annotations

from gwsload.contract.status import STATUS_MEANINGS, status_meaning

__all__ = [
    "STATUS_MEANINGS",
    "GwsApiError",
    "GwsError",
    "GwsSettingError",
    "GwsTransportError",
    "status_meaning",
]


class GwsError(Exception):
    """The root of the GWS client's errors: catch this for "the agent's GWS side failed"."""


class GwsSettingError(GwsError, ValueError):
    """A setting the client cannot use (a target URL, a transport name); the message
    names it and what was expected. The library's own error: a command that passed the
    setting on reports it as bad input (``gwsload.errors.ConfigError`` is the
    commands' error, not this)."""


class GwsApiError(GwsError):
    """GWS refused an operation: a non-zero ``statusCode`` or a non-2xx HTTP status.

    Attributes:
        status_code: the GWS ``statusCode`` (-1 when the body had none).
        meaning: the documented meaning of ``status_code``.
        http_status: the HTTP status of the response.
        operation: what was attempted, e.g. ``StartCallRecording`` or ``GET /api/v2/me``.
        message: the server's ``statusMessage`` (or a short excerpt of a non-JSON body).
    """

    def __init__(
        self,
        status_code: int,
        http_status: int,
        operation: str,
        message: str = "",
        meaning: str | None = None,
    ) -> None:
        self.status_code = status_code
        self.meaning = meaning if meaning is not None else status_meaning(status_code)
        self.http_status = http_status
        self.operation = operation
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        text = (
            f"{self.operation} failed: statusCode {self.status_code} ({self.meaning}), "
            f"HTTP {self.http_status}"
        )
        return f"{text}: {self.message}" if self.message else text

    def __reduce__(self) -> tuple[object, ...]:
        # keeps the error picklable (Locust ships exceptions between processes)
        return (
            type(self),
            (self.status_code, self.http_status, self.operation, self.message, self.meaning),
        )


class GwsTransportError(GwsError):
    """No HTTP response at all: connection refused or reset, TLS failure, or timeout."""

    def __init__(self, operation: str, detail: str) -> None:
        self.operation = operation
        self.detail = detail
        super().__init__(f"{operation}: no response ({detail})")

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.operation, self.detail))
