"""The master's cost per shipped operation: can one master take 20 workers x 1,000 ops/s?

A distributed run's master receives every worker's batch (its operation rows, session
and anomaly rows, incidents, a health sample, its interval histograms) as a Locust
message every ship interval and writes the run folder. This replays that path in one
process, without the agents: W simulated workers each record ``rate`` operations per
second into their own ``OpRecorder`` (real ``Outcome`` objects: 0.5 % lost, a session
row per 20 operations, an anomaly per 500), drain it with the harness's ``make_batch``
and serialize it with Locust's own ``Message``; the master side unserializes each
message, hands it to a real ``RunSink`` (and ``LiveMetrics`` with ``--live``) and
closes the interval (segments, hlog) as the master's writer thread does.

It prints the master's CPU per simulated second (cores needed at that rate) and per
1,000 ops/s, the workers' shipping cost per 1,000 ops/s, and the bytes shipped per
operation; the master side and the worker side are timed apart (CPU time, so other
work on the machine matters less; repeated, median and spread).

Not in these figures: Locust's own work on the master (zmq, heartbeats, its stats
merge), which does not grow with the operation rate but with workers and names.

    python bench/bench_master.py [--quick] [--workers W] [--rate OPS] [--seconds S]
                                 [--repeats N] [--live]

``--quick``: 4 workers x 500 ops/s for 20 s, one repeat; default: 20 x 1,000 for
30 s, three repeats. Writes bench/out/master[-live].json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from locust.rpc.protocol import Message

from gwsload.contract.operations import CALL_RECORDING_STATE_CHANGE, RECORDING_OPERATIONS
from gwsload.gws.outcomes import Anomaly, Outcome
from gwsload.harness.recorder import OpRecorder
from gwsload.harness.roles import make_batch
from gwsload.metrics.live import LiveMetrics
from gwsload.metrics.logs import GENERATOR_FIELDS
from gwsload.metrics.sink import RunSink

OUT = Path(__file__).resolve().parent / "out"
SHIP_INTERVAL_S = 2.0
OPERATIONS = tuple(RECORDING_OPERATIONS)
STATES = tuple(RECORDING_OPERATIONS.values())


class SimulatedWorker:
    """One worker's recorder fed with outcomes as its agents would make them."""

    def __init__(self, index: int, rate: float, agents: int, seed: int) -> None:
        self.name = f"w{index + 1}"
        self.rate = rate
        self.recorder = OpRecorder(self.name, start=0.0, request_event=None)
        self._rng = random.Random(seed)
        self._agents = [f"agent{index * agents + i:05d}" for i in range(agents)]
        self._n = 0

    def record(self, start: float, seconds: float) -> None:
        rng, recorder = self._rng, self.recorder
        count = round(self.rate * seconds)
        for i in range(count):
            n = self._n = self._n + 1
            sent = start + seconds * i / count
            agent = self._agents[n % len(self._agents)]
            op = n & 3
            response = sent + rng.lognormvariate(1.2, 0.5) / 1000
            notified = sent + rng.lognormvariate(2.0, 0.6) / 1000
            lost = rng.random() < 0.005
            recorder.record_outcome(
                Outcome(
                    kind="lost" if lost else "ok",
                    agent=agent,
                    call_id=f"call-{agent}",
                    operation=OPERATIONS[op],
                    notification_type=CALL_RECORDING_STATE_CHANGE,
                    expected_state=STATES[op],
                    t_intended=sent,
                    t_sent=sent,
                    t_response=response,
                    t_notified=None if lost else notified,
                    http_status=200,
                    status_code=0,
                    error="no notification within 10 s" if lost else "",
                    server_ts=None,
                    server_seq=n,
                    wall_offset=0.0,
                )
            )
            if n % 20 == 0:
                recorder.record_session_step(
                    sent,
                    agent=agent,
                    operation="Hangup",
                    response_ms=3.0,
                    http_status=200,
                    status_code=0,
                    error="",
                )
            if n % 500 == 0:
                recorder.record_anomaly(
                    Anomaly(
                        kind="late",
                        agent=agent,
                        call_id=f"call-{agent}",
                        notification_type=CALL_RECORDING_STATE_CHANGE,
                        recording_state=STATES[op],
                        operation=OPERATIONS[op],
                        t_received=notified + 11,
                        t_sent=sent,
                        server_ts=None,
                        server_seq=n,
                        wall_offset=0.0,
                    )
                )

    def ship(self, now: float) -> bytes:
        sample: dict[str, Any] = {key: 1.0 for key in GENERATOR_FIELDS}
        sample.update(ts=now, worker=self.name)
        batch = make_batch(self.recorder, now=now, samples=[sample], users=len(self._agents))
        return bytes(Message("gwsload_batch", batch, self.name).serialize())  # type: ignore[no-untyped-call]


def one_run(workers: int, rate: float, seconds: float, live: bool) -> dict[str, float]:
    """Simulate ``seconds`` of a run; CPU seconds of each side and bytes shipped."""
    t0 = time.time()
    fleet = [SimulatedWorker(i, rate, 1000, seed=i + 1) for i in range(workers)]
    worker_cpu = master_cpu = 0.0
    shipped = 0
    with tempfile.TemporaryDirectory(prefix="gwsload-bench-master-") as run_dir:
        sink = RunSink(run_dir, t0=t0, warmup_s=0.0, end_s=seconds)
        metrics = LiveMetrics(run_id="bench") if live else None
        intervals = math.ceil(seconds / SHIP_INTERVAL_S)
        for k in range(intervals):
            start = t0 + k * SHIP_INTERVAL_S
            messages = []
            for worker in fleet:
                worker.record(start, SHIP_INTERVAL_S)  # the agents' own work: not timed
                began = time.process_time()
                messages.append(worker.ship(start + SHIP_INTERVAL_S))
                worker_cpu += time.process_time() - began
            shipped += sum(len(m) for m in messages)
            began = time.process_time()
            for payload in messages:
                batch = Message.unserialize(payload).data  # type: ignore[no-untyped-call]
                sink.accept(batch)
                if metrics is not None:
                    metrics.accept(batch)
            sink.tick(start + SHIP_INTERVAL_S)
            if metrics is not None:
                metrics.update()
            master_cpu += time.process_time() - began
        began = time.process_time()
        sink.close(t0 + intervals * SHIP_INTERVAL_S)
        master_cpu += time.process_time() - began
        ops = sum(int(w.recorder.counts["ops"]) for w in fleet)
        written = sum(p.stat().st_size for p in Path(run_dir).rglob("*") if p.is_file())
    simulated_s = intervals * SHIP_INTERVAL_S
    return {
        "ops": ops,
        "master_cores": master_cpu / simulated_s,
        "master_cpu_us_per_op": master_cpu / ops * 1e6,
        "worker_cpu_us_per_op": worker_cpu / ops * 1e6,
        "bytes_per_op": shipped / ops,
        "written_bytes_per_op": written / ops,
    }


def _median_spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="4 x 500 ops/s, 20 s, once")
    parser.add_argument("--workers", type=int, help="simulated workers (default 20)")
    parser.add_argument("--rate", type=float, help="ops/s per worker (default 1000)")
    parser.add_argument("--seconds", type=float, help="simulated run length (default 30)")
    parser.add_argument("--repeats", type=int, help="runs; median and spread (default 3)")
    parser.add_argument("--live", action="store_true", help="with the live-metrics exporter")
    args = parser.parse_args()
    workers = args.workers or (4 if args.quick else 20)
    rate = args.rate or (500.0 if args.quick else 1000.0)
    seconds = args.seconds or (20.0 if args.quick else 30.0)
    repeats = args.repeats or (1 if args.quick else 3)
    load_before = os.getloadavg()[0]
    runs = []
    for i in range(repeats):
        run = one_run(workers, rate, seconds, args.live)
        runs.append(run)
        print(
            f"run {i + 1}/{repeats}: {run['ops']:,} ops; master {run['master_cores']:.2f} cores "
            f"({run['master_cpu_us_per_op']:.1f} us/op), workers' shipping "
            f"{run['worker_cpu_us_per_op']:.1f} us/op, {run['bytes_per_op']:.0f} B/op shipped",
            flush=True,
        )
    total_rate = workers * rate
    master_us = _median_spread([r["master_cpu_us_per_op"] for r in runs])
    record = {
        "benchmark": "master",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "load_average_before": load_before,
        "load_average_after": os.getloadavg()[0],
        "workers": workers,
        "rate_per_worker": rate,
        "ops_per_s": total_rate,
        "simulated_s": seconds,
        "live_metrics": args.live,
        "repeats": repeats,
        "master_cores": _median_spread([r["master_cores"] for r in runs]),
        "master_cpu_us_per_op": master_us,
        "master_core_share_per_1000_ops_s": master_us["median"] / 1000,
        "worker_cpu_us_per_op": _median_spread([r["worker_cpu_us_per_op"] for r in runs]),
        "bytes_per_op": _median_spread([r["bytes_per_op"] for r in runs]),
        "written_bytes_per_op": _median_spread([r["written_bytes_per_op"] for r in runs]),
        "runs": runs,
    }
    print(
        f"master at {total_rate:,.0f} ops/s ({workers} x {rate:,.0f}): "
        f"{record['master_cores']['median']:.2f} cores "
        f"({record['master_cores']['min']:.2f}-{record['master_cores']['max']:.2f}); "
        f"{master_us['median'] / 10:.1f} % of a core per 1,000 ops/s"
    )
    OUT.mkdir(exist_ok=True)
    path = OUT / f"master{'-live' if args.live else ''}.json"
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
