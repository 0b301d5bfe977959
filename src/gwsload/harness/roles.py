"""The two roles of a Locust process in a run: load process and collector.

- :class:`LoadProcess` runs users: it owns the process's :class:`OpRecorder`, identity
  allocator, health sampler and, for an open workload, the cycle ticker. Every
  ``ship_interval_s`` its shipper greenlet drains the recorder into a batch
  (:func:`make_batch`) and hands it to ``deliver`` (the collector in a local run, a
  Locust message from a worker: see :mod:`gwsload.harness.distributed`).
- :class:`Collector` (master or single process) feeds batches to a
  :class:`~gwsload.metrics.sink.RunSink` in a writer thread, closes an hlog interval
  and writes the progress record every ``ship_interval_s``, and finishes the run
  folder at the end.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent
from gevent.event import Event
from gevent.threadpool import ThreadPool
from locust.env import Environment
from locust.runners import STATE_MISSING, MasterRunner

from gwsload.collection import OldestCollector, freeze_heap
from gwsload.cometd import SharedConnections
from gwsload.contract.agent_states import AgentStates
from gwsload.contract.agents import AgentDirectory
from gwsload.harness.health import HealthSampler
from gwsload.harness.identities import IdentityAllocator
from gwsload.harness.locust_rows import trim_per_second
from gwsload.harness.logins import LoginGate
from gwsload.harness.openloop import CycleTicker
from gwsload.harness.recorder import OpRecorder
from gwsload.harness.shape import rate_share, spawn_share, to_stages
from gwsload.harness.signoff import SignOff
from gwsload.harness.young_gc import YoungCollector
from gwsload.launcher.progress import write_progress
from gwsload.launcher.runconfig import RunConfig
from gwsload.metrics.live import LiveMetrics
from gwsload.metrics.sink import RunSink
from gwsload.stages import total_duration_s

__all__ = ["Collector", "LoadProcess", "make_batch"]

log = logging.getLogger("gwsload")

#: how long a thread may hold the GIL while another waits for it (Python's default: 5 ms)
_SWITCH_INTERVAL_S = 0.0005


def make_batch(
    recorder: OpRecorder,
    *,
    now: float,
    samples: list[dict[str, Any]],
    users: int,
    not_started: int = 0,
    final: bool = False,
    agent_states: dict[str, Any] | None = None,
    logins: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything a load process recorded since its last batch, msgpack-able."""
    interval = recorder.latency.take_interval(now)
    latency = interval.encode() if interval.histograms else None
    recorder.latency.recycle(interval)  # encoded: its histograms serve the next intervals
    return {
        "worker": recorder.worker,
        "final": final,
        "events": recorder.events.drain(),
        "anomalies": recorder.anomalies.drain(),
        "sessions": recorder.sessions.drain(),
        "latency": latency,
        "incidents": recorder.drain_incidents(),
        "samples": samples,
        "counts": dict(recorder.counts),
        "users": users,
        "not_started": not_started,
        "agent_states": agent_states or {},
        "logins": logins or {},
    }


class LoadProcess:
    """The per-process state users reach through their environment's run state
    (:func:`gwsload.harness.distributed.run_state`)."""

    def __init__(
        self,
        environment: Environment,
        config: RunConfig,
        *,
        worker: str,
        worker_index: int,
        worker_count: int,
        t0: float,
        deliver: Callable[[dict[str, Any]], None],
    ) -> None:
        self.environment = environment
        self.config = config
        self.worker = worker
        self.t0 = t0
        self.directory = AgentDirectory.from_dict(config.agents)
        self.identities = IdentityAllocator(
            worker_index=worker_index, worker_count=worker_count, capacity=len(self.directory)
        )
        self.recorder = OpRecorder(
            worker, start=t0, request_event=environment.events.request, stats=environment.stats
        )
        #: set when the test is stopping: agents finish the operation in hand and leave
        self.stopping = Event()
        #: agents logged in, each with a live CometD listener greenlet
        self.listeners = 0
        #: each agent's phase (operating / setting up / failing), for the progress line
        self.agent_states = AgentStates()
        #: keep-alive connections the agents share: about one socket per agent, not three
        self.connections = SharedConnections()
        self._deliver = deliver
        runner = environment.runner
        self.sampler = HealthSampler(
            worker,
            users=lambda: runner.user_count if runner is not None else 0,
            greenlets=lambda: (runner.user_count if runner is not None else 0) + self.listeners,
        )
        self.ticker: CycleTicker | None = None
        if config.workload.model == "open":
            stages = to_stages(config.stages)
            processes = max(worker_count, 1)
            self.ticker = CycleTicker(
                lambda: rate_share(stages, t0, processes),
                poisson=config.workload.arrivals == "poisson",
                seed=worker_index + 1,
            )
        #: logins paced at the stage's spawn rate, held back while the loop lags
        self.logins: LoginGate | None = None
        if config.stages:
            stages = to_stages(config.stages)
            processes = max(worker_count, 1)
            self.logins = LoginGate(
                lambda: spawn_share(stages, t0, processes),
                lambda: self.sampler.loop_lag_ms_now,
            )
        #: after the last stage: asks this process's agents to leave one by one
        self.sign_off: SignOff | None = None
        if config.stages and config.ramp_down_s > 0 and runner is not None:
            self.sign_off = SignOff(
                runner,
                start_wall=t0 + total_duration_s(to_stages(config.stages)),
                ramp_down_s=config.ramp_down_s,
                stopping=self.stopping.is_set,
            )
        self._shipper: gevent.Greenlet | None = None
        self._finished = False
        #: small young-generation collections instead of rare long ones
        self._young_gc = YoungCollector()

    def start(self) -> None:
        freeze_heap()
        self._young_gc.start()
        self.sampler.start()
        if self.logins is not None:
            self.logins.start()
        if self.sign_off is not None:
            self.sign_off.start()
        if self.ticker is not None:
            self.ticker.start()
        self._shipper = gevent.spawn(self._ship_loop)

    def _ship_loop(self) -> None:
        interval = self.config.ship_interval_s
        runner = self.environment.runner
        before, frozen = (0, 0), (0, 0)
        oldest = OldestCollector()
        while True:
            gevent.sleep(interval)
            self._ship(final=False)
            trim_per_second(self.environment.stats, time.time())
            # users spawned and agents logged in (logins go on after spawning ends)
            now = (runner.user_count if runner is not None else 0, self.listeners)
            if now == before and (now[0] != frozen[0] or now[1] > frozen[1]):
                # a ramp just ended: its agents are the long-lived heap now. Not when
                # agents merely logged in again (sessions lost): a freeze keeps every
                # cycle it finds for the run, and re-logins would freeze them again
                freeze_heap(full=False)
                frozen = now
                oldest.restart()
            else:
                # CPython's collector is off (young_gc): a cycle in the oldest
                # generation would otherwise stay for the run
                oldest.collect_if_due(now[0])
            before = now

    def _ship(self, *, final: bool, not_started: int = 0) -> None:
        runner = self.environment.runner
        # no sample once stopping: that period measures the stop (Locust's own stop
        # work blocks the loop), not the load
        sampling = not final and not self.stopping.is_set()
        batch = make_batch(
            self.recorder,
            now=time.time(),
            samples=[self.sampler.sample().to_dict()] if sampling else [],
            users=runner.user_count if runner is not None else 0,
            not_started=not_started,
            final=final,
            agent_states=self.agent_states.summary(),
            logins=self.logins.summary().to_dict() if self.logins is not None else None,
        )
        try:
            self._deliver(batch)
        except Exception:  # a lost batch must not kill the shipper; the log says why
            log.exception("could not ship a batch of %s", self.worker)

    def finish(self) -> None:
        """After the users stopped: ship the final batch (idempotent)."""
        if self._finished:
            return
        self._finished = True
        if self._shipper is not None:
            self._shipper.kill(block=True)
        not_started = self.ticker.stop() if self.ticker is not None else 0
        self._ship(final=True, not_started=not_started)
        self.sampler.stop()
        self._young_gc.stop()
        if self.logins is not None:
            self.logins.stop()
        if self.sign_off is not None:
            self.sign_off.stop()


def _live_metrics(config: RunConfig) -> LiveMetrics | None:
    """The live-metrics exporter when a port is configured; run id and labels from the
    manifest the launcher wrote (a run without a run folder has neither)."""
    if config.metrics_port is None:
        return None
    manifest: dict[str, Any] = {}
    if config.run_dir is not None:
        try:
            manifest = json.loads((Path(config.run_dir) / "manifest.json").read_text("utf-8"))
        except (OSError, ValueError):
            manifest = {}
    found = manifest.get("labels")
    labels: dict[str, Any] = found if isinstance(found, dict) else {}
    run_id = str(manifest.get("run_id") or (Path(config.run_dir).name if config.run_dir else ""))
    return LiveMetrics(run_id=run_id, labels={str(k): str(v) for k, v in labels.items()})


class Collector:
    """Master (or single-process) side: the run sink, progress, and the end of the run."""

    def __init__(self, environment: Environment, config: RunConfig, *, t0: float) -> None:
        self.environment = environment
        self.config = config
        self.t0 = t0
        self.duration_s = total_duration_s(to_stages(config.stages))
        self.sink: RunSink | None = (
            RunSink(config.run_dir, t0=t0, warmup_s=config.warmup_s, end_s=self.duration_s)
            if config.run_dir is not None
            else None
        )
        self.live = _live_metrics(config)
        self.expected_workers: set[str] = set()
        self._lost_reported: set[str] = set()
        #: workers (``w1``...) the master lost: not waited for at the end
        self.lost_workers: set[str] = set()
        self._ticker: gevent.Greenlet | None = None
        #: one thread writes the run folder, so sink calls never overlap
        self._writer = ThreadPool(1)
        self.state = "running"
        self.finished = False
        #: each load process's users in its latest batch (0 after its final batch)
        self._users: dict[str, int] = {}

    def users_in(self) -> int:
        """Users the load processes held at their latest batch (the load shape ends the
        sign-off when none is left)."""
        return sum(self._users.values())

    def start(self) -> None:
        # the writer thread's Python work (Parquet columns, HDR histograms) holds the GIL;
        # in a single-process run the agents' event loop waits for it before each wake-up,
        # up to the switch interval, and notifications arriving meanwhile are stamped late
        sys.setswitchinterval(_SWITCH_INTERVAL_S)
        if self.live is not None and self.config.metrics_port is not None:
            self.live.serve(self.config.metrics_host, self.config.metrics_port)
        self._ticker = gevent.spawn(self._tick_loop)

    def accept(self, batch: dict[str, Any]) -> None:
        if self.finished:
            return
        self._users[str(batch.get("worker"))] = (
            0 if batch.get("final") else int(batch.get("users", 0) or 0)
        )
        if self.live is not None:
            self.live.accept(batch)
        if self.sink is not None:
            self.sink.accept(batch)

    def _tick_loop(self) -> None:
        while True:
            gevent.sleep(self.config.ship_interval_s)
            self.tick()
            trim_per_second(self.environment.stats, time.time())  # the master's merged rows

    def tick(self) -> None:
        if self.live is not None:
            # counting rows into the histograms is Python work: off the event loop too
            self._writer.apply(self.live.update)
        if self.sink is None:
            return
        # file writing happens in a thread: in a single-process run the agents share this
        # event loop, and a Parquet write must not delay their notification stamps
        self._writer.apply(self.sink.tick, (time.time(),))
        self._check_workers()
        now = time.time()
        if self.config.progress_file:
            write_progress(
                self.config.progress_file,
                self.sink.progress(
                    now,
                    duration_s=self.config.load_duration_s,
                    state=self.state,
                    sign_off_end_s=self.config.sign_off_end_s,
                ),
            )

    def _check_workers(self) -> None:
        runner = self.environment.runner
        if not isinstance(runner, MasterRunner) or self.sink is None:
            return
        for node in runner.clients.all:
            if node.state == STATE_MISSING and node.id not in self._lost_reported:
                self._lost_reported.add(node.id)
                index = runner.worker_indexes.get(node.id)
                name = f"w{index + 1}" if index is not None else node.id
                self.lost_workers.add(name)
                self.sink.worker_lost(name, f"no heartbeat from worker {node.id}")

    def wait_for_finals(self, timeout_s: float) -> list[str]:
        """Block (cooperatively) until every known worker sent its final batch, or was
        lost (no heartbeat). Returns the workers without a final batch."""
        deadline = time.monotonic() + timeout_s
        while True:
            self._check_workers()
            missing = self._missing_finals()
            if set(missing) <= self.lost_workers or time.monotonic() >= deadline:
                return missing
            gevent.sleep(0.1)

    def _missing_finals(self) -> list[str]:
        if self.sink is None:
            return []
        workers = dict(self.sink.workers)  # a snapshot: the writer thread adds workers
        known = set(workers) | self.expected_workers
        return sorted(w for w in known if w not in workers or not workers[w].final)

    def finish(self, *, missing: list[str]) -> dict[str, Any] | None:
        """Close the run folder; returns the summary (None without a run folder)."""
        if self.finished:
            return None
        self.finished = True
        if self._ticker is not None:
            self._ticker.kill(block=True)
        if self.sink is None:
            return None
        now = time.time()
        for worker in missing:
            if worker not in self.lost_workers:
                self.sink.worker_lost(worker, "no final batch before the end of the run")
        self._writer.apply(self.sink.close, (now,))
        if self.live is not None:
            self._writer.apply(self.live.update)  # the final batches, for the last scrape
        summary = self.sink.summary()
        summary["missing_workers"] = missing
        if self.config.progress_file:
            record = self.sink.progress(now, duration_s=self.config.load_duration_s, state="done")
            record["summary"] = summary
            write_progress(self.config.progress_file, record)
        return summary
