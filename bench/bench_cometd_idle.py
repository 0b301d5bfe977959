"""Benchmark: the idle cost of many CometD clients in one gevent process.

Starts the simulator (its own process), connects N clients (each its own agent,
Basic auth + JSESSIONID, subscribed to /v2/me/calls, holding a /meta/connect),
then measures in this process:

* RSS per client: (RSS with N clients connected - RSS before) / N;
* CPU while idle: process CPU seconds over a quiet window, as % of one core, and
  per /meta/connect round trip (the server holds each connect ``--hold-ms``);
* that every client is still connected after the window, with no incident.

The idle CPU is compared with the CPU spent connecting (a ratio within one run),
because the machine is shared and noisy.

    python bench/bench_cometd_idle.py [--quick] [--clients N] [--transport websocket]
"""

from __future__ import annotations

import argparse
import base64
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

import gevent
import gevent.pool
import psutil

from gwsload.cometd import CometdClient, Incident
from gwsload.cookies import CookieJar
from gwsload.simulator.process import SimulatorProcess


def _ignore(message: dict[str, Any]) -> None:
    return None


OUT = Path(__file__).resolve().parent / "out" / "cometd_idle.json"


def _connect(url: str, n: int, transport: str, incidents: list[Incident]) -> CometdClient:
    token = base64.b64encode(f"agent{n:04d}:gwsload".encode()).decode()
    client = CometdClient(
        url,
        transport,  # type: ignore[arg-type]
        headers={"Authorization": f"Basic {token}"},
        cookies=CookieJar(),
        on_incident=incidents.append,
    )
    client.handshake(timeout=30)
    client.subscribe("/v2/me/calls", _ignore, timeout=30)
    return client


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="500 clients, 6 s idle window, connects held 2 s"
    )
    parser.add_argument("--clients", type=int, default=None)
    parser.add_argument("--idle-s", type=float, default=None)
    parser.add_argument(
        "--hold-ms",
        type=int,
        default=None,
        help="how long the server holds /meta/connect (default 30000)",
    )
    parser.add_argument(
        "--transport", choices=["long-polling", "websocket"], default="long-polling"
    )
    args = parser.parse_args()
    clients_n = args.clients or (500 if args.quick else 2000)
    idle_s = args.idle_s or (6.0 if args.quick else 30.0)
    hold_ms = args.hold_ms or (2000 if args.quick else 30_000)
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    me = psutil.Process()
    sim_args = ["--agents", str(clients_n), "--cometd-timeout-ms", str(hold_ms)]
    if args.transport == "websocket":
        sim_args.append("--websocket")
    with SimulatorProcess(sim_args) as sim:
        url = sim.url + "/api/v2/notifications"
        incidents: list[Incident] = []
        # warm up imports, the hub and one client, so the baseline is fair
        warm = _connect(url, 1, args.transport, incidents)
        warm.disconnect()
        gevent.sleep(0.2)
        rss_before = me.memory_info().rss
        cpu_before = me.cpu_times()
        started = time.perf_counter()
        pool = gevent.pool.Pool(100)
        jobs = [
            pool.spawn(_connect, url, n, args.transport, incidents) for n in range(1, clients_n + 1)
        ]
        gevent.joinall(jobs, raise_error=True)
        clients = [job.value for job in jobs]
        connect_s = time.perf_counter() - started
        cpu_connect = sum(me.cpu_times()[:2]) - sum(cpu_before[:2])
        gevent.sleep(1.0)  # let the first (immediate) connects settle into held ones
        rss_connected = me.memory_info().rss
        cpu_idle_start = sum(me.cpu_times()[:2])
        idle_started = time.perf_counter()
        gevent.sleep(idle_s)
        idle_wall = time.perf_counter() - idle_started
        cpu_idle = sum(me.cpu_times()[:2]) - cpu_idle_start
        connected = sum(c.connected for c in clients)
        fds = me.num_fds()
        for client in clients:
            client.close()
    cycles = clients_n * idle_wall / (hold_ms / 1000)
    result = {
        "transport": args.transport,
        "clients": clients_n,
        "connected_after_idle": connected,
        "hold_ms": hold_ms,
        "connect_s": round(connect_s, 2),
        "cpu_connect_s": round(cpu_connect, 2),
        "rss_per_client_kib": round((rss_connected - rss_before) / clients_n / 1024, 1),
        "fds_per_client": round(fds / clients_n, 2),
        "idle_window_s": round(idle_wall, 1),
        "idle_cpu_percent_of_one_core": round(100 * cpu_idle / idle_wall, 2),
        "idle_cpu_ms_per_connect_cycle": round(1000 * cpu_idle / cycles, 3) if cycles else None,
        "idle_cpu_vs_connect_cpu": round(cpu_idle / cpu_connect, 4) if cpu_connect else None,
        "incidents": len(incidents),
    }
    print(json.dumps(result, indent=2))
    OUT.parent.mkdir(exist_ok=True)
    OUT.with_name(f"cometd_idle_{args.transport}.json").write_text(json.dumps(result, indent=2))
    return 0 if connected == clients_n else 1


if __name__ == "__main__":
    sys.exit(main())
