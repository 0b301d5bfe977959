"""Thousands of held connects in one process (long-polling, then websocket), each
reached by a notify.

Prints the RSS growth and the wall time (pytest -s); asserts only counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import psutil
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from gwsload.simulator.cometd_endpoint import USER_KEY, CometdEndpoint

pytestmark = pytest.mark.asyncio

SESSIONS = 2000
CHANNEL = "/v2/me/calls"


@web.middleware
async def user_from_header(request: web.Request, handler: Any) -> web.StreamResponse:
    request[USER_KEY] = request.headers["X-User"]
    response: web.StreamResponse = await handler(request)
    return response


@contextlib.asynccontextmanager
async def served_endpoint() -> AsyncIterator[tuple[CometdEndpoint, str, aiohttp.ClientSession]]:
    """The endpoint on a loopback test server (sessions kept 60 s), its URL, and an
    unlimited client session."""
    endpoint = CometdEndpoint(timeout_ms=60000, max_interval_ms=60000)
    app = web.Application(middlewares=[user_from_header])
    endpoint.add_routes(app, "/cometd")
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    await endpoint.start()
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    try:
        yield endpoint, str(server.make_url("/cometd")), http
    finally:
        await endpoint.close()
        await http.close()
        await server.close()


async def test_two_thousand_held_connects_each_get_their_notification() -> None:
    process = psutil.Process(os.getpid())
    rss_before = process.memory_info().rss
    gate = asyncio.Semaphore(200)
    async with served_endpoint() as (endpoint, url, http):
        started = time.perf_counter()

        async def post(user: str, messages: list[dict[str, Any]]) -> Any:
            async with http.post(url, json=messages, headers={"X-User": user}) as response:
                assert response.status == 200
                return await response.json()

        async def handshake(user: str) -> str:
            async with gate:
                (reply,) = await post(
                    user,
                    [
                        {
                            "channel": "/meta/handshake",
                            "version": "1.0",
                            "supportedConnectionTypes": ["long-polling"],
                        }
                    ],
                )
            client_id: str = reply["clientId"]
            return client_id

        users = [f"user{i:05d}" for i in range(SESSIONS)]
        client_ids = await asyncio.gather(*(handshake(u) for u in users))
        handshaken = time.perf_counter()

        async def subscribe_and_hold(user: str, client_id: str) -> Any:
            return await post(
                user,
                [
                    {"channel": "/meta/subscribe", "clientId": client_id, "subscription": CHANNEL},
                    {
                        "channel": "/meta/connect",
                        "clientId": client_id,
                        "id": "c",
                        "connectionType": "long-polling",
                    },
                ],
            )

        polls = [
            asyncio.create_task(subscribe_and_hold(u, c))
            for u, c in zip(users, client_ids, strict=True)
        ]
        for _ in range(3000):
            held = sum(endpoint.engine.held_connect(c) is not None for c in client_ids)
            if held == SESSIONS:
                break
            await asyncio.sleep(0.01)
        assert held == SESSIONS
        all_held = time.perf_counter()
        rss_held = process.memory_info().rss
        delivered = sum(endpoint.notify(u, CHANNEL, {"user": u}) for u in users)
        assert delivered == SESSIONS
        results = await asyncio.wait_for(asyncio.gather(*polls), 60)
        woken = time.perf_counter()
        got = [[m["data"]["user"] for m in r if "data" in m] for r in results]
        assert got == [[u] for u in users]
        assert all(r[-1]["channel"] == "/meta/connect" and r[-1]["successful"] for r in results)
        print(
            f"\n{SESSIONS} sessions: handshakes {handshaken - started:.2f}s, "
            f"subscribe+hold {all_held - handshaken:.2f}s, notify->all replies "
            f"{woken - all_held:.2f}s; RSS +{(rss_held - rss_before) / 2**20:.1f} MiB "
            f"with all held (client and server in this process)"
        )


async def test_two_thousand_websockets_with_held_connects_each_get_their_push() -> None:
    process = psutil.Process(os.getpid())
    rss_before = process.memory_info().rss
    gate = asyncio.Semaphore(200)
    sockets: list[aiohttp.ClientWebSocketResponse] = []
    async with served_endpoint() as (endpoint, url, http):
        try:
            started = time.perf_counter()

            async def open_session(user: str) -> str:
                async with gate:
                    ws = await http.ws_connect(url, headers={"X-User": user})
                    sockets.append(ws)
                    await ws.send_str(
                        json.dumps(
                            [
                                {
                                    "channel": "/meta/handshake",
                                    "version": "1.0",
                                    "supportedConnectionTypes": ["websocket"],
                                }
                            ]
                        )
                    )
                    client_id: str = json.loads((await ws.receive()).data)[0]["clientId"]
                    await ws.send_str(json.dumps([
                        {"channel": "/meta/subscribe", "clientId": client_id,
                         "subscription": CHANNEL},
                        {"channel": "/meta/connect", "clientId": client_id, "id": "c",
                         "connectionType": "websocket"},
                    ]))  # fmt: skip
                    await ws.receive()  # the subscribe reply; the connect stays held
                    return client_id

            users = [f"user{i:05d}" for i in range(SESSIONS)]
            client_ids = await asyncio.gather(*(open_session(u) for u in users))
            opened = time.perf_counter()
            assert sum(endpoint.engine.held_connect(c) is not None for c in client_ids) == SESSIONS
            rss_open = process.memory_info().rss
            assert len(set(client_ids)) == len(sockets) == SESSIONS
            delivered = sum(endpoint.notify(u, CHANNEL, {"user": u}) for u in users)
            assert delivered == SESSIONS

            async def pushed(ws: aiohttp.ClientWebSocketResponse) -> str:
                (event,) = json.loads((await ws.receive()).data)
                user: str = event["data"]["user"]
                return user

            got = await asyncio.wait_for(asyncio.gather(*(pushed(ws) for ws in sockets)), 60)
            pushed_all = time.perf_counter()
            assert sorted(got) == users
            print(
                f"\n{SESSIONS} websocket sessions: open+handshake+subscribe+hold "
                f"{opened - started:.2f}s, notify->all pushes {pushed_all - opened:.2f}s; "
                f"RSS +{(rss_open - rss_before) / 2**20:.1f} MiB with all open "
                f"(client and server in this process)"
            )
        finally:
            for ws in sockets:
                await ws.close()
