"""Generator efficiency: recording ops/s of one harness process vs a minimal raw client.

Both drive the same simulator build, with the same settings, over the same wire
protocol (GWS REST + Bayeux long-polling), with the same number of agents doing
back-to-back StartCallRecording / StopCallRecording, each waiting for its
notification:

- harness: ``gwsload run`` with one Locust process (everything it records: rows,
  HDR histograms, Locust stats, shipping, health samples);
- raw: a hand-written gevent client in this file (geventhttpclient, one REST and one
  long-polling connection per agent, JSON by hand, counting only).

Prints ops/s of each and their ratio (goal: harness >= 0.6 x raw), and ops per
generator CPU-second of each (the simulator runs beside them on the same machine,
so the CPU figure shows what the generator itself costs).

    python bench/bench_generator.py [--quick]

Writes bench/out/generator.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from gwsload.simulator.process import SimulatorProcess

SIMULATOR = ["--latency-model", "fixed", "--latency-ms", "0", "--answer-delay-ms", "10"]

RAW_CLIENT = r"""
import base64, json, sys, time
from gevent import monkey; monkey.patch_all()
import gevent, psutil
from gevent.queue import Queue
from geventhttpclient import HTTPClient, URL

base, agents, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
url = URL(base)
done = [0]

def agent(n, start_at, stop_at):
    name = f"agent{n:04d}"
    auth = "Basic " + base64.b64encode(f"{name}:gwsload".encode()).decode()
    rest = HTTPClient(url.host, url.port, concurrency=1, network_timeout=30)
    poll = HTTPClient(url.host, url.port, concurrency=1, network_timeout=60)
    headers = {"Authorization": auth, "Content-Type": "application/json"}
    def call(client, method, path, body=None):
        data = None if body is None else json.dumps(body)
        r = client.request(method, path, body=data, headers=headers)
        raw = r.read()
        for key, value in r.headers:
            if key.lower() == "set-cookie":
                headers["Cookie"] = value.split(";", 1)[0]
        return json.loads(raw) if raw else {}
    call(rest, "GET", "/api/v2/me")
    path = "/api/v2/notifications"
    hs = call(poll, "POST", path + "/handshake", [{"channel": "/meta/handshake", "version": "1.0",
              "supportedConnectionTypes": ["long-polling"]}])
    cid = hs[0]["clientId"]
    call(poll, "POST", path, [{"channel": "/meta/subscribe", "clientId": cid,
                               "subscription": "/v2/me/calls"}])
    inbox = Queue()
    def listen():
        while True:
            for m in call(poll, "POST", path + "/connect", [{"channel": "/meta/connect",
                          "clientId": cid, "connectionType": "long-polling"}]):
                if m.get("channel") == "/v2/me/calls":
                    inbox.put(m["data"])
    gevent.spawn(listen)
    call(rest, "POST", "/api/v2/me", {"operationName": "StartContactCenterSession",
                                      "channels": ["voice"]})
    call(rest, "POST", "/api/v2/me/channels/voice", {"operationName": "Ready"})
    device = call(rest, "GET", "/api/v2/me/devices?fields=*")["devices"][0]["id"]
    call(rest, "POST", f"/api/v2/me/devices/{device}/calls",
         {"operationName": "Dial", "destination": {"phoneNumber": "5000"}})
    call_id = None
    while True:
        data = inbox.get(timeout=10)
        if data["call"]["state"] == "Established":
            call_id = data["call"]["id"]
            break
    gevent.sleep(max(start_at - time.time(), 0))
    ops = (("StartCallRecording", "Recording"), ("StopCallRecording", "Stopped"))
    i = 0
    while time.time() < stop_at:
        op, state = ops[i & 1]
        i += 1
        call(rest, "POST", f"/api/v2/me/calls/{call_id}", {"operationName": op})
        while True:
            data = inbox.get(timeout=10)
            if (data.get("notificationType") == "CallRecordingStateChange"
                    and data["call"].get("recordingState") == state):
                break
        done[0] += 1

start_at = time.time() + 3 + agents * 0.02
stop_at = start_at + seconds
proc = psutil.Process()
greenlets = [gevent.spawn(agent, n + 1, start_at, stop_at) for n in range(agents)]
gevent.sleep(max(start_at - time.time(), 0))
cpu0 = sum(proc.cpu_times()[:2]); count0 = done[0]
gevent.sleep(max(stop_at - time.time(), 0))
cpu1 = sum(proc.cpu_times()[:2]); count1 = done[0]
failed = sum(1 for g in greenlets if g.dead and not g.successful())
print(json.dumps({"ops": count1 - count0, "seconds": seconds, "cpu_s": cpu1 - cpu0,
                  "failed_agents": failed}))
"""

SCENARIO = """
name = "bench-generator"
description = "back-to-back recording operations"
warmup_s = {warmup}
[simulator]
latency_model = "fixed"
latency_ms = 0
answer_delay_ms = 10
[client]
notification_timeout_s = 10
[workload]
hold_s = 0
think_time_s = 0
[[stages]]
duration_s = {duration}
users = {agents}
spawn_rate = {spawn_rate}
"""


def run_raw(agents: int, seconds: float) -> dict[str, float]:
    with SimulatorProcess(["--agents", str(agents), *SIMULATOR]) as sim:
        done = subprocess.run(
            [sys.executable, "-c", RAW_CLIENT, sim.url, str(agents), str(seconds)],
            capture_output=True, text=True, timeout=seconds + 120, check=True,
        )  # fmt: skip
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["failed_agents"]:
        raise SystemExit(f"raw client: {result['failed_agents']} agents failed:\n{done.stderr}")
    return {
        "ops_per_s": result["ops"] / result["seconds"],
        "ops_per_cpu_s": result["ops"] / max(result["cpu_s"], 1e-9),
    }


def run_harness(agents: int, seconds: float, folder: Path) -> dict[str, float]:
    warmup = 3 + agents * 0.02
    scenario = folder / "bench.toml"
    scenario.write_text(
        SCENARIO.format(
            warmup=warmup, duration=warmup + seconds, agents=agents, spawn_rate=agents * 2
        )
    )
    out = folder / "run"
    subprocess.run(
        [sys.executable, "-m", "gwsload.cli", "run", str(scenario), "--out", str(out),
         "--progress-every", "0"],
        capture_output=True, text=True, timeout=seconds + 180, check=False,
    )  # fmt: skip
    manifest = json.loads((out / "manifest.json").read_text())
    t0 = float(manifest["t0"])
    ts = pq.read_table(out / "events", columns=["ts"]).column("ts").to_pylist()
    ops = sum(1 for t in ts if t0 + warmup <= t < t0 + warmup + seconds)
    with open(out / "generator.csv", newline="") as file:
        end = t0 + warmup + seconds
        rows = [r for r in csv.DictReader(file) if t0 + warmup <= float(r["ts"]) <= end]
    cpu_percent = sum(float(r["cpu_percent"]) for r in rows) / max(len(rows), 1)
    return {
        "ops_per_s": ops / seconds,
        "ops_per_cpu_s": ops / max(seconds * cpu_percent / 100.0, 1e-9),
        "cpu_percent": cpu_percent,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs")
    parser.add_argument("--agents", type=int, default=20)
    args = parser.parse_args()
    seconds = 10.0 if args.quick else 30.0
    rounds = 2 if args.quick else 3
    # alternate the two so that machine noise (shared cores) hits both alike; medians
    harness_runs, raw_runs = [], []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as tmp:
            harness_runs.append(run_harness(args.agents, seconds, Path(tmp)))
        raw_runs.append(run_raw(args.agents, seconds))
    harness = {k: statistics.median(r[k] for r in harness_runs) for k in harness_runs[0]}
    raw = {k: statistics.median(r[k] for r in raw_runs) for k in raw_runs[0]}
    ratio = harness["ops_per_s"] / raw["ops_per_s"] if raw["ops_per_s"] else 0.0
    cpu_ratio = harness["ops_per_cpu_s"] / raw["ops_per_cpu_s"] if raw["ops_per_cpu_s"] else 0.0
    print(f"agents {args.agents}, {rounds} x {seconds:g} s each (medians), simulator latency 0 ms")
    print(f"raw client: {raw['ops_per_s']:.1f} ops/s, {raw['ops_per_cpu_s']:.0f} ops per CPU-s")
    print(
        f"harness:    {harness['ops_per_s']:.1f} ops/s, {harness['ops_per_cpu_s']:.0f} ops per "
        f"CPU-s (generator CPU {harness['cpu_percent']:.0f}%)"
    )
    print(f"ops/s ratio harness/raw: {ratio:.2f} (goal >= 0.6)")
    print(f"ops per generator CPU-second ratio harness/raw: {cpu_ratio:.2f}")
    record: dict[str, Any] = {
        "agents": args.agents,
        "seconds": seconds,
        "rounds": rounds,
        "raw": raw,
        "harness": harness,
        "raw_runs": raw_runs,
        "harness_runs": harness_runs,
        "ops_ratio": ratio,
        "cpu_efficiency_ratio": cpu_ratio,
        "goal_met": ratio >= 0.6,
        "machine": platform.platform(),
    }
    out = Path(__file__).resolve().parent / "out"
    out.mkdir(exist_ok=True)
    (out / "generator.json").write_text(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
