"""Locust binding of a run: load processes ship batches, the master writes the run folder.

Roles (one process may hold both, as a single-process run does, worker id ``local``),
in :mod:`gwsload.harness.roles`: a ``LoadProcess`` runs users and ships a batch every
few seconds (directly to the collector in a local run, as the Locust custom message
``gwsload_batch`` from a worker); the ``Collector`` (master or single process) writes
the run folder and the progress record.

Start of a test (master ``test_start``): the master stamps ``t0`` and sends the
configuration to every worker (``gwsload_config``), before Locust's spawn messages, so
workers on other hosts need nothing but the locustfile. End: the master's
``test_stopping`` asks each worker to stop its users (``gwsload_stop``) and waits for
every worker's final batch (``final: true``) before the run folder is closed; workers
stop their users gracefully (agents finish the operation in hand, wait for its
notification, hang up and log out) and then ship what is left.

One function per role wires it (:func:`install_master`, :func:`install_worker`,
:func:`install_local`); the process's :class:`RunState` travels on Locust's
``environment`` (:func:`run_state`), which is how users reach it: no module global.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from gevent.event import Event
from locust.env import Environment
from locust.runners import LocalRunner, MasterRunner, WorkerRunner

from gwsload.contract.deadline import hard_deadline_s
from gwsload.harness.roles import Collector, LoadProcess
from gwsload.harness.shape import ScenarioShape
from gwsload.harness.watchdog import Watchdog
from gwsload.launcher.runconfig import RunConfig
from gwsload.lifeline import lifeline_fd

__all__ = [
    "MSG_BATCH",
    "MSG_CONFIG",
    "MSG_STOP",
    "RunState",
    "install",
    "install_local",
    "install_master",
    "install_worker",
    "run_state",
]

MSG_BATCH = "gwsload_batch"
MSG_CONFIG = "gwsload_config"
MSG_STOP = "gwsload_stop"


# -- the state of the run in this process --------------------------------------------


class RunState:
    """The run as this Locust process holds it; users reach it through their environment."""

    def __init__(self) -> None:
        self.load: LoadProcess | None = None
        self.collector: Collector | None = None
        self.ready = Event()
        #: stops this process when its launcher, its master or its deadline is gone
        self.watchdog: Watchdog | None = None
        self.on_finished: list[Callable[[Collector, dict[str, Any] | None], None]] = []


_STATE_ATTRIBUTE = "gwsload_run"


def run_state(environment: Any) -> RunState:
    """The run state carried by a Locust ``environment`` (made on first use)."""
    state = getattr(environment, _STATE_ATTRIBUTE, None)
    if not isinstance(state, RunState):
        state = RunState()
        setattr(environment, _STATE_ATTRIBUTE, state)
    return state


def _listen(hook: Any, listener: Callable[..., None]) -> None:
    hook.add_listener(listener)  # Locust's EventHook is untyped


def _leave_in_time(environment: Environment, config: RunConfig) -> None:
    # Locust's default stop timeout (0) kills agents mid-operation: an accepted stop
    # would be sent again at sign-off and refused. Plain `locust -f` gets the same
    # grace as `gwsload run`; the master passes it to its workers with the spawn.
    if not environment.stop_timeout:
        environment.stop_timeout = config.stop_timeout_s


def _arm_deadline(environment: Environment, state: RunState, config: RunConfig) -> None:
    """The test starts: this process must be gone by its hard deadline (when the test's
    length is known: the scenario's stages, or Locust's ``--run-time``)."""
    watchdog = state.watchdog
    if watchdog is None:
        return
    options = environment.parsed_options
    run_time = getattr(options, "run_time", None) if options is not None else None
    if config.stages:
        duration_s: float | None = config.load_duration_s
    else:
        duration_s = float(run_time) if run_time else None
    if duration_s is not None:
        stop_s = max(config.stop_timeout_s, float(environment.stop_timeout or 0.0))
        watchdog.arm(hard_deadline_s(duration_s, stop_s))


def _start_watchdog(state: RunState, runner: object) -> None:
    heartbeat = (
        (lambda: runner.last_heartbeat_timestamp) if isinstance(runner, WorkerRunner) else None
    )
    state.watchdog = Watchdog(lifeline_fd=lifeline_fd(), master_heartbeat=heartbeat)
    state.watchdog.start()


ConfigSource = Callable[[], RunConfig]


def install(environment: Environment, default_config: Callable[[Environment], RunConfig]) -> None:
    """Register the run's listeners and messages for this process's role; called from
    the locustfile's ``init``."""
    runner = environment.runner
    state = run_state(environment)
    _start_watchdog(state, runner)

    def config_now() -> RunConfig:
        return RunConfig.from_environment() or default_config(environment)

    def disarm(**_: Any) -> None:
        if state.watchdog is not None:
            state.watchdog.disarm()

    if isinstance(runner, MasterRunner):
        install_master(environment, runner, state, config_now)
    elif isinstance(runner, WorkerRunner):
        install_worker(environment, runner, state)
    elif isinstance(runner, LocalRunner):
        install_local(environment, state, config_now)
    else:
        return
    _listen(environment.events.test_stop, disarm)


def install_master(
    environment: Environment, master: MasterRunner, state: RunState, config_now: ConfigSource
) -> None:
    """The master: writes the run folder from its workers' batches."""

    def on_batch(environment: Environment, msg: Any, **_: Any) -> None:
        if state.collector is not None:
            state.collector.accept(msg.data)

    def master_start(environment: Environment, **_: Any) -> None:
        config = config_now()
        _leave_in_time(environment, config)
        _arm_deadline(environment, state, config)
        t0 = time.time()
        collector = state.collector = Collector(environment, config, t0=t0)
        shape = environment.shape_class
        if isinstance(shape, ScenarioShape):
            # the master's own count is what it dispatched: the workers' agents leave
            # by themselves during the sign-off, and their batches say how many are in
            shape.users_in = collector.users_in
        collector.expected_workers = {f"w{i + 1}" for i in range(master.worker_count)}
        collector.start()
        master.send_message(
            MSG_CONFIG,
            {"config": config.to_json(), "t0": t0, "workers": max(master.worker_count, 1)},
        )

    def master_stopping(environment: Environment, **_: Any) -> None:
        collector = state.collector
        if collector is None or collector.finished:
            return
        collector.state = "stopping"
        master.send_message(MSG_STOP, {})
        missing = collector.wait_for_finals(environment.stop_timeout + 30.0)
        summary = collector.finish(missing=missing)
        for callback in state.on_finished:
            callback(collector, summary)

    master.register_message(MSG_BATCH, on_batch)
    _listen(environment.events.test_start, master_start)
    _listen(environment.events.test_stopping, master_stopping)


def install_worker(environment: Environment, worker: WorkerRunner, state: RunState) -> None:
    """A worker: runs users with the configuration its master sends, ships batches."""

    def on_config(environment: Environment, msg: Any, **_: Any) -> None:
        data = msg.data
        config = RunConfig.from_json(data["config"])
        _arm_deadline(environment, state, config)
        index = max(worker.worker_index, 0)
        count = max(int(data["workers"]), index + 1)
        state.load = LoadProcess(
            environment,
            config,
            worker=f"w{index + 1}",
            worker_index=index,
            worker_count=count,
            t0=float(data["t0"]),
            deliver=lambda batch: worker.send_message(MSG_BATCH, batch),
        )
        state.load.start()
        state.ready.set()

    def on_stop(environment: Environment, msg: Any, **_: Any) -> None:
        worker.stop()  # graceful: test_stopping, users leave, test_stop ships the rest

    def worker_stopping(**_: Any) -> None:
        if state.load is not None:
            state.load.stopping.set()

    def worker_stop(**_: Any) -> None:
        load = state.load
        if load is not None:
            load.finish()
        state.load = None
        state.ready.clear()

    worker.register_message(MSG_CONFIG, on_config)
    worker.register_message(MSG_STOP, on_stop, concurrent=True)
    _listen(environment.events.test_stopping, worker_stopping)
    _listen(environment.events.test_stop, worker_stop)


def install_local(environment: Environment, state: RunState, config_now: ConfigSource) -> None:
    """A single process: runs the users and writes the run folder itself."""

    def local_start(environment: Environment, **_: Any) -> None:
        config = config_now()
        _leave_in_time(environment, config)
        _arm_deadline(environment, state, config)
        t0 = time.time()
        collector = state.collector = Collector(environment, config, t0=t0)
        collector.expected_workers = {"local"}
        collector.start()
        state.load = LoadProcess(
            environment,
            config,
            worker="local",
            worker_index=0,
            worker_count=1,
            t0=t0,
            deliver=collector.accept,
        )
        state.load.start()
        state.ready.set()

    def local_stopping(**_: Any) -> None:
        if state.load is not None:
            state.load.stopping.set()
        if state.collector is not None:
            state.collector.state = "stopping"

    def local_stop(**_: Any) -> None:
        load, collector = state.load, state.collector
        if load is not None:
            load.finish()
        state.load = None
        state.ready.clear()
        if collector is not None:
            summary = collector.finish(missing=[])
            for callback in state.on_finished:
                callback(collector, summary)

    _listen(environment.events.test_start, local_start)
    _listen(environment.events.test_stopping, local_stopping)
    _listen(environment.events.test_stop, local_stop)
