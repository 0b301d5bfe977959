"""One websocket carrying Bayeux: an ordered outbox and the connects held on it.

Frames go out in the order they were queued (events pushed by ``notify`` and
replies share one writer task), so a pushed event never overtakes an earlier one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

from aiohttp import web

from gwsload.bayeux import Message
from gwsload.simulator.cometd_wire import encode_replies

__all__ = ["SocketConnection"]

#: frames waiting for a client that does not read; past this the socket is closed
#: (its sessions live on until max_interval) instead of growing without bound
MAX_PENDING_FRAMES = 10_000


class SocketConnection:
    """The endpoint's view of one open websocket."""

    def __init__(self, ws: web.WebSocketResponse, owner: str | None) -> None:
        self.ws = ws
        #: the user the upgrade request was authenticated as
        self.owner = owner
        #: Bayeux sessions whose events are pushed on this socket
        self.client_ids: set[str] = set()
        #: tasks waiting out a /meta/connect held on this socket
        self.hold_tasks: set[asyncio.Task[None]] = set()
        self._outbox: asyncio.Queue[str | None] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._overflowed = False

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write_loop())

    def send(self, messages: Sequence[Message]) -> None:
        """Queue one frame holding ``messages`` (a JSON array)."""
        if not messages or self.ws.closed or self._overflowed:
            return
        if self._outbox.qsize() >= MAX_PENDING_FRAMES:
            self._overflowed = True
            self._outbox.put_nowait(None)  # the writer closes the socket after what it has
            return
        self._outbox.put_nowait(encode_replies(messages))

    def track(self, task: asyncio.Task[None]) -> None:
        self.hold_tasks.add(task)
        task.add_done_callback(self.hold_tasks.discard)

    async def stop(self) -> None:
        """Cancel the held connects (their sessions live on) and the writer."""
        tasks = list(self.hold_tasks)
        for task in tasks:
            task.cancel()
        if self._writer is not None:
            self._writer.cancel()
            tasks.append(self._writer)
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _write_loop(self) -> None:
        while True:
            text = await self._outbox.get()
            if self.ws.closed:
                return
            if text is None:
                await self.ws.close(code=1013, message=b"client does not read its frames")
                return
            # a peer that vanished mid-write ends this socket; the reader sees the close
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self.ws.send_str(text)
