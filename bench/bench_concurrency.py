"""Concurrency: many agents in one load process, and what each one costs.

Each agent is a live CometD session (a held long-poll or a websocket) plus a REST
connection, recording now and then (long holds and think times). The run ramps to
the target in one Locust process; the generator samples give memory, fds and CPU
before the ramp and with everyone logged in.

    python bench/bench_concurrency.py [--quick] [--agents N] [--transport websocket]

Goal: >= 5,000 agents in one worker process (default in the full run; --quick uses
1,000). Writes bench/out/concurrency.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq

SCENARIO = """
name = "concurrency"
description = "many agents, few operations each"
warmup_s = {ramp}
[simulator]
latency_model = "fixed"
latency_ms = 2
answer_delay_ms = 10
websocket = {websocket}
[client]
transport = "{transport}"
notification_timeout_s = 30
request_timeout_s = 30
[workload]
hold_s = {{ distribution = "uniform", min = 5, max = 15 }}
think_time_s = {{ distribution = "uniform", min = 5, max = 15 }}
[[stages]]
duration_s = {duration}
users = {agents}
spawn_rate = {spawn_rate}
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 agents, short hold")
    parser.add_argument("--agents", type=int, help="agents (default 5000; 1000 with --quick)")
    parser.add_argument(
        "--transport", default="long-polling", choices=("long-polling", "websocket")
    )
    args = parser.parse_args()
    agents = args.agents or (1000 if args.quick else 5000)
    spawn_rate = 100  # logins per second: each is 8 requests plus a CometD handshake
    ramp = agents / spawn_rate
    steady = 30.0 if args.quick else 60.0
    with tempfile.TemporaryDirectory() as tmp:
        scenario = Path(tmp) / "concurrency.toml"
        scenario.write_text(
            SCENARIO.format(
                ramp=ramp + 10, duration=ramp + 10 + steady, agents=agents,
                spawn_rate=spawn_rate, transport=args.transport,
                websocket=str(args.transport == "websocket").lower(),
            )
        )  # fmt: skip
        out = Path(tmp) / "run"
        done = subprocess.run(
            [sys.executable, "-m", "gwsload.cli", "run", str(scenario), "--out", str(out),
             "--progress-every", "10"],
            capture_output=True, text=True, timeout=ramp + steady + 600, check=False,
        )  # fmt: skip
        print(done.stdout[-2500:])
        with open(out / "generator.csv", newline="") as file:
            samples = list(csv.DictReader(file))
        events = pq.read_table(out / "events", columns=["agent", "outcome"]).to_pydict()
        manifest = json.loads((out / "manifest.json").read_text())
    base = samples[0]
    full = [s for s in samples if int(s["users"]) == agents]
    if not full:
        print(f"never reached {agents} users; last sample: {samples[-1]}")
        return 1
    rss = max(int(s["rss_bytes"]) for s in full)
    fds = max(int(s["open_fds"]) for s in full)
    per_agent_kib = (rss - int(base["rss_bytes"])) / agents / 1024
    per_agent_fds = (fds - int(base["open_fds"])) / agents
    cpu = sum(float(s["cpu_percent"]) for s in full) / len(full)
    lag = max(float(s["loop_lag_ms"]) for s in full)
    active = len(set(events["agent"]))
    outcomes = Counter(events["outcome"])
    print(f"{agents} agents ({args.transport}) in one process; {active} made operations")
    print(f"memory: {rss / 2**20:.0f} MiB at full load, {per_agent_kib:.1f} KiB per agent")
    print(f"fds: {fds} at full load, {per_agent_fds:.2f} per agent")
    print(f"generator CPU {cpu:.0f}% (one core), worst event-loop lag {lag:.1f} ms")
    print(f"outcomes: {dict(outcomes)}; generator verdict: {manifest['generator']}")
    record = {
        "agents": agents,
        "transport": args.transport,
        "agents_with_operations": active,
        "rss_bytes_full": rss,
        "kib_per_agent": per_agent_kib,
        "fds_full": fds,
        "fds_per_agent": per_agent_fds,
        "cpu_percent_full": cpu,
        "worst_loop_lag_ms": lag,
        "outcomes": dict(outcomes),
        "goal_met": agents >= 5000 and active == agents and outcomes.get("lost", 0) == 0,
        "machine": platform.platform(),
    }
    out_dir = Path(__file__).resolve().parent / "out"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "concurrency.json").write_text(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
