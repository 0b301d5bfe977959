"""Scale figures for the embedded simulator (run by hand; prints a small table).

    python bench/bench_simulator.py [--agents 2000] [--busy 200] [--seconds 10]

1. Starts the simulator as a child process (``SimulatorProcess``).
2. Logs ``--agents`` agents in (GET /me, StartContactCenterSession), each with a
   CometD long-polling session subscribed to ``/v2/me/*`` and a held /meta/connect.
3. Idle phase: the simulator's RSS and CPU while all those connects are held.
4. Busy phase: ``--busy`` of the agents each keep an established call and start/stop
   recording in a closed loop for ``--seconds``; reports recording ops/s and the
   notifications the held connects received (every op must yield one).

The load comes from this one asyncio process, so on a small machine the client
may saturate before the simulator: both CPU figures are printed so the reader can
tell which one was the limit.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import time
from typing import Any

import aiohttp
import psutil

from gwsload.simulator.process import SimulatorProcess

NOTIFY = "/api/v2/notifications"


class BenchAgent:
    def __init__(self, http: aiohttp.ClientSession, url: str, username: str) -> None:
        self.http = http
        self.url = url
        self.username = username
        token = base64.b64encode(f"{username}:gwsload".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}"}
        self.client_id = ""
        self.device_id = ""
        self.call_id = ""
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.received = 0
        self.rehandshakes = 0

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        async with self.http.request(method, self.url + path, json=body, headers=self.headers) as r:
            cookie = r.cookies.get("JSESSIONID")
            if cookie is not None:
                self.headers["Cookie"] = f"JSESSIONID={cookie.value}"
            return await r.json(content_type=None)

    async def bayeux(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        if self.client_id:
            message = {**message, "clientId": self.client_id}
        replies: list[dict[str, Any]] = await self.call("POST", NOTIFY, [message])
        return replies

    async def login(self) -> None:
        await self.call("GET", "/api/v2/me")
        await self.handshake()
        await self.call(
            "POST",
            "/api/v2/me",
            {"operationName": "StartContactCenterSession", "channels": ["voice"]},
        )
        devices = await self.call("GET", "/api/v2/me/devices?fields=*")
        self.device_id = devices["devices"][0]["id"]

    async def handshake(self) -> None:
        self.client_id = ""
        [hs] = await self.bayeux(
            {"channel": "/meta/handshake", "version": "1.0",
             "supportedConnectionTypes": ["long-polling"]}
        )  # fmt: skip
        self.client_id = hs["clientId"]
        await self.bayeux({"channel": "/meta/subscribe", "subscription": "/v2/me/*"})
        # the first connect asks not to be held, as the CometD clients do
        await self.bayeux(
            {"channel": "/meta/connect", "connectionType": "long-polling", "advice": {"timeout": 0}}
        )
        await self.call(
            "POST",
            "/api/v2/me",
            {"operationName": "StartContactCenterSession", "channels": ["voice"]},
        )
        devices = await self.call("GET", "/api/v2/me/devices?fields=*")
        self.device_id = devices["devices"][0]["id"]

    async def listen(self) -> None:
        while True:
            replies = await self.bayeux(
                {"channel": "/meta/connect", "connectionType": "long-polling"}
            )
            for reply in replies:
                if reply["channel"] == "/meta/connect" and not reply["successful"]:
                    self.rehandshakes += 1
                    await self.handshake()
                elif reply["channel"].startswith("/v2/"):
                    self.received += 1
                    self.events.put_nowait(reply["data"])

    async def wait_for(self, predicate: Any) -> dict[str, Any]:
        while True:
            data = await asyncio.wait_for(self.events.get(), timeout=30)
            if predicate(data):
                return data

    async def establish(self) -> None:
        await self.call(
            "POST", f"/api/v2/me/devices/{self.device_id}/calls",
            {"operationName": "Dial", "destination": {"phoneNumber": "5550100"}},
        )  # fmt: skip
        data = await self.wait_for(lambda d: d.get("call", {}).get("state") == "Established")
        self.call_id = data["call"]["id"]

    async def record_loop(self, until: float, counter: list[int]) -> None:
        operations = ("StartCallRecording", "StopCallRecording")
        i = 0
        while time.monotonic() < until:
            await self.call(
                "POST", f"/api/v2/me/calls/{self.call_id}", {"operationName": operations[i % 2]}
            )
            await self.wait_for(lambda d: d.get("notificationType") == "CallRecordingStateChange")
            counter[0] += 1
            i += 1


def _usage(proc: psutil.Process, seconds: float) -> tuple[float, float]:
    """(CPU % over ``seconds``, RSS MiB)."""
    proc.cpu_percent(None)
    time.sleep(seconds)
    return proc.cpu_percent(None), proc.memory_info().rss / 2**20


async def bench(args: argparse.Namespace) -> None:
    with SimulatorProcess(
        ["--agents", str(args.agents), "--cometd-timeout-ms", "30000", "--answer-delay-ms", "10"]
    ) as sim:
        assert sim.pid is not None
        await measure(sim.url, sim.pid, args)


async def measure(url: str, pid: int, args: argparse.Namespace) -> None:
    """Log the agents in against the simulator at ``url`` (process ``pid``) and measure."""
    server = psutil.Process(pid)
    me = psutil.Process()
    base_rss = server.memory_info().rss / 2**20
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(
        connector=connector, cookie_jar=aiohttp.DummyCookieJar(), timeout=timeout
    ) as http:
        agents = [BenchAgent(http, url, f"agent{i:04d}") for i in range(1, args.agents + 1)]
        started = time.monotonic()
        listeners = []
        for chunk in range(0, len(agents), 200):
            batch = agents[chunk : chunk + 200]
            await asyncio.gather(*(a.login() for a in batch))
            # hold a connect at once, or the session expires after max-interval
            listeners += [asyncio.create_task(a.listen()) for a in batch]
        login_s = time.monotonic() - started
        await asyncio.sleep(1.0)
        idle_cpu, idle_rss = await asyncio.to_thread(_usage, server, 5.0)
        busy = agents[: args.busy]
        await asyncio.gather(*(a.establish() for a in busy))
        counter = [0]
        server.cpu_percent(None)
        me.cpu_percent(None)
        t0 = time.monotonic()
        await asyncio.gather(*(a.record_loop(t0 + args.seconds, counter) for a in busy))
        elapsed = time.monotonic() - t0
        busy_cpu, client_cpu = server.cpu_percent(None), me.cpu_percent(None)
        busy_rss = server.memory_info().rss / 2**20
        for task in listeners:
            task.cancel()
        await asyncio.gather(*listeners, return_exceptions=True)
        rehandshakes = sum(a.rehandshakes for a in agents)
    print(f"agents logged in with a held long-poll : {args.agents} (login took {login_s:.1f} s)")
    print(f"simulator RSS start/idle/busy : {base_rss:.0f} / {idle_rss:.0f} / {busy_rss:.0f} MiB")
    per_agent_kib = (idle_rss - base_rss) * 1024 / args.agents
    print(f"RSS per logged-in agent       : {per_agent_kib:.1f} KiB")
    print(f"simulator CPU idle (held connects)      : {idle_cpu:.1f} %")
    print(f"recording ops/s ({args.busy} busy agents, closed loop): {counter[0] / elapsed:.0f}")
    print(f"simulator CPU busy / bench client CPU   : {busy_cpu:.0f} % / {client_cpu:.0f} %")
    cpu_ms_per_op = busy_cpu / 100 * elapsed * 1000 / max(1, counter[0])
    print(
        f"simulator CPU per recording op          : {cpu_ms_per_op:.2f} ms "
        f"(REST request + notification + next connect; ~{1000 / cpu_ms_per_op:.0f} ops/s per core)"
    )
    print(f"re-handshakes (sessions lost)           : {rehandshakes}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=2000)
    parser.add_argument("--busy", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10.0)
    asyncio.run(bench(parser.parse_args()))


if __name__ == "__main__":
    main()
