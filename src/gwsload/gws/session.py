"""One agent's HTTP session with GWS (gevent, geventhttpclient).

What GWS needs from a client: HTTP Basic auth and ``Origin`` on every request, the
``JSESSIONID`` cookie (kept in a :class:`~gwsload.cookies.CookieJar` shared with the
agent's CometD client), and the CSRF header learned from GET responses sent back on
every POST/PUT/DELETE. TLS certificates are verified unless ``verify_tls=False``.

One keep-alive connection per session (``concurrency=1``), or, given
``connections``, a turn on a pool of keep-alive connections that the sessions of a
process share (:mod:`gwsload.cometd.transports.shared`: about one socket per agent
instead of three). Either way each request is a single write plus read on a warm
socket.
``t_sent`` / ``t_response`` are ``time.perf_counter()`` stamps taken right before the
write (after any wait for a pooled connection) and right after the last byte was
read, for callers (e.g. Locust users) that report the latency themselves.
"""

from __future__ import annotations

import http.client
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from geventhttpclient import HTTPClient

from gwsload.cometd.transports.shared import ServerKey, SharedClient, SharedConnections
from gwsload.cometd.transports.tls import client_context
from gwsload.contract.status import throttle_note
from gwsload.cookies import CookieJar
from gwsload.gws.errors import GwsTransportError, status_meaning
from gwsload.gws.protocol import (
    CSRF_METHODS,
    NODE_HEADER,
    NOTIFICATIONS_PATH,
    CsrfToken,
    basic_authorization,
    check_status,
    learn_csrf,
    parse_base_url,
    parse_body,
    retry_after_seconds,
)

__all__ = ["GwsSession", "Response"]


@dataclass(frozen=True, slots=True)
class Response:
    """One GWS response; ``body`` is the parsed JSON object ({} when not JSON)."""

    operation: str
    http_status: int
    body: dict[str, Any]
    excerpt: str  # start of a non-JSON body, for error messages
    t_sent: float
    t_response: float
    #: the node that answered (``X-Gwsload-Node``, as the simulator's cluster names it)
    node: str = ""
    #: ``Retry-After`` in seconds, when the server asked to wait (throttling)
    retry_after_s: float | None = None

    @property
    def status_code(self) -> int:
        """GWS ``statusCode`` (-1 when the body has none)."""
        code = self.body.get("statusCode")
        return code if isinstance(code, int) else -1

    @property
    def ok(self) -> bool:
        return 200 <= self.http_status < 300 and self.status_code == 0

    @property
    def response_ms(self) -> float:
        return (self.t_response - self.t_sent) * 1000.0

    def error_text(self) -> str:
        """Short error text for rows and logs ('' when ok)."""
        if self.ok:
            return ""
        message = self.body.get("statusMessage")
        detail = message if isinstance(message, str) else self.excerpt
        code = self.status_code
        text = f"HTTP {self.http_status} statusCode {code} ({status_meaning(code)})"
        note = throttle_note(self.http_status, self.retry_after_s)
        return (f"{text}: {detail}" if detail else text)[: 200 - len(note)] + note

    def raise_for_status(self) -> Response:
        """Raise :class:`~gwsload.gws.errors.GwsApiError` unless ok; returns self."""
        check_status(self.operation, self.http_status, self.body, self.excerpt)
        return self


def _context_factory(*, verify: bool, ca_file: str | None) -> Callable[..., ssl.SSLContext]:
    # geventhttpclient's default factory is the stdlib's create_default_context: in
    # a process that is not monkey-patched its sockets block the whole hub.
    def factory(cafile: str | None = None, **_: Any) -> ssl.SSLContext:
        return client_context(verify=verify, ca_file=cafile or ca_file)

    return factory


class GwsSession:
    """HTTP session of one GWS user.

    Args:
        base_url: the GWS server, e.g. ``https://gws.example:8443`` (paths are absolute).
        user, password: Basic-auth credentials.
        origin: ``Origin`` header value; default: the server's own origin.
        cookies: the jar to share with the CometD client (a new one by default).
        verify_tls: verify certificates and host names (turn off only for lab systems).
        ca_file: extra CA bundle to trust (e.g. a lab CA) when verifying.
        connect_timeout, network_timeout: seconds; a timeout is a transport error.
        connections: the process's shared connection pools; None: a connection of
            this session's own.

    Raises:
        GwsSettingError: ``base_url`` is not an http(s) URL.
    """

    def __init__(
        self,
        base_url: str,
        user: str,
        password: str,
        *,
        origin: str | None = None,
        cookies: CookieJar | None = None,
        verify_tls: bool = True,
        ca_file: str | None = None,
        connect_timeout: float = 5.0,
        network_timeout: float = 30.0,
        connections: SharedConnections | None = None,
    ) -> None:
        self.base = parse_base_url(base_url)
        self.user = user
        self.origin = origin or self.base.origin
        self.cookies = cookies if cookies is not None else CookieJar()
        self.verify_tls = verify_tls
        self.csrf: CsrfToken | None = None
        self._closed = False
        self._authorization = basic_authorization(user, password)
        tls = self.base.scheme == "https"
        self._shared: SharedClient | None = None
        if connections is not None:
            key = ServerKey(
                self.base.host, self.base.port, tls, verify_tls, ca_file,
                connect_timeout, network_timeout,
            )  # fmt: skip
            self._shared = connections.client(key)
            self._client = self._shared.http
            return
        factory = _context_factory(verify=verify_tls, ca_file=ca_file) if tls else None
        self._client = HTTPClient(
            self.base.host,
            port=self.base.port,
            ssl=tls,
            ssl_options={"ca_certs": ca_file} if tls and ca_file else None,
            ssl_context_factory=factory,
            insecure=tls and not verify_tls,
            connection_timeout=connect_timeout,
            network_timeout=network_timeout,
            concurrency=1,
            headers={"User-Agent": "gwsload"},
        )

    @property
    def notifications_url(self) -> str:
        """The CometD endpoint of this server."""
        return self.base.url(NOTIFICATIONS_PATH)

    def auth_headers(self) -> dict[str, str]:
        """Headers the CometD client must send too (Basic auth and Origin)."""
        return {"Authorization": self._authorization, "Origin": self.origin}

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        *,
        operation: str | None = None,
    ) -> Response:
        """Send one request and read the whole response; never raises for HTTP or GWS
        errors (see :meth:`Response.raise_for_status`).

        Raises:
            GwsTransportError: no response (refused, reset, TLS failure, timeout).
        """
        method = method.upper()
        name = operation or f"{method} {path.split('?', 1)[0]}"
        if self._closed:
            raise GwsTransportError(name, "session closed")
        headers = self.auth_headers()
        cookie = self.cookies.header()
        if cookie:
            headers["Cookie"] = cookie
        if body is not None:
            headers["Content-Type"] = "application/json"
        if self.csrf is not None and method in CSRF_METHODS:
            headers[self.csrf.header] = self.csrf.token
        with self._connection() as client:
            t_sent = time.perf_counter()
            try:
                raw_response = client.request(method, path, body=body, headers=headers)
                try:
                    raw = raw_response.read()
                finally:
                    raw_response.release()
            except (OSError, http.client.HTTPException) as exc:
                raise GwsTransportError(name, f"{type(exc).__name__}: {exc}") from exc
            t_response = time.perf_counter()
        header_items = list(raw_response.items())
        set_cookies = [v for k, v in header_items if k.lower() == "set-cookie"]
        if set_cookies:
            self.cookies.update(set_cookies)
        token = learn_csrf(header_items)
        if token is not None:
            self.csrf = token
        parsed, excerpt = parse_body(raw)
        node = ""
        retry_after_s = None
        for key, value in header_items:
            lower = key.lower()
            if lower == NODE_HEADER:
                node = value.strip()
            elif lower == "retry-after":
                retry_after_s = retry_after_seconds(value)
        return Response(
            name, raw_response.status_code, parsed, excerpt, t_sent, t_response, node,
            retry_after_s,
        )  # fmt: skip

    @contextmanager
    def _connection(self) -> Iterator[HTTPClient]:
        if self._shared is None:
            yield self._client
        else:
            with self._shared.slot() as client:
                yield client

    def get(self, path: str, *, operation: str | None = None) -> Response:
        return self.request("GET", path, operation=operation)

    def post(self, path: str, body: bytes, *, operation: str | None = None) -> Response:
        return self.request("POST", path, body, operation=operation)

    def close(self) -> None:
        """Close the connection; requests after this raise GwsTransportError."""
        self._closed = True
        if self._shared is None:  # a shared pool outlives its sessions
            self._client.close()

    def __enter__(self) -> GwsSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"GwsSession({self.base.origin!r}, user={self.user!r})"
