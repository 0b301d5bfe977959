"""Websocket transport (websocket-client over a gevent socket): one frame, one JSON array.

The socket is a gevent socket handed to websocket-client, so the client is
cooperative without monkey-patching. One reader greenlet per connection feeds
every frame to the sink; sends happen in the caller's greenlet. The upgrade
request carries the custom headers (``Origin`` included) and the cookie jar.

websocket-client keeps a process-wide cookie jar per host and adds its cookies
to every later upgrade, which would mix the identities of the many agents of a
load run; it is replaced, once, by one that stores nothing. Cookies travel
only through the :class:`~gwsload.cookies.CookieJar` given to each client.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import gevent
import gevent.lock
import gevent.socket
import websocket
import websocket._handshake

from gwsload.bayeux import Batch
from gwsload.cometd.errors import CometdSettingError, TransportError
from gwsload.cometd.transports.base import Sink
from gwsload.cometd.transports.tls import client_context
from gwsload.cookies import CookieJar

__all__ = ["WebSocketTransport"]


class _NoCookies:
    """Stands in for websocket-client's process-wide jar: stores nothing."""

    def add(self, set_cookie: str | None) -> None:
        return None

    def set(self, set_cookie: str | None) -> None:
        return None

    def get(self, host: str) -> str:
        return ""


websocket._handshake.CookieJar = _NoCookies()  # type: ignore[assignment]

#: upgrade answers that mean "no websocket here" (not a missing login or a broken node)
_NO_WEBSOCKET_STATUSES = frozenset({400, 404, 405, 426, 501})


class WebSocketTransport:
    connection_type = "websocket"

    def __init__(
        self,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        cookies: CookieJar | None = None,
        verify_tls: bool = True,
        ca_file: str | None = None,
        connect_timeout: float = 10.0,
    ) -> None:
        parts = urlsplit(url)
        scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme)
        if scheme is None or not parts.hostname:
            raise CometdSettingError(
                f"websocket URL must be http(s):// or ws(s)://host/path, got {url!r}"
            )
        self._url = urlunsplit((scheme, parts.netloc, parts.path or "/", parts.query, ""))
        self._host = parts.hostname
        self._tls = scheme == "wss"
        self._port = parts.port or (443 if self._tls else 80)
        headers = dict(headers or {})
        self._origin = next((v for k, v in headers.items() if k.lower() == "origin"), None)
        self._header_lines = [f"{k}: {v}" for k, v in headers.items() if k.lower() != "origin"]
        self._cookies = cookies if cookies is not None else CookieJar()
        self._verify_tls = verify_tls
        self._ca_file = ca_file
        self._connect_timeout = connect_timeout
        self._sink: Sink | None = None
        self._ws: websocket.WebSocket | None = None
        self._reader: gevent.Greenlet[[websocket.WebSocket], None] | None = None
        # one sender at a time: frames must not interleave, nor two upgrades race
        self._sending = gevent.lock.Semaphore()
        self._closed = False

    def start(self, sink: Sink) -> None:
        self._sink = sink

    def send(self, batch: Batch, timeout: float) -> None:
        sink = self._sink
        assert sink is not None, "start() first"
        with self._sending:
            try:
                ws = self._ws if self._ws is not None else self._open()
            except TransportError as exc:
                failure: tuple[TransportError, Batch | None] | None = (exc, batch)
            else:
                try:
                    ws.send(batch.payload)
                    failure = None
                except Exception as exc:  # the socket broke under us
                    self._lost(ws)
                    error = TransportError(f"send on {self._url}: {type(exc).__name__}: {exc}")
                    failure = (error, None)
        if failure is not None:
            sink.on_failure(*failure)

    def _open(self) -> websocket.WebSocket:
        if self._closed:
            raise TransportError(f"{self._url}: transport closed")
        sock = None
        try:
            sock = gevent.socket.create_connection(
                (self._host, self._port), timeout=self._connect_timeout
            )
            if self._tls:
                context = client_context(verify=self._verify_tls, ca_file=self._ca_file)
                sock = context.wrap_socket(sock, server_hostname=self._host)
            ws = websocket.WebSocket(enable_multithread=False, skip_utf8_validation=True)
            ws.connect(  # type: ignore[no-untyped-call]
                self._url,
                socket=sock,
                header=self._header_lines,
                cookie=self._cookies.header() or None,
                origin=self._origin,
                timeout=self._connect_timeout,
            )
        except Exception as exc:
            if sock is not None:
                sock.close()
            status = getattr(exc, "status_code", None)
            if status in _NO_WEBSOCKET_STATUSES:
                # the endpoint is there but will not upgrade: a long-polling-only server
                raise TransportError(
                    f"the server does not offer CometD over websocket at {self._url} (the "
                    f"upgrade was answered HTTP {status}; GWS 8.5 serves long-polling only): "
                    'use transport "long-polling"',
                    status,
                ) from exc
            raise TransportError(
                f"websocket upgrade to {self._url}: {type(exc).__name__}: {exc}", status
            ) from exc
        set_cookie = (ws.getheaders() or {}).get("set-cookie")
        if set_cookie:
            self._cookies.update([set_cookie])
        ws.settimeout(None)  # deadlines are the session's job; a read waits for a frame
        self._ws = ws
        self._reader = gevent.spawn(self._read, ws)
        return ws

    def _read(self, ws: websocket.WebSocket) -> None:
        sink = self._sink
        assert sink is not None
        cause = "closed by the server"
        try:
            while True:
                payload = ws.recv()
                if not payload:  # a close frame (or an empty frame, which Bayeux never sends)
                    break
                sink.on_payload(payload, None)
        except Exception as exc:
            cause = f"{type(exc).__name__}: {exc}"
        if self._ws is ws:  # lost unexpectedly: everything in flight is gone
            self._lost(ws)
            sink.on_failure(TransportError(f"websocket {self._url}: {cause}"), None)

    def _lost(self, ws: websocket.WebSocket) -> None:
        if self._ws is ws:
            self._ws = None
        try:
            ws.abort()  # type: ignore[no-untyped-call]
            ws.shutdown()  # type: ignore[no-untyped-call]
        except Exception:  # already broken; closing is all that is left to do
            pass

    def reset(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            self._lost(ws)

    def close(self) -> None:
        self._closed = True
        reader, self._reader = self._reader, None
        self.reset()
        if reader is not None and reader is not gevent.getcurrent():
            reader.kill(block=False)
