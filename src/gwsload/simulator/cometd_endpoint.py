"""The simulator's CometD endpoint: aiohttp long-polling and websocket over ``ServerEngine``.

``CometdEndpoint`` is a thin asyncio driver of the sans-IO engine
(:class:`gwsload.bayeux.ServerEngine`); engine time is the event loop's monotonic clock.

* Long-polling: ``POST <path>`` and ``POST <path>/<anything>`` (the CometD client
  appends ``/handshake``, ``/connect``...). The body is a JSON array (or one
  object); the reply is ``application/json``. A held ``/meta/connect`` waits until
  events arrive for its session, a newer connect releases it, or the timeout
  elapses. A body that is not Bayeux gets HTTP 400 ``Bad request`` (like faye).
* Websocket: ``GET <path>`` upgrades. One JSON array per text frame both ways.
  Events are pushed at once in their own frames (like faye); the connect is held
  for the timeout. Malformed frames get no reply. Closing the socket unbinds its
  sessions, which live on until ``max_interval``.

Sessions are bound to the user the simulator's auth middleware put in
``request[USER_KEY]`` (None when the endpoint is mounted without it); a
message for a session of another user is ``402::session_unknown``.
``notify(user_id, channel, data, ext)`` queues an event for that user's subscribed
sessions and wakes them; ``expire_sessions`` drops sessions at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

from aiohttp import WSMsgType, web

from gwsload.bayeux import (
    ConnectionType,
    HeldConnect,
    Message,
    MetaChannel,
    Outcome,
    RemoteProtocolError,
    ServerEngine,
    decode,
)
from gwsload.simulator.cometd_socket import SocketConnection
from gwsload.simulator.cometd_wire import encode_replies

__all__ = ["CometdEndpoint"]

log = logging.getLogger("gwsload.simulator.cometd")

#: where the simulator's auth middleware records the authenticated user (a typed key:
#: aiohttp warns on plain string keys)
USER_KEY = web.RequestKey("gws_user_id", str)
#: longest pause of the expiry sweep, so sessions expire within this much of max_interval
_SWEEP_MAX_PAUSE_S = 0.5
#: websocket frames larger than this close the socket (aiohttp's default is 4 MiB)
_MAX_FRAME_BYTES = 1 << 20


class CometdEndpoint:
    """Bayeux over HTTP long-polling and websocket, for the simulator's users."""

    def __init__(
        self,
        *,
        timeout_ms: int = 30000,
        interval_ms: int = 0,
        max_interval_ms: int = 10000,
        websocket: bool = True,
    ) -> None:
        types = [ConnectionType.LONG_POLLING]
        if websocket:
            types.append(ConnectionType.WEBSOCKET)
        self.engine = ServerEngine(
            timeout_ms=timeout_ms,
            interval_ms=interval_ms,
            max_interval_ms=max_interval_ms,
            connection_types=types,
        )
        self._websocket = websocket
        # held connects waiting for a wake-up: token -> (client id, future)
        self._waiters: dict[int, tuple[str, asyncio.Future[None]]] = {}
        # sessions whose events are pushed on a websocket
        self._sockets: dict[str, SocketConnection] = {}
        self._connections: set[SocketConnection] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self._closed = False

    # ------------------------------------------------------------------ public API

    @property
    def session_count(self) -> int:
        return self.engine.session_count

    def add_routes(self, app: web.Application, path: str = "/api/v2/notifications") -> None:
        """POST on ``path`` and its sub-paths; GET on ``path`` upgrades to a websocket.

        Also hooks :meth:`close` on the application's shutdown.
        """
        path = path.rstrip("/")
        app.router.add_post(path, self._post)
        app.router.add_post(path + "/{tail:.*}", self._post)
        if self._websocket:
            app.router.add_get(path, self._upgrade)
        # answer held connects and close sockets before aiohttp waits for open handlers
        # at shutdown; otherwise a stop lasts as long as the longest held connect
        app.on_shutdown.append(self._on_shutdown)

    async def _on_shutdown(self, app: web.Application) -> None:
        await self.close()

    def notify(
        self, user_id: str, channel: str, data: dict[str, Any], ext: dict[str, Any] | None = None
    ) -> int:
        """Queue an event for each session of ``user_id`` subscribed to a matching pattern.

        Returns:
            How many sessions got it. Their held connects are woken, or the event
            is pushed on their websocket.
        """
        client_ids = self.engine.deliver_to_owner(user_id, channel, data, ext)
        for client_id in client_ids:
            self._wake(client_id)
        return len(client_ids)

    def expire_sessions(self, user_id: str | None = None) -> int:
        """Drop the sessions of ``user_id`` (of every user when None); return how many.

        Their held connects are answered with ``402::session_unknown``, and so is
        their next message.
        """
        if user_id is None:
            dropped = self.engine.drop_sessions(every_owner=True)
        else:
            dropped = self.engine.drop_sessions(user_id)
        gone = set(dropped)
        for client_id in dropped:
            self._sockets.pop(client_id, None)
        for owner_id, future in list(self._waiters.values()):
            if owner_id in gone:
                _resolve(future)
        return len(dropped)

    async def start(self) -> None:
        """Start the background ``max_interval`` sweep."""
        self._closed = False
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep_loop())

    async def close(self) -> None:
        """Stop the sweep, answer every held connect, close every websocket."""
        self._closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        for _, future in list(self._waiters.values()):
            _resolve(future)
        for conn in list(self._connections):
            await conn.ws.close(code=1001, message=b"server shutdown")

    # ------------------------------------------------------------------ long-polling

    async def _post(self, request: web.Request) -> web.Response:
        owner = request.get(USER_KEY)
        body = await request.read()
        try:
            messages = decode(body)
        except RemoteProtocolError:
            return web.Response(status=400, text="Bad request")
        for message in messages:
            # a session now polling over HTTP no longer gets pushes on an old socket
            client_id = message.client_id
            if client_id in self._sockets and (
                not self.engine.has_session(client_id) or self.engine.owner_of(client_id) == owner
            ):
                del self._sockets[client_id]
        outcome = self.engine.handle(messages, _now(), owner=owner)
        self._dispatch(outcome)
        replies = outcome.replies
        if outcome.hold is not None:
            transport = request.transport

            def still_open() -> bool:
                return transport is not None and not transport.is_closing()

            replies = [*replies, *await self._wait_out(outcome.hold, still_open)]
        return web.Response(text=encode_replies(replies), content_type="application/json")

    async def _wait_out(self, held: HeldConnect, still_open: Callable[[], bool]) -> list[Message]:
        """Wait until ``held`` is woken or due; the messages that answer it.

        When the client has gone meanwhile, the session keeps its events for its
        next connect instead of losing them in a reply nobody reads.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._waiters[held.token] = (held.client_id, future)
        timer: asyncio.TimerHandle | None = None
        try:
            if held.deadline > loop.time() and not self._closed:
                # the deadline resolves the future like a wake-up does, so a woken connect
                # resumes one loop step after the notify (asyncio.wait takes two, and
                # twice the CPU: under load both show in the notification latency)
                timer = loop.call_at(held.deadline, _resolve, future)
                await future
        except asyncio.CancelledError:
            # the client went away: the session and its queue live on until max_interval
            self.engine.abandon(held, loop.time())
            raise
        finally:
            if timer is not None:
                timer.cancel()
            self._waiters.pop(held.token, None)
        if not still_open():
            self.engine.abandon(held, loop.time())
            return []
        return self.engine.complete(held, loop.time())

    # ------------------------------------------------------------------ websocket

    async def _upgrade(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=_MAX_FRAME_BYTES)
        if not ws.can_prepare(request).ok:
            return web.Response(status=400, text="Bad request")
        await ws.prepare(request)
        conn = SocketConnection(ws, request.get(USER_KEY))
        conn.start()
        self._connections.add(conn)
        try:
            async for frame in ws:
                if frame.type is WSMsgType.TEXT:
                    self._on_frame(conn, frame.data)
                # binary frames are not Bayeux: ignored, like malformed text
        finally:
            self._connections.discard(conn)
            for client_id in conn.client_ids:
                if self._sockets.get(client_id) is conn:
                    del self._sockets[client_id]
            await conn.stop()
        return ws

    def _on_frame(self, conn: SocketConnection, text: str) -> None:
        try:
            messages = decode(text)
        except RemoteProtocolError:
            return  # like faye: no reply to a frame that is not Bayeux
        outcome = self.engine.handle(messages, _now(), owner=conn.owner)
        self._bind(conn, messages, outcome.replies)
        conn.send(outcome.replies)
        self._dispatch(outcome)
        if outcome.hold is not None:
            conn.track(asyncio.create_task(self._hold_on_socket(conn, outcome.hold)))

    async def _hold_on_socket(self, conn: SocketConnection, held: HeldConnect) -> None:
        conn.send(await self._wait_out(held, lambda: not conn.ws.closed))

    def _bind(
        self, conn: SocketConnection, messages: Sequence[Message], replies: Sequence[Message]
    ) -> None:
        client_ids = {m.client_id for m in messages if m.client_id is not None}
        client_ids.update(
            r.client_id
            for r in replies
            if r.channel == MetaChannel.HANDSHAKE and r.successful and r.client_id is not None
        )
        for client_id in client_ids:
            if self.engine.has_session(client_id) and self.engine.owner_of(client_id) == conn.owner:
                self._sockets[client_id] = conn
                conn.client_ids.add(client_id)

    # ------------------------------------------------------------------ waking

    def _dispatch(self, outcome: Outcome) -> None:
        for held in outcome.released:
            waiter = self._waiters.get(held.token)
            if waiter is not None:
                _resolve(waiter[1])
        for client_id in outcome.woke:
            self._wake(client_id)

    def _wake(self, client_id: str) -> None:
        """Push the session's events on its websocket, or answer its held connect."""
        conn = self._sockets.get(client_id)
        if conn is not None:
            events = self.engine.take_events(client_id)
            if events:
                conn.send(events)
                return
        held = self.engine.held_connect(client_id)
        if held is not None:
            waiter = self._waiters.get(held.token)
            if waiter is not None:
                _resolve(waiter[1])

    async def _sweep_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            timer = self.engine.get_timer()
            pause = _SWEEP_MAX_PAUSE_S
            if timer is not None:
                pause = min(pause, max(timer - loop.time(), 0.0))
            await asyncio.sleep(pause)
            try:
                expired = self.engine.sweep(loop.time())
            except Exception:  # a bug; keep sweeping rather than let sessions live forever
                log.exception("CometD session sweep failed")
                continue
            for client_id in expired:
                self._sockets.pop(client_id, None)


def _now() -> float:
    return asyncio.get_running_loop().time()


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
