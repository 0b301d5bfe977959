"""TLS contexts whose sockets cooperate with gevent, whatever was monkey-patched.

``gevent.ssl.create_default_context`` is the standard library's function: in a
process that is not monkey-patched it returns a standard ``ssl.SSLContext``,
whose sockets block the whole hub while a long-poll waits. The context is built
here from ``gevent.ssl.SSLContext`` itself.
"""

from __future__ import annotations

import ssl

import gevent.ssl

__all__ = ["client_context"]


def client_context(*, verify: bool = True, ca_file: str | None = None) -> ssl.SSLContext:
    """A client context: verifying (system CAs plus ``ca_file``) or not at all."""
    context: ssl.SSLContext = gevent.ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if verify:
        context.load_default_certs()
        if ca_file:
            context.load_verify_locations(cafile=ca_file)
    else:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
