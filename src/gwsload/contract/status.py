"""What a GWS ``statusCode`` means.

GWS answers each request with a JSON body holding ``statusCode`` (0 = success) and,
on error, ``statusMessage``. The meanings of codes 0-20 are the ones GWS 8.5/8.6
documents (Return Values page); a code outside that list is reported as unknown
rather than rejected, since newer servers may add codes. The agents' error lines and
the report's outcome table both word a code with :func:`status_meaning`.
"""

from __future__ import annotations

__all__ = [
    "NO_STATUS_CODE",
    "RETRY_AFTER",
    "STATUS_MEANINGS",
    "THROTTLE_HTTP_STATUSES",
    "is_throttled",
    "status_meaning",
    "throttle_note",
]

#: ``status_code`` of a response whose body held no statusCode
NO_STATUS_CODE = -1

#: GWS ``statusCode`` -> its documented meaning
STATUS_MEANINGS: dict[int, str] = {
    0: "success",
    1: "required parameter missing",
    2: "parameter not valid for the current state",
    3: "operation forbidden",
    4: "internal error",
    5: "user lacks permission",
    6: "resource not found",
    7: "partial success",
    8: "change password demanded",
    9: "processing incomplete",
    10: "input validation failed (out of range)",
    11: "tried to change a read-only property",
    12: "unable to retrieve",
    13: "unable to create",
    14: "unable to delete",
    15: "unable to update",
    16: "unable to assign",
    17: "unable to unassign",
    18: "resource already exists",
    19: "resource already in use",
    20: "user not authenticated",
}


def status_meaning(status_code: int) -> str:
    """The documented meaning of a ``statusCode`` ('unknown status code' if not listed)."""
    if status_code == NO_STATUS_CODE:
        return "no statusCode in the response"
    return STATUS_MEANINGS.get(status_code, "unknown status code")


#: what a throttling server answers (Jetty's DoSFilter in front of GWS), with a
#: ``Retry-After`` header: the client waits that long before its next request
THROTTLE_HTTP_STATUSES = (429, 503)
#: the header, and how a row's error text says the server sent it
RETRY_AFTER = "Retry-After"


def throttle_note(http_status: int, retry_after_s: float | None) -> str:
    """What an error text adds for a throttled answer (``; Retry-After 1 s``), else ''."""
    if retry_after_s is None or http_status not in THROTTLE_HTTP_STATUSES:
        return ""
    return f"; {RETRY_AFTER} {retry_after_s:g} s"


def is_throttled(http_status: int, error: str) -> bool:
    """A row (events or sessions) the server throttled: HTTP 429 or 503 whose error text
    carries :func:`throttle_note` (a 503 without Retry-After is an outage, not this)."""
    return http_status in THROTTLE_HTTP_STATUSES and f"; {RETRY_AFTER} " in error
