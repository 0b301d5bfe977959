"""The master's side of a run: batches from every load process in, the run folder out.

Each load process (the single process of a local run, or each worker) ships a batch
every few seconds (:func:`gwsload.harness.distributed.make_batch`): its drained event
and anomaly rows, its latency histograms of the interval, incidents, health samples
and cumulative counts. :class:`RunSink` writes them:

- rows into closed Parquet segments per worker (``events/``, ``anomalies/``),
- histograms added per tag into the current ``latency.hlog`` interval (exact HDR
  addition) and into run totals after the warm-up (for the summary),
- incidents and generator samples appended as they come.

:meth:`accept` only queues; :meth:`tick` does the work, so the Locust binding can run
it in a thread and keep file writing off the event loop that stamps notifications.
No gevent and no Locust here.
"""

from __future__ import annotations

import math
import os
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from hdrh.histogram import HdrHistogram

from gwsload.contract.agent_states import merge_summaries
from gwsload.contract.operations import ERROR_OUTCOMES
from gwsload.contract.pacing import merge_pacing
from gwsload.contract.periods import interval_is_measured
from gwsload.contract.segments import SegmentWriter, arrow_schema
from gwsload.metrics.hlog import HlogWriter, hlog_span
from gwsload.metrics.latency import (
    Interval,
    IntervalMerger,
    free_histogram,
    new_histogram,
    reset_histogram,
    split_tag,
)
from gwsload.metrics.logs import GeneratorLog, IncidentLog, incident

__all__ = ["RunSink", "WorkerState", "percentile_ms"]


def percentile_ms(histogram: HdrHistogram | None, percentile: float) -> float | None:
    """A percentile of a microsecond histogram, in ms (None when it is empty)."""
    if histogram is None or histogram.get_total_count() == 0:
        return None
    return float(histogram.get_value_at_percentile(percentile)) / 1000.0


class WorkerState:
    """What the sink knows of one load process."""

    __slots__ = ("agent_states", "batches", "counts", "final", "last_sample", "logins", "users")

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        #: the process's latest agent-state summary (harness/agent_states.py)
        self.agent_states: dict[str, Any] = {}
        #: the process's login pacing (gwsload.contract.pacing.PacingSummary.to_dict())
        self.logins: dict[str, Any] = {}
        self.final = False
        self.batches = 0
        self.users = 0
        self.last_sample: dict[str, Any] | None = None


class RunSink:
    """Writes the run folder from shipped batches; one per run, in the master process."""

    def __init__(
        self,
        run_dir: str | os.PathLike[str],
        *,
        t0: float,
        warmup_s: float = 0.0,
        end_s: float = math.inf,
    ) -> None:
        self.run_dir = Path(run_dir)
        self.t0 = t0
        #: the measured period, seconds since ``t0``: the summary's totals hold the hlog
        #: intervals in it (gwsload.contract.periods), not the warm-up or the sign-off
        self.warmup_s = warmup_s
        self.end_s = end_s
        self._events = SegmentWriter(self.run_dir, "events")
        self._anomalies = SegmentWriter(self.run_dir, "anomalies")
        self._sessions = SegmentWriter(self.run_dir, "sessions")
        self._hlog = HlogWriter(self.run_dir / "latency.hlog", base_time=t0)
        self._incidents = IncidentLog(self.run_dir / "incidents.jsonl")
        self._generator = GeneratorLog(self.run_dir / "generator.csv")
        self._interval = IntervalMerger()
        self.totals: dict[str, HdrHistogram] = {}
        self.workers: dict[str, WorkerState] = {}
        self.not_started = 0
        self._last_interval_notify: HdrHistogram | None = None
        self._last_interval_ops = 0
        self._last_interval_s = 0.0
        self._ops_in_interval = 0
        self._last_flush = t0
        self._closed = False
        self._queued: list[Mapping[str, Any]] = []
        _use_the_system_allocator()
        _warm_up_parquet()

    # -- input ----------------------------------------------------------------------

    def accept(self, batch: Mapping[str, Any]) -> None:
        """Queue one batch from a load process (cheap; written by the next :meth:`tick`).

        May be called from another thread than :meth:`tick`: it only appends to a list.
        """
        self._queued.append(batch)

    def _take(self, batch: Mapping[str, Any]) -> None:
        worker = str(batch["worker"])
        state = self.workers.setdefault(worker, WorkerState())
        state.batches += 1
        events = batch.get("events")
        if events:
            self._events.add(worker, events)
        anomalies = batch.get("anomalies")
        if anomalies:
            self._anomalies.add(worker, anomalies)
        sessions = batch.get("sessions")
        if sessions:
            self._sessions.add(worker, sessions)
        latency = batch.get("latency")
        if latency:
            self._interval.add(Interval.decode(latency))
        for record in batch.get("incidents") or ():
            self._incidents.write(record)
        for sample in batch.get("samples") or ():
            self._generator.write(sample)
            state.last_sample = dict(sample)
        new_counts = {str(k): int(v) for k, v in (batch.get("counts") or {}).items()}
        self._ops_in_interval += new_counts.get("ops", 0) - state.counts.get("ops", 0)
        state.counts = new_counts
        state.users = int(batch.get("users", state.users))
        self.not_started += int(batch.get("not_started", 0))
        agent_states = batch.get("agent_states")
        if agent_states:
            state.agent_states = dict(agent_states)
        logins = batch.get("logins")
        if logins:
            state.logins = dict(logins)
        if batch.get("final"):
            state.final = True

    def worker_lost(self, worker: str, detail: str) -> None:
        """Note a lost worker in ``incidents.jsonl`` (queued like a batch)."""
        record = incident(time.time(), worker, "", "worker_lost", detail=detail)
        self._queued.append({"worker": worker, "incidents": [record]})

    def _add_total(self, tag: str, histogram: HdrHistogram) -> None:
        if histogram.get_total_count() == 0:
            return
        total = self.totals.get(tag)
        if total is None:
            total = self.totals[tag] = new_histogram()
        total.add(histogram)

    # -- output ---------------------------------------------------------------------

    def tick(self, now: float) -> None:
        """Take the queued batches and close the interval: segments out, one hlog interval.

        Calls must not overlap (the Collector runs them one at a time, off the event loop).
        """
        queued, self._queued = self._queued, []
        for batch in queued:
            self._take(batch)
        self._events.flush()
        self._anomalies.flush()
        self._sessions.flush()
        interval = self._interval.take(now)
        notify = self._last_interval_notify
        if notify is not None:  # reused: one histogram for every interval of the run
            reset_histogram(notify)
        if interval is not None:
            # the summary's totals take the intervals the hlog holds, by the contract's
            # rule, so gwsload run and the report print the same percentiles
            start_s, length_s = hlog_span(interval, self.t0)
            if interval_is_measured(start_s, length_s, self.warmup_s, self.end_s):
                for tag, histogram in interval.histograms.items():
                    self._add_total(tag, histogram)
            for tag, histogram in interval.histograms.items():
                if split_tag(tag)[0] == "notify" and histogram.get_total_count():
                    if notify is None:
                        notify = new_histogram()
                    notify.add(histogram)
            self._hlog.write(interval)
            for histogram in interval.histograms.values():
                free_histogram(histogram)
        self._last_interval_notify = notify
        self._last_interval_ops = self._ops_in_interval
        # the ops counted here arrived since the last flush: that is their time span (an
        # interval's start can be older, as a worker's histograms may lag its counts)
        self._last_interval_s = now - self._last_flush
        self._last_flush = now
        self._ops_in_interval = 0

    def counts(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for state in self.workers.values():
            total.update(state.counts)
        return total

    def progress(
        self,
        now: float,
        *,
        duration_s: float,
        state: str,
        sign_off_end_s: float | None = None,
    ) -> dict[str, Any]:
        """The progress record ``gwsload run`` prints from (see progress.py);
        ``sign_off_end_s``: the latest the agents may still be leaving."""
        counts = self.counts()
        cpu = [
            float(s.last_sample["cpu_percent"])
            for s in self.workers.values()
            if s.last_sample is not None
        ]
        notify = self._last_interval_notify
        span = self._last_interval_s
        return {
            "state": state,
            "t0": self.t0,
            "elapsed_s": now - self.t0,
            "duration_s": duration_s,
            "sign_off_end_s": sign_off_end_s if sign_off_end_s is not None else duration_s,
            "users": sum(s.users for s in self.workers.values()),
            "workers": len(self.workers),
            "ops": counts.get("ops", 0),
            "ops_per_s": self._last_interval_ops / span if span > 0 else 0.0,
            "notify_p50_ms": percentile_ms(notify, 50.0),
            "notify_p99_ms": percentile_ms(notify, 99.0),
            "lost": counts.get("lost", 0),
            "errors": sum(counts.get(k, 0) for k in ERROR_OUTCOMES),
            "late": counts.get("late", 0),
            "duplicate": counts.get("duplicate", 0),
            "unexpected": counts.get("unexpected", 0),
            "generator_cpu_percent": max(cpu) if cpu else None,
            "agents": merge_summaries(s.agent_states for s in self.workers.values()),
            "logins": merge_pacing(s.logins for s in self.workers.values()),
        }

    def summary(self) -> dict[str, Any]:
        """Whole-run counts, and exact percentiles per operation after the warm-up
        (merged histograms)."""
        counts = self.counts()
        operations: dict[str, dict[str, Any]] = {}
        for tag, histogram in sorted(self.totals.items()):
            metric, operation = split_tag(tag)
            entry = operations.setdefault(operation, {})
            entry[f"{metric}_count"] = int(histogram.get_total_count())
            for name, pct in (("p50", 50.0), ("p99", 99.0)):
                entry[f"{metric}_{name}_ms"] = percentile_ms(histogram, pct)
            entry[f"{metric}_max_ms"] = float(histogram.get_max_value()) / 1000.0
        return {
            "counts": {k: int(v) for k, v in sorted(counts.items())},
            "warmup_s": self.warmup_s,
            "operations": operations,
            "not_started": self.not_started,
            "workers": sorted(self.workers),
            "logins": merge_pacing(s.logins for s in self.workers.values()),
        }

    def close(self, now: float) -> None:
        """Write what is left and close every file (idempotent)."""
        if self._closed:
            return
        self.tick(now)
        self._hlog.close()
        self._incidents.close()
        self._generator.close()
        self._closed = True


def _use_the_system_allocator() -> None:
    """Arrow's buffers from malloc, not its default mimalloc pool: mimalloc keeps the
    segments it freed for the thread that used them, and the run-folder writer's RSS
    grows by 2 MB steps for minutes, which a soak report reads as generator memory
    growth. The segments are small; malloc gives their memory back."""
    if pa.default_memory_pool().backend_name != "system":
        pa.set_memory_pool(pa.system_memory_pool())


def _warm_up_parquet() -> None:
    """Write one empty segment to memory: the first Parquet write loads a lot, and it
    should not happen while agents share the event loop."""
    table = pa.Table.from_pydict(
        {name: [] for name in arrow_schema("events").names}, schema=arrow_schema("events")
    )
    pq.write_table(table, pa.BufferOutputStream())
