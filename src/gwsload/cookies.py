"""A cookie jar for one server, shared by the GWS REST session and its CometD client.

GWS binds the CSRF token and the CometD session to the HTTP session
(``JSESSIONID``), and some Bayeux servers find sessions through their own cookie
(``BAYEUX_BROWSER``), so both clients of one agent must send the same cookies.
A load client talks to a single host, so domain and path scoping are left out on
purpose; expiry by ``Max-Age=0`` (deletion) is honoured.
"""

from __future__ import annotations

from collections.abc import Iterable
from http.cookies import CookieError, SimpleCookie

__all__ = ["CookieJar"]


class CookieJar:
    """Cookies by name; ``header()`` gives the ``Cookie`` request header value."""

    __slots__ = ("_cookies", "_header")

    def __init__(self) -> None:
        self._cookies: dict[str, str] = {}
        self._header: str | None = None

    def update(self, set_cookie_headers: Iterable[str]) -> None:
        """Take ``Set-Cookie`` header values from a response."""
        for raw in set_cookie_headers:
            parsed: SimpleCookie = SimpleCookie()
            try:
                parsed.load(raw)
            except CookieError:
                continue  # a malformed cookie is the server's problem, not a reason to fail
            for name, morsel in parsed.items():
                if morsel["max-age"] in ("0", "-1"):
                    self._cookies.pop(name, None)
                else:
                    self._cookies[name] = morsel.value
            self._header = None

    def set(self, name: str, value: str) -> None:
        self._cookies[name] = value
        self._header = None

    def get(self, name: str) -> str | None:
        return self._cookies.get(name)

    def clear(self) -> None:
        self._cookies.clear()
        self._header = None

    def header(self) -> str:
        """The ``Cookie`` header value ('' when empty); cached between changes."""
        if self._header is None:
            self._header = "; ".join(f"{k}={v}" for k, v in self._cookies.items())
        return self._header

    def __len__(self) -> int:
        return len(self._cookies)

    def __repr__(self) -> str:
        return f"CookieJar({sorted(self._cookies)})"
