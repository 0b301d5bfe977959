"""Figures for the Bayeux server engine and the simulator's CometD endpoint.

    python bench/bench_cometd_server.py [--quick] [--sessions N]

1. Engine alone (no I/O, virtual time): sessions handshaken+subscribed+held per
   second, deliveries (``deliver_to_owner`` + ``complete``) per second, and the cost
   of one ``sweep`` that expires every session, per session.
2. Endpoint on loopback (client and server in this one asyncio process): one
   ``notify`` fans out to every session of one user; the time from the notify
   until each session's client has the event, for long-polling (held connect
   woken) and websocket (event pushed): p50/p99 over the same number of samples,
   and their ratio. With many sessions this is dominated by the fan-out itself.

Prints a small table and writes ``bench/out/cometd_server.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from gwsload.bayeux import Message, ServerEngine
from gwsload.simulator.cometd_endpoint import CometdEndpoint

CHANNEL = "/v2/me/calls"
USER = "bench-user"
OUT = Path(__file__).resolve().parent / "out" / "cometd_server.json"


def bench_engine(sessions: int) -> dict[str, float]:
    engine = ServerEngine(timeout_ms=30000, max_interval_ms=10000)
    started = time.perf_counter()
    held = []
    for i in range(sessions):
        owner = f"u{i}"
        (reply,) = engine.handle(
            [Message("/meta/handshake", supported_connection_types=("long-polling",))],
            0.0,
            owner=owner,
        ).replies
        client_id = reply.client_id
        outcome = engine.handle(
            [
                Message("/meta/subscribe", client_id=client_id, subscription=CHANNEL),
                Message("/meta/connect", client_id=client_id, connection_type="long-polling"),
            ],
            0.0,
            owner=owner,
        )
        held.append(outcome.hold)
    setup_s = time.perf_counter() - started
    started = time.perf_counter()
    for i, hold in enumerate(held):
        engine.deliver_to_owner(f"u{i}", CHANNEL, {"n": i}, {"gwsload": {"seq": i}})
        assert hold is not None
        engine.complete(hold, 1.0)
    deliver_s = time.perf_counter() - started
    started = time.perf_counter()
    expired = engine.sweep(100.0)
    sweep_s = time.perf_counter() - started
    assert len(expired) == sessions
    return {
        "sessions": sessions,
        "setup_per_s": sessions / setup_s,
        "deliveries_per_s": sessions / deliver_s,
        "sweep_us_per_session": sweep_s / sessions * 1e6,
    }


async def bench_endpoint(sessions: int, rounds: int) -> dict[str, float]:
    endpoint = CometdEndpoint(timeout_ms=30000)
    app = web.Application(middlewares=[_one_user])
    endpoint.add_routes(app, "/cometd")
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    await endpoint.start()
    url = str(server.make_url("/cometd"))
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    try:
        long_polling = await _long_polling_latencies(endpoint, http, url, sessions, rounds)
        websocket = await _websocket_latencies(endpoint, http, url, sessions, rounds)
    finally:
        await endpoint.close()
        await http.close()
        await server.close()
    lp50, lp99 = _percentiles(long_polling)
    ws50, ws99 = _percentiles(websocket)
    return {
        "samples": len(long_polling),
        "long_polling_p50_ms": lp50, "long_polling_p99_ms": lp99,
        "websocket_p50_ms": ws50, "websocket_p99_ms": ws99,
        "p50_ratio_ws_over_lp": ws50 / lp50,
    }  # fmt: skip


@web.middleware
async def _one_user(request: web.Request, handler: Any) -> web.StreamResponse:
    request["gws_user_id"] = USER  # every session belongs to one user: notify fans out to all
    response: web.StreamResponse = await handler(request)
    return response


async def _post(http: aiohttp.ClientSession, url: str, messages: list[dict[str, Any]]) -> Any:
    async with http.post(url, json=messages) as response:
        return await response.json()


async def _long_polling_latencies(
    endpoint: CometdEndpoint, http: aiohttp.ClientSession, url: str, sessions: int, rounds: int
) -> list[float]:
    client_ids = []
    for _ in range(sessions):
        (hs,) = await _post(
            http,
            url,
            [{"channel": "/meta/handshake", "supportedConnectionTypes": ["long-polling"]}],
        )
        client_ids.append(hs["clientId"])
        await _post(
            http,
            url,
            [{"channel": "/meta/subscribe", "clientId": hs["clientId"], "subscription": CHANNEL}],
        )
    latencies: list[float] = []
    for _ in range(rounds):
        polls = [asyncio.create_task(_timed_connect(http, url, c)) for c in client_ids]
        while sum(endpoint.engine.held_connect(c) is not None for c in client_ids) < sessions:
            await asyncio.sleep(0.002)
        sent = time.perf_counter()
        endpoint.notify(USER, CHANNEL, {"x": 1})
        latencies += [(t - sent) * 1000 for t in await asyncio.gather(*polls)]
    return latencies


async def _timed_connect(http: aiohttp.ClientSession, url: str, client_id: str) -> float:
    await _post(
        http,
        url,
        [{"channel": "/meta/connect", "clientId": client_id, "connectionType": "long-polling"}],
    )
    return time.perf_counter()


async def _websocket_latencies(
    endpoint: CometdEndpoint, http: aiohttp.ClientSession, url: str, sessions: int, rounds: int
) -> list[float]:
    sockets = []
    for _ in range(sessions):
        ws = await http.ws_connect(url)
        await ws.send_str(
            json.dumps([{"channel": "/meta/handshake", "supportedConnectionTypes": ["websocket"]}])
        )
        client_id = json.loads((await ws.receive()).data)[0]["clientId"]
        await ws.send_str(
            json.dumps(
                [
                    {"channel": "/meta/subscribe", "clientId": client_id, "subscription": CHANNEL},
                    {
                        "channel": "/meta/connect",
                        "clientId": client_id,
                        "connectionType": "websocket",
                    },
                ]
            )
        )
        await ws.receive()
        sockets.append(ws)
    latencies: list[float] = []
    try:
        for _ in range(rounds):
            sent = time.perf_counter()
            endpoint.notify(USER, CHANNEL, {"x": 1})
            for ws in sockets:
                await ws.receive()
                latencies.append((time.perf_counter() - sent) * 1000)
    finally:
        for ws in sockets:
            await ws.close()
    return latencies


def _percentiles(values: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[49], cuts[98]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--sessions", type=int, default=None, help="engine sessions")
    args = parser.parse_args()
    sessions = args.sessions or (5000 if args.quick else 50000)
    engine = bench_engine(sessions)
    fan_out = 50 if args.quick else 200
    endpoint = asyncio.run(bench_endpoint(fan_out, 10 if args.quick else 30))
    print(
        f"engine, {sessions} sessions: setup {engine['setup_per_s']:,.0f}/s, "
        f"deliveries {engine['deliveries_per_s']:,.0f}/s, "
        f"sweep {engine['sweep_us_per_session']:.1f} us/session"
    )
    print(
        f"endpoint notify->receive (fan-out to {fan_out} sessions), "
        f"{endpoint['samples']:.0f} samples each: "
        f"long-polling p50 {endpoint['long_polling_p50_ms']:.2f} ms "
        f"p99 {endpoint['long_polling_p99_ms']:.2f} ms; websocket p50 "
        f"{endpoint['websocket_p50_ms']:.2f} ms p99 {endpoint['websocket_p99_ms']:.2f} ms; "
        f"p50 ratio ws/lp {endpoint['p50_ratio_ws_over_lp']:.2f}"
    )
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps({"engine": engine, "endpoint": endpoint}, indent=2) + "\n")


if __name__ == "__main__":
    main()
