"""What a GWS ``statusCode`` means.

GWS answers each request with a JSON body holding ``statusCode`` (0 = success) and,
on error, ``statusMessage``. The meanings of codes 0-20 are the ones GWS 8.5/8.6
documents (Return Values page); a code outside that list is reported as unknown
rather than rejected, since newer servers may add codes. The agents' error lines and
the report's outcome table both word a code with :func:`status_meaning`.
"""

from __future__ import annotations

__all__ = ["NO_STATUS_CODE", "STATUS_MEANINGS", "status_meaning"]

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
