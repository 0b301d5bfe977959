"""GWS v2 wire facts as pure functions: paths, request bodies, response parsing, CSRF.

No I/O here, so every rule is unit-tested without a network (the gevent session in
:mod:`gwsload.gws.session` only moves bytes).
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard
from urllib.parse import quote, urlsplit

from gwsload.gws.errors import GwsApiError, GwsSettingError

__all__ = [
    "CALLS_PATH",
    "ME_PATH",
    "NODE_HEADER",
    "NOTIFICATIONS_PATH",
    "VOICE_CHANNEL_PATH",
    "BaseUrl",
    "CsrfToken",
    "basic_authorization",
    "call_path",
    "check_status",
    "dial_path",
    "is_csrf_refusal",
    "learn_csrf",
    "operation_body",
    "parse_base_url",
    "parse_body",
    "retry_after_seconds",
    "server_stamp",
]

ME_PATH = "/api/v2/me"
CALLS_PATH = "/api/v2/me/calls"
VOICE_CHANNEL_PATH = "/api/v2/me/channels/voice"
NOTIFICATIONS_PATH = "/api/v2/notifications"

#: methods that change state and so must carry the CSRF header
CSRF_METHODS = frozenset({"POST", "PUT", "DELETE", "PATCH"})


@dataclass(frozen=True, slots=True)
class BaseUrl:
    """The server part of a GWS URL: ``scheme://host:port``."""

    scheme: str
    host: str
    port: int

    @property
    def origin(self) -> str:
        """The browser-style ``Origin`` of this server (default ports left out)."""
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}" + ("" if self.port == default else f":{self.port}")

    def url(self, path: str) -> str:
        return self.origin + path


def parse_base_url(url: str) -> BaseUrl:
    """Check and split a target URL such as ``https://gws.example:8443``.

    Raises:
        GwsSettingError: not an http(s) URL with a host.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise GwsSettingError(f"target URL must look like http(s)://host[:port], got {url!r}")
    try:
        port = parts.port
    except ValueError:
        raise GwsSettingError(f"target URL has an invalid port: {url!r}") from None
    if port is None:
        port = 443 if parts.scheme == "https" else 80
    return BaseUrl(parts.scheme, parts.hostname, port)


def basic_authorization(user: str, password: str) -> str:
    """The ``Authorization`` header value for HTTP Basic auth (UTF-8 credentials)."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def call_path(call_id: str) -> str:
    return f"{CALLS_PATH}/{quote(call_id, safe='')}"


def dial_path(device_id: str) -> str:
    return f"{ME_PATH}/devices/{quote(device_id, safe='')}/calls"


def operation_body(operation: str, **params: Any) -> bytes:
    """A GWS operation request body: ``{"operationName": ..., **params}`` as JSON."""
    return json.dumps({"operationName": operation, **params}, separators=(",", ":")).encode()


def parse_body(raw: bytes) -> tuple[dict[str, Any], str]:
    """Parse a response body. Returns (the JSON object or {}, a short text excerpt
    for error messages when the body is not a JSON object, else '')."""
    if not raw:
        return {}, ""
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return {}, raw[:200].decode("utf-8", "replace").strip()
    if isinstance(value, dict):
        return value, ""
    return {}, raw[:200].decode("utf-8", "replace").strip()


def check_status(
    operation: str, http_status: int, body: Mapping[str, Any], excerpt: str = ""
) -> None:
    """Raise :class:`GwsApiError` unless HTTP 2xx with ``statusCode`` 0."""
    raw_code = body.get("statusCode")
    status_code = raw_code if isinstance(raw_code, int) else -1
    if 200 <= http_status < 300 and status_code == 0:
        return
    message = body.get("statusMessage")
    text = message if isinstance(message, str) else excerpt
    raise GwsApiError(status_code, http_status, operation, text)


@dataclass(frozen=True, slots=True)
class CsrfToken:
    """The CSRF header GWS asks for: ``X-CSRF-HEADER`` names it, ``X-CSRF-TOKEN`` is
    its value (GWS sends both on responses to GETs when CSRF protection is on)."""

    header: str
    token: str


def learn_csrf(headers: Iterable[tuple[str, str]]) -> CsrfToken | None:
    """The CSRF token announced by a response, or None when it announces none."""
    name: str | None = None
    token: str | None = None
    for key, value in headers:
        lower = key.lower()
        if lower == "x-csrf-header":
            name = value.strip()
        elif lower == "x-csrf-token":
            token = value.strip()
    if token is None:
        return None
    return CsrfToken(header=name or "X-CSRF-TOKEN", token=token)


def is_csrf_refusal(http_status: int, body: Mapping[str, Any], excerpt: str = "") -> bool:
    """GWS refused a request for a missing or stale CSRF token (HTTP 403, "Missing or
    invalid Csrf token")."""
    if http_status != 403:
        return False
    message = body.get("statusMessage")
    text = message if isinstance(message, str) else excerpt
    return "csrf" in text.lower()


def server_stamp(message: Mapping[str, Any]) -> tuple[float | None, int | None]:
    """When the server generated a notification (UNIX s) and its sequence number.

    The time is GWS's own, ``data.metrics.eventProcessing.serverGenerationTimestamp``
    (UNIX milliseconds, as in the GWS 8.5.2 notification samples), so it is read from
    any GWS that sends it. The sequence number is the simulator's, in the Bayeux
    ``ext`` as ``{"gwsload": {"seq"}}``. Either is None when absent or malformed.
    """
    data = message.get("data")
    metrics = data.get("metrics") if isinstance(data, Mapping) else None
    processing = metrics.get("eventProcessing") if isinstance(metrics, Mapping) else None
    generated = (
        processing.get("serverGenerationTimestamp") if isinstance(processing, Mapping) else None
    )
    ext = message.get("ext")
    stamp = ext.get("gwsload") if isinstance(ext, Mapping) else None
    seq = stamp.get("seq") if isinstance(stamp, Mapping) else None
    return (
        generated / 1000.0 if _is_number(generated) and generated > 0 else None,
        seq if isinstance(seq, int) and not isinstance(seq, bool) else None,
    )


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


#: the response header naming the server node that answered (the simulator's cluster)
NODE_HEADER = "x-gwsload-node"


def retry_after_seconds(value: str) -> float | None:
    """``Retry-After`` as seconds (its delay-seconds form; an HTTP date or junk: None)."""
    text = value.strip()
    return float(text) if text.isdigit() else None
