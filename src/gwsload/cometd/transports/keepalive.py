"""Keep-alive connections that stay kept alive past file descriptor 1023.

Before reusing a pooled socket, geventhttpclient's ``ConnectionPool`` asks
``select.select([sock], [], [], 0)`` whether the idle socket is readable (a FIN or
stray bytes mean it is dead). ``select()`` cannot take a descriptor >= 1024
(``FD_SETSIZE``): it raises ``ValueError``, which the pool reads as "dead". So in a
process with more than ~1,000 sockets, every reuse of such a socket closed it and
opened a new one (name lookup in gevent's thread pool, TCP connect, a TIME_WAIT
left behind): an idle agent paid that for each ``/meta/connect`` renewal, and every
REST request on the shared pool paid it too.

:func:`socket_is_idle` asks the same question with ``poll()``, which takes any
descriptor; importing this module installs it in the pool (both plain and TLS
pools inherit it). Every module that builds an ``HTTPClient`` imports it.
"""

from __future__ import annotations

import select as _select
from typing import Any

from gevent import monkey
from geventhttpclient.connectionpool import ConnectionPool

__all__ = ["socket_is_idle"]

#: the real poll(), never gevent's cooperative one: a zero-timeout check must not yield
_POLL = monkey.get_original("select", "poll")
_READY = _select.POLLIN | _select.POLLPRI | _select.POLLERR | _select.POLLHUP | _select.POLLNVAL


def socket_is_idle(sock: Any) -> bool:
    """True when a pooled socket is open and has nothing to read (safe to reuse)."""
    if sock is None:
        return False
    try:
        fd = sock.fileno()
        if fd < 0:
            return False
        poller = _POLL()
        poller.register(fd, _READY)
        return not poller.poll(0)
    except (OSError, ValueError):
        return False


def _is_socket_alive(self: ConnectionPool, sock: Any) -> bool:
    return socket_is_idle(sock)


ConnectionPool._is_socket_alive = _is_socket_alive  # type: ignore[method-assign]
