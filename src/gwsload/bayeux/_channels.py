"""Channel names and wildcard matching.

Names are ``/seg/seg``. A wildcard goes only at the end: ``/foo/*`` matches one
more segment, ``/foo/**`` any number (at least one). A server finds the
subscribers of a published channel by looking up the few patterns that can
match it (:func:`patterns_matching`), so matching costs O(depth), not
O(subscriptions).
"""

from __future__ import annotations

import re

__all__ = [
    "channel_matches",
    "is_meta",
    "is_service",
    "is_valid_channel",
    "is_wildcard",
    "patterns_matching",
]

# Bayeux allows alphanumerics and a set of marks in segments; be lenient on
# marks, strict on structure (no empty segments, '*' only as a whole last segment)
_SEGMENT = r"[^/*\s]+"
_CHANNEL_RE = re.compile(rf"^(/{_SEGMENT})+(/\*\*?)?$|^/\*\*?$")


def is_valid_channel(name: str) -> bool:
    return bool(_CHANNEL_RE.match(name))


def is_meta(name: str) -> bool:
    return name.startswith("/meta/")


def is_service(name: str) -> bool:
    return name.startswith("/service/")


def is_wildcard(name: str) -> bool:
    return name.endswith("/*") or name.endswith("/**")


def patterns_matching(channel: str) -> tuple[str, ...]:
    """Every subscription pattern that matches ``channel``, the channel first.

    ``/v2/me/calls`` -> ``/v2/me/calls``, ``/v2/me/*``, ``/v2/me/**``,
    ``/v2/**``, ``/**``.
    """
    segments = channel.split("/")[1:]
    patterns = [channel]
    parent = "/" + "/".join(segments[:-1]) if len(segments) > 1 else ""
    patterns.append(f"{parent}/*")
    for depth in range(len(segments) - 1, -1, -1):
        prefix = "/" + "/".join(segments[:depth]) if depth else ""
        patterns.append(f"{prefix}/**")
    return tuple(patterns)


def channel_matches(pattern: str, channel: str) -> bool:
    """Whether a subscription ``pattern`` (maybe a wildcard) matches ``channel``."""
    return pattern in patterns_matching(channel)
