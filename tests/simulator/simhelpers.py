"""Test helpers for the simulator tests (imported by conftest and by the tests).

``Sim`` is a simulator served on 127.0.0.1 (aiohttp's ``TestServer``): its URL, its
node, and every notification the node handed to the CometD endpoint
(``sim.published``, with the publisher's stamps). ``sim.agent()`` gives a
``GwsAgent``: an HTTP client with its own cookie jar and Basic credentials.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer
from multidict import CIMultiDictProxy

from gwsload.simulator.node import SimulatedNode
from gwsload.simulator.publisher import Published

__all__ = ["GwsAgent", "RecordingEndpoint", "Sim", "StartSim"]


class RecordingEndpoint:
    """Stands where the CometD endpoint sits; keeps what it was handed (fault tests)."""

    def __init__(self) -> None:
        self.notified: list[tuple[str, str, dict[str, Any], dict[str, Any] | None]] = []
        self.expired: list[str | None] = []

    def notify(
        self, user_id: str, channel: str, data: dict[str, Any], ext: dict[str, Any] | None = None
    ) -> int:
        self.notified.append((user_id, channel, data, ext))
        return 1

    def expire_sessions(self, user_id: str | None = None) -> int:
        self.expired.append(user_id)
        return 1

    def add_routes(self, app: aiohttp.web.Application, path: str = "") -> None:
        return None

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None


class GwsAgent:
    """One agent's HTTP client: its own cookies, Basic credentials on every request."""

    def __init__(self, sim: Sim, username: str, password: str) -> None:
        self.sim = sim
        self.username = username
        self.agent = sim.node.world.agents.get(username)
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        self.authorization = f"Basic {token}"
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf_token: str | None = None

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        auth: bool = True,
        headers: dict[str, str] | None = None,
        data: bytes | None = None,
    ) -> tuple[int, Any, CIMultiDictProxy[str]]:
        all_headers = {"Authorization": self.authorization} if auth else {}
        if self.csrf_token is not None and method != "GET":
            all_headers["X-CSRF-TOKEN"] = self.csrf_token
        all_headers.update(headers or {})
        kwargs: dict[str, Any] = {"headers": all_headers}
        if body is not None:
            kwargs["json"] = body
        elif data is not None:
            kwargs["data"] = data
            all_headers.setdefault("Content-Type", "application/json")
        async with self.http.request(method, self.sim.url + path, **kwargs) as response:
            text = await response.text()
            try:
                payload: Any = await response.json(content_type=None) if text else None
            except ValueError:
                payload = text
            return response.status, payload, response.headers

    async def post_ok(self, path: str, body: Any) -> None:
        status, payload, _ = await self.request("POST", path, body)
        assert (status, payload) == (200, {"statusCode": 0}), (path, body, status, payload)

    async def login(self) -> str:
        """GET /me, StartContactCenterSession; returns the device id."""
        status, payload, _ = await self.request("GET", "/api/v2/me")
        assert status == 200, payload
        await self.post_ok(
            "/api/v2/me", {"operationName": "StartContactCenterSession", "channels": ["voice"]}
        )
        status, payload, _ = await self.request("GET", "/api/v2/me/devices?fields=*")
        assert status == 200, payload
        device_id: str = payload["devices"][0]["id"]
        return device_id

    async def dial(self, device_id: str, number: str = "5551234567") -> str:
        """Dial and return the call id, learnt from the Dialing notification (as GWS clients do)."""
        already = len(self.sim.published)
        body = {"operationName": "Dial", "destination": {"phoneNumber": number}}
        await self.post_ok(f"/api/v2/me/devices/{device_id}/calls", body)
        dialing = await self.sim.wait_published(
            lambda p: (
                p.notification.agent == self.username
                and p.notification.data.get("call", {}).get("state") == "Dialing"
            ),
            start=already,
        )
        call_id: str = dialing.notification.call_id
        return call_id

    async def established_call(self) -> str:
        device_id = await self.login()
        call_id = await self.dial(device_id)
        await self.sim.wait_published(
            lambda p: (
                p.notification.call_id == call_id
                and p.notification.data["call"]["state"] == "Established"
            )
        )
        return call_id

    async def close(self) -> None:
        await self.http.close()


class Sim:
    def __init__(self, server: TestServer, node: SimulatedNode) -> None:
        self.server = server
        self.node = node
        self.url = str(server.make_url("")).rstrip("/")
        self.published: list[Published] = []
        self._agents: list[GwsAgent] = []
        node.publisher.observers.append(self.published.append)

    def agent(self, username: str = "agent0001", password: str = "gwsload") -> GwsAgent:
        agent = GwsAgent(self, username, password)
        self._agents.append(agent)
        return agent

    async def wait_published(
        self, predicate: Callable[[Published], bool], *, start: int = 0, timeout: float = 5.0
    ) -> Published:
        """The first notification (from index ``start``) that satisfies ``predicate``."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for item in self.published[start:]:
                if predicate(item):
                    return item
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"no matching notification within {timeout} s")
            await asyncio.sleep(0.005)

    async def close(self) -> None:
        for agent in self._agents:
            await agent.close()
        await self.server.close()


StartSim = Callable[..., Awaitable[Sim]]
