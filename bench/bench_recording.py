"""Cost of measurement recording per operation, and of the periodic flushes.

Per operation the harness records three latencies (HDR) and buffers one event
row. This prints microseconds per operation for that hot path, the share of one
core it takes at a given operation rate, and the off-path costs: draining rows
into a Parquet segment, encoding / merging interval histograms, writing hlog lines.

    python bench/bench_recording.py [--quick]

Writes bench/out/recording.json. Figures are ratios and per-op costs measured
within this one run (shared machines are noisy).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import random
import tempfile
import time
from pathlib import Path

from gwsload.metrics import (
    EVENT_COLUMNS,
    HlogWriter,
    Interval,
    IntervalMerger,
    LatencyRecorder,
    RowBuffer,
    SegmentWriter,
)

OPERATIONS = ("StartCallRecording", "StopCallRecording")


def event_row(i: int, operation: str, value: float) -> tuple[object, ...]:
    """One ``ok`` events row of ``EVENT_COLUMNS`` (the row the harness buffers per
    operation), latencies derived from ``value`` ms."""
    return (
        float(i), "w1", "agent0001", "call", operation, "Recording", "ok", 200, 0, "",
        value / 4, value, value * 0.75, value, 0.0, math.nan, i, math.nan, "",
    )  # fmt: skip


def hot_path(ops: int) -> tuple[float, float]:
    """(us per op with recording, us per op of the bare loop building the same row)."""
    rng = random.Random(1)
    latencies = [rng.lognormvariate(3.0, 1.0) for _ in range(1024)]
    recorder = LatencyRecorder(start=0.0)
    events = RowBuffer(EVENT_COLUMNS)

    started = time.perf_counter()
    for i in range(ops):
        value = latencies[i & 1023]
        operation = OPERATIONS[i & 1]
        row = event_row(i, operation, value)
    bare = time.perf_counter() - started

    started = time.perf_counter()
    for i in range(ops):
        value = latencies[i & 1023]
        operation = OPERATIONS[i & 1]
        row = event_row(i, operation, value)
        recorder.record("response", operation, value / 4)
        recorder.record("notify", operation, value)
        recorder.record("notify_from_intended", operation, value)
        events.append(row)
    recorded = time.perf_counter() - started
    return recorded / ops * 1e6, bare / ops * 1e6


def flush_costs(rows: int, workers: int) -> dict[str, float]:
    """Off-path costs: segment write, interval encode/decode/merge, hlog write."""
    rng = random.Random(2)
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        events = RowBuffer(EVENT_COLUMNS)
        recorder = LatencyRecorder(start=0.0)
        for i in range(rows):
            value = rng.lognormvariate(3.0, 1.0)
            operation = OPERATIONS[i & 1]
            events.append(event_row(i, operation, value))
            for metric in ("response", "notify", "notify_from_intended"):
                recorder.record(metric, operation, value)
        writer = SegmentWriter(folder, "events")
        warm = RowBuffer(EVENT_COLUMNS)
        warm.append(event_row(0, OPERATIONS[0], 1.0))
        writer.write("w0", warm.drain())  # pyarrow's first conversion pays a one-time setup
        started = time.perf_counter()
        columns = events.drain()
        writer.write("w1", columns)
        out["segment_us_per_row"] = (time.perf_counter() - started) / rows * 1e6

        interval = recorder.take_interval(now=5.0)
        started = time.perf_counter()
        payloads = [interval.encode() for _ in range(workers)]
        out["encode_ms_per_interval"] = (time.perf_counter() - started) / workers * 1e3
        merger = IntervalMerger()
        started = time.perf_counter()
        for payload in payloads:
            merger.add(Interval.decode(payload))
        merged = merger.take()
        out["decode_merge_ms_per_interval"] = (time.perf_counter() - started) / workers * 1e3
        assert merged is not None
        started = time.perf_counter()
        with HlogWriter(Path(folder) / "latency.hlog", base_time=0.0) as hlog:
            hlog.write(merged)
        out["hlog_write_ms_per_interval"] = (time.perf_counter() - started) * 1e3
        out["tags_per_interval"] = float(len(merged.histograms))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer operations")
    args = parser.parse_args()
    ops = 50_000 if args.quick else 500_000
    per_op_us, bare_us = hot_path(ops)
    recording_us = per_op_us - bare_us
    costs = flush_costs(rows=20_000 if args.quick else 200_000, workers=4)
    # share of one core spent recording at 1,000 operations per second
    core_share_at_1000 = recording_us * 1000 / 1e6
    result = {
        "ops": ops,
        "recording_us_per_op": round(recording_us, 3),
        "bare_row_us_per_op": round(bare_us, 3),
        "max_ops_per_s_one_core": round(1e6 / per_op_us),
        "core_share_at_1000_ops_per_s": round(core_share_at_1000, 4),
        **{k: round(v, 3) for k, v in costs.items()},
        "python": platform.python_version(),
    }
    for key, value in result.items():
        print(f"{key:>32}: {value}")
    out = Path(__file__).resolve().parent / "out"
    out.mkdir(exist_ok=True)
    (out / "recording.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
