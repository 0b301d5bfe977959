"""The client session's states and every rule for moving between them.

Theory of operation: a Bayeux client session is in one of five states.

* ``DISCONNECTED``: no session. ``handshake()`` is the only legal call.
* ``HANDSHAKING``: a /meta/handshake is queued, in flight or scheduled for a
  retry; there is no clientId. Subscribes and publishes are queued until the
  handshake is accepted (so a session lost mid-run is rebuilt without losing them).
* ``CONNECTING``: the server accepted the handshake (there is a clientId) but
  no /meta/connect has succeeded since, or the last one failed and a retry is
  scheduled.
* ``CONNECTED``: the last /meta/connect succeeded; the next one is held by the
  server or scheduled after ``advice.interval``.
* ``DISCONNECTING``: a /meta/disconnect was sent; its reply (or its failure)
  ends the session.

Triggers are either calls from the owner (``CALL_*``: illegal ones raise
``LocalProtocolError`` and change nothing) or things that happened (a reply,
a transport failure, a timer). The whole state graph is :data:`TRANSITIONS`;
``gwsload.bayeux._client`` only asks :func:`next_state` and never assigns a
state on its own.
"""

from __future__ import annotations

from enum import Enum
from typing import Final

from gwsload.bayeux._errors import LocalProtocolError

__all__ = ["TRANSITIONS", "ClientState", "Trigger", "next_state"]


class ClientState(Enum):
    #: no session; only handshake() is legal
    DISCONNECTED = "DISCONNECTED"
    #: handshake queued, in flight or scheduled for a retry; no clientId
    HANDSHAKING = "HANDSHAKING"
    #: clientId known, no /meta/connect has succeeded since the handshake or last failure
    CONNECTING = "CONNECTING"
    #: the last /meta/connect succeeded
    CONNECTED = "CONNECTED"
    #: /meta/disconnect sent, waiting for its reply
    DISCONNECTING = "DISCONNECTING"


class Trigger(Enum):
    #: the owner called handshake()
    CALL_HANDSHAKE = "handshake()"
    #: the owner called subscribe(), unsubscribe() or publish()
    CALL_MESSAGE = "subscribe()/unsubscribe()/publish()"
    #: the owner called disconnect() and a clientId exists (a message is sent)
    CALL_DISCONNECT = "disconnect()"
    #: the owner called disconnect() before any clientId existed (nothing to send)
    CALL_DISCONNECT_UNSENT = "disconnect() without a session"
    #: the owner called close(): drop everything locally, send nothing
    CALL_CLOSE = "close()"
    #: successful /meta/handshake reply
    HANDSHAKE_ACCEPTED = "handshake accepted"
    #: handshake refused or failed, and it will be tried again
    HANDSHAKE_RETRY = "handshake to be retried"
    #: handshake refused for good (first handshake refused, or advice reconnect=none)
    HANDSHAKE_REFUSED = "handshake refused"
    #: successful /meta/connect reply
    CONNECT_SUCCEEDED = "connect succeeded"
    #: /meta/connect failed (declared or transport) and advice says retry
    CONNECT_RETRY = "connect to be retried"
    #: the server lost the session (advice handshake, session unknown, maxInterval passed)
    SESSION_LOST = "session lost"
    #: advice reconnect=none: neither retry nor handshake
    RECONNECT_NONE = "advice reconnect=none"
    #: /meta/disconnect answered, failed or timed out
    DISCONNECT_DONE = "disconnect done"


_S = ClientState
_T = Trigger
_ACTIVE = (_S.HANDSHAKING, _S.CONNECTING, _S.CONNECTED)

#: (state, trigger) -> new state. A pair that is absent is illegal for calls and
#: ignored for happenings (e.g. a late connect reply after close()).
TRANSITIONS: Final[dict[tuple[ClientState, Trigger], ClientState]] = {
    (_S.DISCONNECTED, _T.CALL_HANDSHAKE): _S.HANDSHAKING,
    **{(s, _T.CALL_MESSAGE): s for s in _ACTIVE},
    **{(s, _T.CALL_DISCONNECT): _S.DISCONNECTING for s in (_S.CONNECTING, _S.CONNECTED)},
    (_S.HANDSHAKING, _T.CALL_DISCONNECT_UNSENT): _S.DISCONNECTED,
    **{(s, _T.CALL_CLOSE): _S.DISCONNECTED for s in ClientState},
    (_S.HANDSHAKING, _T.HANDSHAKE_ACCEPTED): _S.CONNECTING,
    (_S.HANDSHAKING, _T.HANDSHAKE_RETRY): _S.HANDSHAKING,
    (_S.HANDSHAKING, _T.HANDSHAKE_REFUSED): _S.DISCONNECTED,
    (_S.CONNECTING, _T.CONNECT_SUCCEEDED): _S.CONNECTED,
    (_S.CONNECTED, _T.CONNECT_SUCCEEDED): _S.CONNECTED,
    (_S.CONNECTING, _T.CONNECT_RETRY): _S.CONNECTING,
    (_S.CONNECTED, _T.CONNECT_RETRY): _S.CONNECTING,
    (_S.CONNECTING, _T.SESSION_LOST): _S.HANDSHAKING,
    (_S.CONNECTED, _T.SESSION_LOST): _S.HANDSHAKING,
    (_S.CONNECTING, _T.RECONNECT_NONE): _S.DISCONNECTED,
    (_S.CONNECTED, _T.RECONNECT_NONE): _S.DISCONNECTED,
    (_S.DISCONNECTING, _T.DISCONNECT_DONE): _S.DISCONNECTED,
}

_CALL_HINTS: Final[dict[Trigger, str]] = {
    _T.CALL_HANDSHAKE: "a session is already open or opening; disconnect() or close() first",
    _T.CALL_MESSAGE: "call handshake() first",
    _T.CALL_DISCONNECT: "there is no open session",
    _T.CALL_DISCONNECT_UNSENT: "there is no open session",
}


def next_state(state: ClientState, trigger: Trigger) -> ClientState | None:
    """The state after ``trigger``; None when a happening does not apply here.

    Raises:
        LocalProtocolError: a call (``CALL_*``) that is illegal in ``state``.
    """
    new = TRANSITIONS.get((state, trigger))
    if new is None and trigger in _CALL_HINTS:
        raise LocalProtocolError(
            f"cannot {trigger.value} in state {state.name}: {_CALL_HINTS[trigger]}"
        )
    return new
