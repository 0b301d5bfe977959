"""Scale: N agents at contact-center rates in one worker process (or several).

Runs ``gwsload run`` against the embedded simulator with the contact-center workload
(long-polling, the simulator's 30 s /meta/connect hold, hold 60-120 s, think 10-30 s,
pause share 0.3, logins at 100/s), then reads the run folder: agents that operated,
lost notifications, exit code, and the steady state (from the end of the ramp plus
30 s to the end of the stage) of the generator (CPU median per process, event-loop
lag p99, RSS and fds per agent) and of the simulator (CPU median, fds per agent).
The ramp ends with the last agent's first login: paced logins (docs/running.md) may
take longer than ``agents / 100`` seconds on a loaded machine.

    python bench/bench_scale.py [--quick] [--agents N] [--workers W] [--minutes M]
                                [--transport websocket] [--nodes N [--balancers K]]
                                [--spawn-rate R]

``--nodes N``: the embedded simulator as N node processes behind ``--balancers K``
HAProxy processes (docs/simulator.md): past ~18,000 agents one simulator process, and
past ~9,000 one HAProxy process, runs out of descriptors under a ``ulimit -n`` of
20,000. The record then has each node's CPU and the balancers' CPU and descriptors.

``--quick``: 500 agents for 3 minutes; default (``--full``): 10,000 agents, 6 minutes.
``--cases``: the sizing cases of docs/scaling.md in turn (``CASES``: 10,000 agents in one
process, long-polling then websocket, then 20,000 over 4 workers, 2 nodes, 3 balancers).
Writes bench/out/scale[-wW]-N[-ws][-nN].json and the same as a table row (``.md``, in
the form of docs/scaling.md's, ``scale_table.py``); with ``--cases`` also
bench/out/scale-cases.md, one row per case. The figures depend on the machine and on
what else runs on it: the record carries the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import psutil
import pyarrow.parquet as pq
import scale_table

OUT = Path(__file__).resolve().parent / "out"
SPAWN_RATE = 100.0
SETTLE_S = 30.0


class Case(NamedTuple):
    agents: int
    workers: int = 0
    transport: str = "long-polling"
    nodes: int = 1
    balancers: int = 1
    spawn_rate: float = SPAWN_RATE

    def name(self) -> str:
        """bench/out/<name>.json"""
        name = "scale" + (f"-w{self.workers}" if self.workers else "") + f"-{self.agents}"
        name += "-ws" if self.transport == "websocket" else ""
        return name + (f"-n{self.nodes}" if self.nodes > 1 else "")


#: ``--cases``: 10,000 agents in one process in each transport, then 20,000 over four
#: workers against two simulator nodes behind three HAProxy processes (one simulator
#: process cannot hold 20,000 sockets under a ``ulimit -n`` of 20,000), logins at 50/s
CASES = (
    Case(10_000),
    Case(10_000, transport="websocket"),
    Case(20_000, 4, "websocket", nodes=2, balancers=3, spawn_rate=50.0),
)

SCENARIO = """
name = "scale"
ramp_down_s = {ramp_down_s}
min_active_share = 0.99
[simulator]
agents = {sim_agents}
seed = 11
websocket = {websocket}
nodes = {nodes}
balancers = {balancers}
[client]
transport = "{transport}"
notification_timeout_s = 10
[workload]
hold_s = {{ distribution = "uniform", min = 60, max = 120 }}
think_time_s = {{ distribution = "uniform", min = 10, max = 30 }}
pause_share = 0.3
[[stages]]
duration_s = {duration_s}
users = {agents}
spawn_rate = {spawn_rate}
"""


def _run(
    agents: int,
    workers: int,
    minutes: float,
    keep: Path | None,
    transport: str,
    *,
    cluster: tuple[int, int] = (1, 1),
    spawn_rate: float = SPAWN_RATE,
) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    ramp_s = agents / spawn_rate
    scenario = tmp / "scale.toml"
    scenario.write_text(
        SCENARIO.format(
            agents=agents,
            # spare identities with workers: Locust may give a worker more users than
            # its share of the agents (docs/running.md)
            sim_agents=agents * 2 if workers else agents,
            duration_s=round(ramp_s + minutes * 60.0),
            spawn_rate=spawn_rate,
            ramp_down_s=round(ramp_s),
            transport=transport,
            websocket="true" if transport == "websocket" else "false",
            nodes=cluster[0],
            balancers=cluster[1],
        )
    )
    out = keep or tmp / "run"
    load_before = os.getloadavg()
    started = time.monotonic()
    with subprocess.Popen(
        [sys.executable, "-m", "gwsload.cli", "run", str(scenario), "--out", str(out),
         "--workers", str(workers), "--progress-every", "30"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    ) as proc:  # fmt: skip
        master: list[tuple[float, float, int]] = []
        balancers: list[tuple[float, float, int]] = []
        if workers:
            sampler = threading.Thread(target=_sample_master, args=(proc, master), daemon=True)
            sampler.start()
        if cluster[0] > 1:
            threading.Thread(target=_sample_balancers, args=(proc, balancers), daemon=True).start()
        output, _ = proc.communicate()
    wall_s = time.monotonic() - started
    record = _read(out, agents, ramp_s, master)
    if balancers:
        record.update(_balancers(balancers, record["steady_from"], record["end"]))
    record.update(
        agents=agents,
        workers=workers,
        nodes=cluster[0],
        balancers=cluster[1],
        transport=transport,
        spawn_rate_asked=spawn_rate,
        exit_code=proc.returncode,
        wall_s=round(wall_s, 1),
        loadavg_before=[round(v, 2) for v in load_before],
        loadavg_after=[round(v, 2) for v in os.getloadavg()],
        cpus=os.cpu_count(),
        python=platform.python_version(),
        run_dir=str(out),
        tail=output.strip().splitlines()[-4:],
    )
    return record


def _spread(values: pd.Series) -> dict[str, float]:
    """The 2-s samples' median, p90, p99 and worst (the p99 of ~75 samples is the
    second-worst window); empty when the ramp took the whole stage (run longer)."""
    if not len(values):
        return {}
    q = np.percentile(values, [50, 90, 99])
    return {
        "median": round(float(q[0]), 1),
        "p90": round(float(q[1]), 1),
        "p99": round(float(q[2]), 1),
        "max": round(float(values.max()), 1),
    }


def _sample_master(proc: subprocess.Popen[str], into: list[tuple[float, float, int]]) -> None:
    """Every 2 s: the Locust master's (ts, CPU % of one core, RSS) while the run lasts
    (the master samples only its workers into generator.csv, not itself)."""
    master: psutil.Process | None = None
    while proc.poll() is None:
        time.sleep(2.0)
        try:
            if master is None:
                found = [
                    p for p in psutil.Process(proc.pid).children(recursive=True)
                    if "--master" in p.cmdline()
                ]  # fmt: skip
                if found:
                    master = found[0]
                    master.cpu_percent()  # the first call starts the measure
                continue
            into.append((time.time(), master.cpu_percent(), master.memory_info().rss))
        except psutil.Error:
            master = None


def _sample_balancers(proc: subprocess.Popen[str], into: list[tuple[float, float, int]]) -> None:
    """Every 2 s while the run lasts: (ts, CPU % of one core, open fds) summed over the
    embedded cluster's HAProxy processes."""
    known: dict[int, psutil.Process] = {}
    while proc.poll() is None:
        time.sleep(2.0)
        try:
            for p in psutil.Process(proc.pid).children(recursive=True):
                if p.pid not in known and p.name().startswith("haproxy"):
                    known[p.pid] = p
                    p.cpu_percent()  # the first call starts the measure
            cpu, fds = 0.0, 0
            for p in list(known.values()):
                cpu += p.cpu_percent()
                fds += p.num_fds()
            if known:
                into.append((time.time(), cpu, fds))
        except psutil.Error:
            continue


def _balancers(
    samples: list[tuple[float, float, int]], since: float, until: float
) -> dict[str, Any]:
    steady = [(cpu, fds) for ts, cpu, fds in samples if since <= ts < until]
    if not steady:
        return {}
    return {
        "balancers_cpu_median_percent": round(float(np.median([c for c, _ in steady])), 1),
        "balancers_fds_median": int(np.median([f for _, f in steady])),
    }


def _simulator_health(out: Path) -> pd.DataFrame:
    """simulator.csv, or every node's simulator-nodeN.csv with a ``node`` column."""
    files = sorted(out.glob("simulator*.csv"))
    frames = [pd.read_csv(f).assign(node=f.stem) for f in files if "truth" not in f.name]
    return pd.concat(frames, ignore_index=True)


def _read(
    out: Path, agents: int, ramp_s: float, master: list[tuple[float, float, int]]
) -> dict[str, Any]:
    manifest = json.loads((out / "manifest.json").read_text())
    t0 = float(manifest["t0"])
    end = t0 + sum(float(s["duration_s"]) for s in manifest["scenario"]["stages"])
    events = pq.read_table(out / "events", columns=["agent", "outcome", "ts"]).to_pandas()
    # the ramp ends with the last first login (paced logins may take longer than asked)
    steps = pq.read_table(out / "sessions", columns=["operation", "ts"]).to_pandas()
    logins = steps[(steps.operation == "StartContactCenterSession") & (steps.ts < end)]
    ramp_end = max(t0 + ramp_s, float(logins.ts.max()) if len(logins) else 0.0)
    steady_from = ramp_end + SETTLE_S
    steady = events[(events.ts >= steady_from) & (events.ts < end)]
    lost = events[events.outcome == "lost"]
    whole_run = {
        "logins": manifest.get("generator", {}).get("logins"),
        "agents_operating": int(events[events.outcome == "ok"].agent.nunique()),
        "operations": len(events),
        "lost": int((events.outcome == "lost").sum()),
        "outcomes": {str(k): int(v) for k, v in events.outcome.value_counts().items()},
        "ramp_s": round(ramp_end - t0, 1),
        "lost_by_phase": {
            "ramp": int((lost.ts < min(steady_from, end)).sum()),
            "steady": int(((lost.ts >= steady_from) & (lost.ts < end)).sum()),
            "sign_off": int((lost.ts >= end).sum()),
        },
        "steady_from": steady_from,
        "end": end,
    }
    if steady_from >= end:  # the ramp took the whole stage: nothing steady to judge
        return {**whole_run, "steady_s": 0.0}
    gen = pd.read_csv(out / "generator.csv")
    gen_steady = gen[(gen.ts >= steady_from) & (gen.ts < end)]
    sim = _simulator_health(out)
    sim_steady = sim[(sim.ts >= steady_from) & (sim.ts < end)]
    per_node = sim_steady.groupby("node")
    first_rss = gen.sort_values("ts").groupby("worker").rss_bytes.first().sum()
    per_worker = gen_steady.groupby("worker")
    rss = per_worker.rss_bytes.median().sum()
    fds = per_worker.open_fds.median().sum()
    gen_lag, sim_lag = _spread(gen_steady.loop_lag_ms), _spread(sim_steady.loop_lag_ms)
    return {
        **whole_run,
        "steady_s": round(end - steady_from, 1),
        "steady_ops_per_s": round(len(steady) / max(end - steady_from, 1.0), 1),
        "generator_cpu_median_percent": {
            str(w): round(float(v), 1) for w, v in per_worker.cpu_percent.median().items()
        },
        "generator_cpu_wait_median_percent": round(float(gen_steady.cpu_wait_percent.median()), 1),
        "generator_loop_lag_p99_ms": gen_lag.get("p99"),
        "generator_loop_lag_ms": gen_lag,
        "generator_rss_mib": round(rss / 2**20, 1),
        "generator_rss_kib_per_agent": round((rss - first_rss) / 1024 / agents, 1),
        "generator_fds_per_agent": round(fds / agents, 2),
        "simulator_cpu_median_percent": {
            str(n): round(float(v), 1) for n, v in per_node.cpu_percent.median().items()
        },
        "simulator_loop_lag_p99_ms": sim_lag.get("p99"),
        "simulator_loop_lag_ms": sim_lag,
        "simulator_rss_mib": round(float(per_node.rss_bytes.median().sum()) / 2**20, 1),
        "simulator_fds_per_agent": round(float(per_node.open_fds.median().sum()) / agents, 2),
        **_master(master, steady_from, end, len(steady) / max(end - steady_from, 1.0)),
    }


def _master(
    samples: list[tuple[float, float, int]], since: float, until: float, ops_per_s: float
) -> dict[str, Any]:
    """A distributed run's master (it receives and writes every worker's rows): its CPU
    and memory per 1,000 ops/s shipped, and what 20 workers x 1,000 ops/s would ask."""
    steady = [(cpu, rss) for ts, cpu, rss in samples if since <= ts < until]
    if not steady or ops_per_s <= 0:
        return {}
    cpu = float(np.median([c for c, _ in steady]))
    rss_mib = float(np.median([r for _, r in steady])) / 2**20
    per_1000 = cpu / (ops_per_s / 1000.0)
    return {
        "master_cpu_median_percent": round(cpu, 1),
        "master_rss_mib": round(rss_mib, 1),
        "master_cpu_percent_per_1000_ops_s": round(per_1000, 1),
        "master_cpu_percent_at_20000_ops_s_estimate": round(per_1000 * 20, 0),
    }


def asked_case(args: argparse.Namespace) -> Case:
    """The case the options ask for, its agents 0 when not given."""
    shape = (args.workers, args.transport, args.nodes, args.balancers, args.spawn_rate)
    return Case(args.agents or 0, *shape)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="500 agents, 3 minutes")
    parser.add_argument("--agents", type=int, help="agents (default 10000; 500 with --quick)")
    parser.add_argument("--workers", type=int, default=0, help="worker processes (0: one)")
    parser.add_argument("--minutes", type=float, help="steady minutes after the ramp")
    parser.add_argument("--keep", type=Path, help="write the run folder here")
    parser.add_argument(
        "--transport", choices=["long-polling", "websocket"], default="long-polling"
    )
    parser.add_argument(
        "--spawn-rate",
        type=float,
        default=SPAWN_RATE,
        help=f"logins (and sign-offs) per second asked (default {SPAWN_RATE:g})",
    )
    parser.add_argument("--nodes", type=int, default=1, help="simulator nodes (HAProxy past 1)")
    parser.add_argument(
        "--balancers",
        type=int,
        default=1,
        help="HAProxy processes (docs/simulator.md)",
    )
    parser.add_argument(
        "--cases",
        action="store_true",
        help="run the sizing cases in turn (10,000 agents; 20,000 on 4 workers), one table",
    )
    args = parser.parse_args()
    if args.spawn_rate <= 0:
        parser.error(f"--spawn-rate must be more than 0, got {args.spawn_rate:g}")
    if args.cases and (args.quick or args.agents or asked_case(args) != Case(0)):
        parser.error("--cases runs its own cases: give it only --minutes and --keep")
    minutes = args.minutes or (3.0 if args.quick else 6.0)
    asked = asked_case(args)._replace(agents=args.agents or (500 if args.quick else 10_000))
    ok = True
    records = []
    for case in CASES if args.cases else (asked,):
        name = case.name()
        keep = args.keep / name if args.keep and args.cases else args.keep
        record = _run(
            case.agents,
            case.workers,
            minutes,
            keep,
            case.transport,
            cluster=(case.nodes, case.balancers),
            spawn_rate=case.spawn_rate,
        )
        OUT.mkdir(exist_ok=True)
        (OUT / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n")
        (OUT / f"{name}.md").write_text(scale_table.table([record]))
        print(json.dumps(record, indent=2))
        print(scale_table.table([record]), flush=True)
        records.append(record)
        ok = ok and record["exit_code"] == 0 and record["lost"] == 0
        ok = ok and record["agents_operating"] == case.agents
    if args.cases:
        (OUT / "scale-cases.md").write_text(scale_table.table(records))
        print(f"wrote {OUT / 'scale-cases.md'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
