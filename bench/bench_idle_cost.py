"""Idle cost: CPU microseconds per agent-second, and per operation, of one load process.

Two ``gwsload run`` runs of the same N agents against the embedded simulator (its
default 30 s /meta/connect hold), one load process:

* **idle**: every agent logs in, starts recording once and then holds for longer
  than the run: it keeps its CometD session (one /meta/connect renewed every 30 s)
  and makes no operation. CPU over a window of whole connect cycles, after the last
  login + one cycle, divided by agents x seconds = **µs per agent-second**.
* **busy**: the same agents recording (hold and think 5-15 s, pause share 0.3, some
  ~150 ops/s at 1,500 agents). (CPU - the idle CPU) / operations in the same kind
  of window = **µs per operation** (its HTTP request, its notification, the
  recorder's rows, histograms and Locust stats, and the agent's own wake-ups).

The CPU is the generator's own samples (``generator.csv``, every 2 s): the process
that runs the agents and, in a single-process run, writes the run folder. Each
kind runs ``--repeat`` times; the record has every run, the median and the spread.

    python bench/bench_idle_cost.py [--quick] [--agents N] [--repeat R] [--window-s S]

``--quick``: 500 agents, one run of each, 60 s windows; default 1,500 agents, 3
runs of each, 60 s windows. Writes bench/out/idle_cost-<agents>.json. The figures
depend on the machine and on what else runs there: the record carries the load
average before and after each run; compare runs made on the same machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

OUT = Path(__file__).resolve().parent / "out"
SPAWN_RATE = 100.0
CONNECT_HOLD_S = 30.0

SCENARIO = """
name = "idle-cost-{kind}"
ramp_down_s = 10
min_active_share = {min_active_share}
[simulator]
agents = {agents}
seed = 11
websocket = {websocket}
[client]
transport = "{transport}"
notification_timeout_s = 10
[workload]
hold_s = {hold}
think_time_s = {think}
pause_share = {pause_share}
[[stages]]
duration_s = {duration_s}
users = {agents}
spawn_rate = {spawn_rate}
"""

KINDS = {
    # one StartCallRecording per agent at login, then a hold longer than any run
    "idle": {"hold": "1000000", "think": "10", "pause_share": 0.0, "min_active_share": 0.01},
    "busy": {
        "hold": '{ distribution = "uniform", min = 5, max = 15 }',
        "think": '{ distribution = "uniform", min = 5, max = 15 }',
        "pause_share": 0.3,
        "min_active_share": 1.0,
    },
}


def _run(kind: str, agents: int, window_s: float, transport: str) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-idle-{kind}-"))
    ramp_s = agents / SPAWN_RATE
    # room for a slowed ramp, one connect cycle to settle, then the window
    duration_s = round(2 * ramp_s + CONNECT_HOLD_S + window_s + 10)
    scenario = tmp / "idle.toml"
    scenario.write_text(
        SCENARIO.format(
            kind=kind,
            agents=agents,
            transport=transport,
            duration_s=duration_s,
            spawn_rate=SPAWN_RATE,
            websocket="true" if transport == "websocket" else "false",
            **KINDS[kind],
        )
    )
    out = tmp / "run"
    load_before = os.getloadavg()
    done = subprocess.run(
        [sys.executable, "-m", "gwsload.cli", "run", str(scenario), "--out", str(out),
         "--progress-every", "30"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    record = _read(out, agents, window_s)
    record.update(
        kind=kind,
        exit_code=done.returncode,
        loadavg_before=[round(v, 2) for v in load_before],
        loadavg_after=[round(v, 2) for v in os.getloadavg()],
        run_dir=str(out),
    )
    return record


def _read(out: Path, agents: int, window_s: float) -> dict[str, Any]:
    manifest = json.loads((out / "manifest.json").read_text())
    t0 = float(manifest["t0"])
    end = t0 + sum(float(s["duration_s"]) for s in manifest["scenario"]["stages"])
    steps = pq.read_table(out / "sessions", columns=["operation", "ts"]).to_pandas()
    logins = steps[steps.operation == "StartContactCenterSession"]
    last_login = float(logins.ts.max()) if len(logins) else t0
    # whole connect cycles after every agent's first held connect
    start = last_login + CONNECT_HOLD_S + 5.0
    stop = min(start + window_s, end - 2.0)
    gen = pd.read_csv(out / "generator.csv")
    # a sample covers the period before its ts
    window = gen[(gen.ts > start) & (gen.ts <= stop)].sort_values("ts")
    if len(window) < 2:
        raise SystemExit(
            f"{out}: no generator samples in the window {start - t0:.0f}..{stop - t0:.0f} s"
        )
    period_s = float(window.ts.iloc[-1] - window.ts.iloc[0]) + float(window.ts.diff().median())
    cpu_s = float((window.cpu_percent / 100.0).mean()) * period_s
    events = pq.read_table(out / "events", columns=["outcome", "ts"]).to_pandas()
    in_window = events[
        (events.ts > window.ts.iloc[0] - period_s / len(window)) & (events.ts <= stop)
    ]
    return {
        "agents": agents,
        "logins_done_s": round(last_login - t0, 1),
        "window_s": round(period_s, 1),
        "cpu_s": round(cpu_s, 3),
        "cpu_percent_of_one_core": round(100 * cpu_s / period_s, 2),
        "cpu_wait_percent": round(float(window.cpu_wait_percent.median()), 1),
        "loop_lag_p99_ms": round(float(window.loop_lag_ms.quantile(0.99)), 1),
        "operations": len(in_window),
        "ops_per_s": round(len(in_window) / period_s, 1),
        "lost": int((events.outcome == "lost").sum()),
        "rss_mib": round(float(window.rss_bytes.median()) / 2**20, 1),
        "open_fds": int(window.open_fds.median()),
    }


def _spread(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 2),
        "min": round(min(values), 2),
        "max": round(max(values), 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="500 agents, one run of each")
    parser.add_argument("--agents", type=int, help="agents (default 1500; 500 with --quick)")
    parser.add_argument("--repeat", type=int, help="runs of each kind (default 3; 1 with --quick)")
    parser.add_argument("--window-s", type=float, default=60.0, help="measured window, s")
    parser.add_argument(
        "--transport", choices=["long-polling", "websocket"], default="long-polling"
    )
    parser.add_argument("--label", default="", help="a note kept in the record (e.g. a commit)")
    args = parser.parse_args()
    agents = args.agents or (500 if args.quick else 1500)
    repeat = args.repeat or (1 if args.quick else 3)
    runs: list[dict[str, Any]] = []
    for _ in range(repeat):
        for kind in ("idle", "busy"):
            runs.append(_run(kind, agents, args.window_s, args.transport))
            shown = ("kind", "cpu_percent_of_one_core", "ops_per_s", "loop_lag_p99_ms")
            print(json.dumps({k: runs[-1][k] for k in (*shown, "loadavg_after")}), flush=True)
    idle = [r for r in runs if r["kind"] == "idle"]
    busy = [r for r in runs if r["kind"] == "busy"]
    idle_us = [1e6 * r["cpu_s"] / (r["window_s"] * agents) for r in idle]
    idle_rate = statistics.median(r["cpu_s"] / r["window_s"] for r in idle)
    op_us = [
        1e6 * (r["cpu_s"] - idle_rate * r["window_s"]) / r["operations"]
        for r in busy
        if r["operations"]
    ]
    record = {
        "agents": agents,
        "transport": args.transport,
        "connect_hold_s": CONNECT_HOLD_S,
        "label": args.label,
        "idle_us_per_agent_second": _spread(idle_us),
        "us_per_operation": _spread(op_us) if op_us else None,
        "idle_us_per_connect_cycle": round(statistics.median(idle_us) * CONNECT_HOLD_S, 1),
        "runs": runs,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    OUT.mkdir(exist_ok=True)
    name = f"idle_cost-{args.transport}-{agents}"
    (OUT / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps({k: v for k, v in record.items() if k != "runs"}, indent=2))
    return 0 if all(r["lost"] == 0 for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
