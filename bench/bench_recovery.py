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
import platform
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from gwsload.simulator.restart import restart_scenario, run_through_a_restart, simulator_args

AGENTS = 20
OUTAGE_S = 6.0
KILL_AT_S = 12.0
RUN_S = 42


def one_restart(tmp: Path, transport: str = "long-polling") -> dict[str, Any]:
    """One run with one restart: recovery figures in seconds after the target was back."""
    simulator = simulator_args(AGENTS)
    restarted = run_through_a_restart(
        tmp,
        restart_scenario("bench-recovery", agents=AGENTS, run_s=RUN_S),
        agents=AGENTS,
        kill_at_s=KILL_AT_S,
        outage_s=OUTAGE_S,
        run_timeout_s=RUN_S + 90,
        simulator=[*simulator, "--websocket"] if transport == "websocket" else simulator,
        run_args=["--progress-every", "0", "--transport", transport],
    )
    out, t_back = restarted.out, restarted.t_back
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
