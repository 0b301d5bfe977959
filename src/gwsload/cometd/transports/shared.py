"""Keep-alive HTTP connections shared by the agents of one process (gevent).

An agent on its own connections needs three sockets: its REST session, the CometD
held ``/meta/connect`` and the CometD lane for handshakes and subscribes. At 10,000
agents that is 30,000 file descriptors, past a typical ``ulimit -n`` of 20,000. Only
the held connect must be the agent's own (it blocks for up to the server's
timeout); every other request is short and carries its agent's identity in its
headers (``Authorization``, ``Cookie``, the CSRF token), so the agents of a process
can take turns on a pool of keep-alive connections per server. That leaves about one
socket per agent plus the pool.

A request waits for a free connection only when ``limit`` requests to that server
are in flight at once. The wait happens in :meth:`SharedClient.slot`, before the
caller stamps ``t_sent``, so a busy pool never shows up as the server's latency.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from gevent.lock import BoundedSemaphore
from geventhttpclient import HTTPClient

from gwsload.cometd.transports import keepalive  # noqa: F401  (pooled sockets past fd 1023)
from gwsload.cometd.transports.tls import client_context

__all__ = ["DEFAULT_LIMIT", "ServerKey", "SharedClient", "SharedConnections"]

#: connections per server and process; a request waits only when this many are busy
DEFAULT_LIMIT = 256


@dataclass(frozen=True, slots=True)
class ServerKey:
    """Everything a pooled connection must agree on (requests differ only in headers)."""

    host: str
    port: int
    tls: bool
    verify_tls: bool
    ca_file: str | None
    connect_timeout_s: float
    network_timeout_s: float


class SharedClient:
    """One server's pool: an ``HTTPClient`` with ``limit`` lazily opened connections."""

    def __init__(self, key: ServerKey, limit: int) -> None:
        self.key = key
        self.limit = limit
        self._slots = BoundedSemaphore(limit)
        self.http = HTTPClient(
            key.host,
            port=key.port,
            ssl=key.tls,
            ssl_context_factory=self._tls_context if key.tls else None,
            insecure=key.tls and not key.verify_tls,
            connection_timeout=key.connect_timeout_s,
            network_timeout=key.network_timeout_s,
            concurrency=limit,
            headers={"User-Agent": "gwsload"},
        )

    def _tls_context(self, **_: Any) -> Any:
        # the stdlib's default factory would block the hub in an unpatched process
        return client_context(verify=self.key.verify_tls, ca_file=self.key.ca_file)

    @contextmanager
    def slot(self) -> Iterator[HTTPClient]:
        """Hold one of the pool's connections for one request (waits while all are busy).

        Same size as the client's own pool, so the client never waits inside a request.
        """
        with self._slots:
            yield self.http

    @property
    def busy(self) -> int:
        """Requests in flight on this pool now."""
        return self.limit - int(self._slots.counter)

    def close(self) -> None:
        self.http.close()


class SharedConnections:
    """The pools of one process, one per :class:`ServerKey`; made on first use."""

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        self.limit = limit
        self._clients: dict[ServerKey, SharedClient] = {}

    def client(self, key: ServerKey) -> SharedClient:
        found = self._clients.get(key)
        if found is None:
            found = self._clients[key] = SharedClient(key, self.limit)
        return found

    def close(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()
