"""How fast agents operate again after the target restarts.

Each repeat runs ``gwsload run`` (20 agents, closed workload) against an external
simulator, kills the simulator with SIGKILL mid-run, starts a fresh one on the same
port after a 6 s outage, and measures, from the moment the new simulator listens:
when the first agent got an answer (the agents are backing off: 0.5 s doubling, at
most 10 s, jittered), and when each agent made its first ``ok`` operation again
(a full re-login each: the new process knows none of their sessions). Prints the
median and spread over the repeats.

    python bench/bench_recovery.py [--quick] [--repeats N] [--transport websocket]

Writes bench/out/recovery.json. Loopback only; the machine may be shared (noisy).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyarrow.parquet as pq

from gwsload.simulator.process import SimulatorProcess

AGENTS = 20
OUTAGE_S = 6.0
KILL_AT_S = 12.0
RUN_S = 42
SIMULATOR = ["--agents", str(AGENTS), "--latency-ms", "2", "--answer-delay-ms", "20"]
SCENARIO = f"""
name = "bench-recovery"
description = "the target restarts mid-run"
warmup_s = 0
[client]
notification_timeout_s = 2
[workload]
hold_s = {{ distribution = "uniform", min = 0.1, max = 0.3 }}
think_time_s = 0.1
[[stages]]
duration_s = {RUN_S}
users = {AGENTS}
spawn_rate = {AGENTS}
"""


def one_restart(tmp: Path, transport: str = "long-polling") -> dict[str, Any]:
    """One run with one restart: recovery figures in seconds after the target was back."""
    (tmp / "s.toml").write_text(SCENARIO)
    agents = "".join(f"agent{i:04d},gwsload\n" for i in range(1, AGENTS + 1))
    (tmp / "agents.csv").write_text("username,password\n" + agents)
    out = tmp / "run"
    simulator = [*SIMULATOR, "--websocket"] if transport == "websocket" else SIMULATOR
    with SimulatorProcess(simulator) as first:
        port = urlsplit(first.url).port
        run = subprocess.Popen(
            [sys.executable, "-m", "gwsload.cli", "run", str(tmp / "s.toml"),
             "--target", first.url, "--agents-file", str(tmp / "agents.csv"),
             "--out", str(out), "--progress-every", "0", "--no-preflight",
             "--transport", transport],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            while not (out / "manifest.json").exists() and run.poll() is None:
                time.sleep(0.2)
            time.sleep(KILL_AT_S)
            assert first.pid is not None
            os.kill(first.pid, signal.SIGKILL)
            time.sleep(OUTAGE_S)
            with SimulatorProcess([*simulator, "--port", str(port)]):
                t_back = time.time()
                run.wait(timeout=RUN_S + 90)
        finally:
            if run.poll() is None:
                run.kill()
                run.wait()
    events = pq.read_table(out / "events").to_pylist()
    first_ok: dict[str, float] = {}
    for event in sorted(events, key=lambda e: e["ts"]):
        if event["outcome"] == "ok" and event["ts"] > t_back:
            first_ok.setdefault(event["agent"], event["ts"] - t_back)
    incidents = [json.loads(line) for line in (out / "incidents.jsonl").read_text().splitlines()]
    answered = [
        i["ts"] + i["duration_ms"] / 1000 - t_back
        for i in incidents
        if i["kind"] == "target_unreachable" and i["ts"] < t_back
    ]
    times = sorted(first_ok.values())
    return {
        "agents_back": len(times),
        "first_answer_s": min(answered) if answered else None,
        "agent_median_s": statistics.median(times) if times else None,
        "all_back_s": times[-1] if len(times) == AGENTS else None,
        "per_agent_s": [round(t, 3) for t in times],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two repeats")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument(
        "--transport", choices=("long-polling", "websocket"), default="long-polling"
    )
    args = parser.parse_args()
    repeats = args.repeats or (2 if args.quick else 5)
    results = []
    for number in range(repeats):
        with tempfile.TemporaryDirectory(prefix="gwsload-recovery-") as tmp:
            result = one_restart(Path(tmp), args.transport)
        results.append(result)
        figures = ", ".join(
            f"{label} {'-' if result[key] is None else format(result[key], '.2f')} s"
            for label, key in (
                ("first answer", "first_answer_s"),
                ("agent median", "agent_median_s"),
                ("all back", "all_back_s"),
            )
        )
        print(
            f"repeat {number + 1}: {result['agents_back']}/{AGENTS} agents back; {figures} "
            "after the target returned",
            flush=True,
        )
    summary: dict[str, Any] = {
        "agents": AGENTS,
        "outage_s": OUTAGE_S,
        "repeats": repeats,
        "transport": args.transport,
    }
    for key in ("first_answer_s", "agent_median_s", "all_back_s"):
        values = [r[key] for r in results if r[key] is not None]
        if values:
            summary[key] = {
                "median": statistics.median(values),
                "min": min(values),
                "max": max(values),
            }
            print(
                f"{key}: median {statistics.median(values):.2f} s "
                f"(min {min(values):.2f}, max {max(values):.2f}, {len(values)} repeats)"
            )
    summary["runs"] = results
    summary["machine"] = platform.platform()
    out = Path(__file__).resolve().parent / "out"
    out.mkdir(exist_ok=True)
    (out / "recovery.json").write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
