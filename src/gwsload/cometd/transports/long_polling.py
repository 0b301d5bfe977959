"""Long-polling over two keep-alive HTTP connections (geventhttpclient).

The held /meta/connect has its own connection and its own greenlet (the
listener), so a publish or subscribe is never stuck behind a 30-second poll;
every other request goes on the second connection, in the caller's greenlet, or,
given ``connections``, on a pool of keep-alive connections that the clients of a
process share (the held connect always has its own). An idle client is one
greenlet blocked on one socket read: no CPU.

Every request carries the custom headers and the shared cookie jar's cookies,
and every response's ``Set-Cookie`` goes back into the jar (CometD servers find
sessions through a ``BAYEUX_BROWSER`` cookie; GWS through ``JSESSIONID``).
A failed exchange drops that lane's connection; the next request opens a new one.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import gevent
import gevent.event
from geventhttpclient import HTTPClient

from gwsload.bayeux import Batch, Lane
from gwsload.cometd.errors import CometdSettingError, TransportError
from gwsload.cometd.transports import keepalive  # noqa: F401  (pooled sockets past fd 1023)
from gwsload.cometd.transports.base import Sink
from gwsload.cometd.transports.shared import ServerKey, SharedConnections
from gwsload.cometd.transports.tls import client_context
from gwsload.cookies import CookieJar

__all__ = ["LongPollingTransport"]

#: the Content-Type the CometD JavaScript client sends
_CONTENT_TYPE = "application/json;charset=UTF-8"


class LongPollingTransport:
    connection_type = "long-polling"

    def __init__(
        self,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        cookies: CookieJar | None = None,
        verify_tls: bool = True,
        ca_file: str | None = None,
        connect_timeout: float = 10.0,
        connections: SharedConnections | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise CometdSettingError(
                f"long-polling URL must be http:// or https://host/path, got {url!r}"
            )
        self._url = url
        self._host = parts.hostname
        self._tls = parts.scheme == "https"
        self._port = parts.port or (443 if self._tls else 80)
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._headers = {"Content-Type": _CONTENT_TYPE, **(headers or {})}
        self._cookies = cookies if cookies is not None else CookieJar()
        self._verify_tls = verify_tls
        self._ca_file = ca_file
        self._connect_timeout = connect_timeout
        self._connections = connections
        self._clients: dict[Lane, tuple[HTTPClient, float]] = {}
        self._sink: Sink | None = None
        self._held: tuple[Batch, float] | None = None
        self._wake = gevent.event.Event()
        self._listener: gevent.Greenlet[[], None] | None = None
        self._closed = False

    def start(self, sink: Sink) -> None:
        self._sink = sink

    def send(self, batch: Batch, timeout: float) -> None:
        assert self._sink is not None, "start() first"
        if self._closed:
            self._sink.on_failure(TransportError(f"POST {self._url}: transport closed"), batch)
            return
        if batch.lane is Lane.CONNECT:
            self._held = (batch, timeout)
            if self._listener is None or self._listener.dead:
                self._listener = gevent.spawn(self._listen)
            else:
                self._wake.set()
            return
        try:
            body = self._exchange(Lane.IMMEDIATE, batch.payload, timeout)
        except TransportError as exc:
            self._sink.on_failure(exc, batch)
            return
        self._sink.on_payload(body, batch)

    def _listen(self) -> None:
        """The connect lane: one held /meta/connect at a time, forever."""
        sink = self._sink
        assert sink is not None
        while not self._closed:
            item = self._held
            if item is None:
                self._wake.clear()
                self._wake.wait()
                continue
            self._held = None
            batch, timeout = item
            try:
                body = self._exchange(Lane.CONNECT, batch.payload, timeout)
            except TransportError as exc:
                if not self._closed:
                    sink.on_failure(exc, batch)
                continue
            if not self._closed:
                sink.on_payload(body, batch)

    def _client(self, lane: Lane, timeout: float) -> HTTPClient:
        current = self._clients.get(lane)
        if current is not None and current[1] >= timeout:
            return current[0]
        if current is not None:
            current[0].close()
        client = HTTPClient(
            self._host,
            self._port,
            ssl=self._tls,
            ssl_context_factory=self._tls_context if self._tls else None,
            insecure=self._tls and not self._verify_tls,
            connection_timeout=self._connect_timeout,
            network_timeout=timeout,
            concurrency=1,
            headers=self._headers,
        )
        self._clients[lane] = (client, timeout)
        return client

    def _tls_context(self, **_: Any) -> Any:
        return client_context(verify=self._verify_tls, ca_file=self._ca_file)

    def _drop(self, lane: Lane) -> None:
        current = self._clients.pop(lane, None)
        if current is not None:
            current[0].close()

    def _exchange(self, lane: Lane, payload: str, timeout: float) -> bytes:
        if lane is not Lane.CONNECT and self._connections is not None:
            return self._shared_exchange(payload, timeout)
        client = self._client(lane, timeout)
        cookie = self._cookies.header()
        try:
            response = client.post(
                self._path, body=payload, headers={"Cookie": cookie} if cookie else None
            )
            body = response.read()
            status = response.status_code
            set_cookies = response.info().getlist("set-cookie")
        except Exception as exc:  # socket, TLS and HTTP parse errors all mean "no answer"
            self._drop(lane)
            raise TransportError(f"POST {self._url}: {type(exc).__name__}: {exc}") from exc
        return self._answer(body, status, set_cookies)

    def _shared_exchange(self, payload: str, timeout: float) -> bytes:
        assert self._connections is not None
        key = ServerKey(
            self._host, self._port, self._tls, self._verify_tls, self._ca_file,
            self._connect_timeout, timeout,
        )  # fmt: skip
        headers = dict(self._headers)  # this client's identity travels with the request
        cookie = self._cookies.header()
        if cookie:
            headers["Cookie"] = cookie
        try:
            with self._connections.client(key).slot() as client:
                response = client.post(self._path, body=payload, headers=headers)
                try:
                    body = response.read()
                    status = response.status_code
                    set_cookies = response.info().getlist("set-cookie")
                finally:
                    response.release()
        except Exception as exc:  # the pool drops a failed connection by itself
            raise TransportError(f"POST {self._url}: {type(exc).__name__}: {exc}") from exc
        return self._answer(body, status, set_cookies)

    def _answer(self, body: bytes, status: int, set_cookies: list[str]) -> bytes:
        if set_cookies:
            self._cookies.update(set_cookies)
        if status != 200:
            excerpt = body[:120].decode("utf-8", "replace").strip()
            raise TransportError(
                f"POST {self._url}: HTTP {status}" + (f": {excerpt}" if excerpt else ""), status
            )
        return body

    def reset(self) -> None:
        for lane in list(self._clients):
            self._drop(lane)

    def close(self) -> None:
        self._closed = True
        listener, self._listener = self._listener, None
        if listener is not None and listener is not gevent.getcurrent():
            listener.kill(block=False)  # (closed from a callback, it just ends its loop)
        self.reset()
