"""One run of ``gwsload run``, start to end, in a process free of gevent.

1. Make the run folder (``results/<run-id>/`` or ``--out``) and write the manifest.
2. Without a target, start the embedded simulator on a free loopback port, with its
   truth log in the run folder.
3. Write the run configuration (a private temporary file: it may hold passwords) and
   start Locust: one process, or a master and N workers.
4. Print progress from the master's progress record every few seconds.
5. Ctrl-C or SIGTERM: ask the master to stop (users leave cleanly, the run folder is
   flushed), mark the manifest ``interrupted``; a second Ctrl-C stops at once.
6. Close the manifest (status, exit code, generator verdict) and print a summary.

Exit codes: 0 every operation ok (and the scenario's SLOs hold, checked by
``gwsload check``); 1 the run failed its criteria (lost notifications, errors, a
worker lost, an SLO breach) or did not complete; 2 bad input (raised as
``ConfigError`` before anything starts); 130 interrupted.
"""

from __future__ import annotations

import dataclasses
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from gwsload.contract.agents import AgentCredentials, AgentDirectory
from gwsload.contract.deadline import deadline_passed, hard_deadline_s
from gwsload.contract.manifest import RunManifest
from gwsload.contract.saturation import SIMULATOR_HEALTH_FILE
from gwsload.errors import EXIT_FAILED, EXIT_OK, ConfigError
from gwsload.launcher.plan import run_config, stop_timeout_s
from gwsload.launcher.processes import LocustPlan, LocustProcesses, locustfile_path
from gwsload.launcher.progress import format_progress, format_summary, read_progress
from gwsload.launcher.verdict import (
    EXIT_INTERRUPTED,
    add_loss_causes,
    run_verdict,
    untested,
)
from gwsload.lifeline import EXIT_DEADLINE
from gwsload.metrics.health import judge_saturation, read_generator_samples
from gwsload.metrics.machine import MachineSampler, environment_document, write_environment
from gwsload.metrics.manifest import build_manifest, create_run_folder, prepare_out_folder
from gwsload.scenario import Scenario
from gwsload.simulator.health import judge_health_log
from gwsload.simulator.options import MAX_AGENTS
from gwsload.simulator.process import SimulatorProcess, SimulatorStartError

__all__ = ["EXIT_INTERRUPTED", "RunOptions", "execute"]

#: Locust's own CSV names (prefix ``locust``) -> the run folder's names
_LOCUST_OUTPUTS = {
    "locust_stats.csv": "stats.csv",
    "locust_stats_history.csv": "stats_history.csv",
    "locust_failures.csv": "failures.csv",
    "locust_exceptions.csv": "exceptions.csv",
}


@dataclass(frozen=True, slots=True)
class RunOptions:
    scenario: Scenario
    scenario_file: str
    target: str | None
    agents: list[AgentCredentials] | None
    agents_file: Path | None
    verify_tls: bool
    origin: str | None
    workers: int
    out: Path | None
    results: Path
    force: bool
    progress_every_s: float
    synthetic: bool
    command_line: list[str]
    #: run ``gwsload check`` on the folder when the scenario has SLOs
    check_slos: bool = True
    #: the Locust entry point (default: the packaged one)
    locustfile: str | None = None
    #: ``--label KEY=VALUE`` (gwsload.contract.labels), kept in the manifest
    labels: dict[str, str] = field(default_factory=dict)
    #: ``--metrics-port``/``--metrics-host``: live metrics from the master (None: off)
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    #: an extra CA bundle to trust while verifying the target's certificate
    ca_file: Path | None = None
    #: the preflight's verdict for the manifest (``target.preflight``); None: not run
    preflight: dict[str, Any] | None = None


class _Signals:
    """Ctrl-C / SIGTERM: the first asks for a clean stop, the second stops at once."""

    def __init__(self) -> None:
        self.requested = 0

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.requested += 1
        if self.requested > 1:
            raise KeyboardInterrupt

    @contextmanager
    def installed(self) -> Iterator[None]:
        previous = {s: signal.signal(s, self) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


def execute(options: RunOptions, *, out: TextIO | None = None) -> int:
    """Run the scenario; returns the exit code (see module doc)."""
    stream = out or sys.stdout
    scenario = options.scenario
    started = time.time()
    _check_simulator_agents(options)
    if options.out is not None:
        run_dir = prepare_out_folder(options.out, force=options.force)
        run_id = run_dir.name
    else:
        run_id, run_dir = create_run_folder(options.results, scenario.name, started)
    _say(stream, f"gwsload run {run_id}: {scenario.description or scenario.name}")
    signals = _Signals()
    with ExitStack() as stack, signals.installed():
        try:
            target_url, target_info, directory = _start_target(options, run_dir, stack)
        except SimulatorStartError as exc:
            print(f"gwsload run: the embedded simulator did not start: {exc}", file=sys.stderr)
            if not any(run_dir.iterdir()):
                run_dir.rmdir()
            return EXIT_FAILED
        private = Path(tempfile.mkdtemp(prefix="gwsload-run-"))
        stack.callback(shutil.rmtree, private, True)
        progress_file = private / "progress.json"
        config = run_config(
            scenario,
            target_url=target_url,
            agents=directory,
            verify_tls=options.verify_tls,
            origin=options.origin,
            ca_file=str(options.ca_file.resolve()) if options.ca_file is not None else None,
            run_dir=str(run_dir),
            progress_file=str(progress_file),
            workers=options.workers,
            agent="synthetic" if options.synthetic else "recording",
        )
        config = dataclasses.replace(
            config, metrics_port=options.metrics_port, metrics_host=options.metrics_host
        )
        config.write(private / "run.json")
        folder = RunManifest.create(
            run_dir,
            build_manifest(
                run_id=run_id,
                t0=started,
                scenario=scenario,
                scenario_file=options.scenario_file,
                target=target_info,
                workers=options.workers,
                command_line=options.command_line,
                labels=options.labels,
            ),
        )
        stack.enter_context(MachineSampler(run_dir))
        _say(stream, f"target {target_info['kind']} {target_url}; run folder {run_dir}")
        stop_timeout = stop_timeout_s(scenario)
        processes = LocustProcesses(
            LocustPlan(
                host=target_url,
                run_dir=run_dir,
                config_file=private / "run.json",
                workers=options.workers,
                stop_timeout_s=stop_timeout,
                locustfile=options.locustfile or locustfile_path(),
            )
        )
        stack.callback(processes.close)
        processes.start()
        load_s = scenario.duration_s + scenario.effective_ramp_down_s
        deadline_s = hard_deadline_s(load_s, stop_timeout)
        # past the Locust processes' own deadline: they normally stop themselves first
        limit_s = deadline_s + 30.0 + (60.0 if options.workers else 0)
        finished, overran = _watch(
            processes,
            progress_file,
            signals,
            stream,
            every_s=options.progress_every_s,
            limit_s=limit_s,
        )
        passed = None  # the deadline's line when the run was stopped at it
        if overran or processes.master_exit_code() == EXIT_DEADLINE:
            passed = deadline_passed(
                limit_s if overran else deadline_s,
                stages_s=scenario.duration_s,
                ramp_down_s=scenario.effective_ramp_down_s,
                stop_timeout_s=stop_timeout,
            )
        final = read_progress(progress_file)
        stack.close()  # Locust processes and simulator stopped: the truth log is complete
    _rename_locust_outputs(run_dir / "locust")
    summary = final.get("summary") if final is not None and final.get("state") == "done" else None
    if final is not None and isinstance(final.get("t0"), int | float):
        folder.restamp(float(final["t0"]))
    manifest = folder.data
    # judged like the headline numbers: after the warm-up (logins and ramp load the
    # generator in a way the measured period does not)
    steady_from = float(manifest["t0"]) + scenario.effective_warmup_s
    samples = read_generator_samples(run_dir / "generator.csv")
    verdict = judge_saturation([s for s in samples if s.ts >= steady_from] or samples)
    ended = time.time()
    code, status, reasons = run_verdict(
        summary, interrupted=signals.requested > 0, finished=finished, deadline_passed=passed
    )
    add_loss_causes(reasons, run_dir, notification_timeout_s=scenario.client.notification_timeout_s)
    not_tested = untested(run_dir, manifest) if status == "completed" else []
    if not_tested:
        reasons += [f"failed: {reason}" for reason in not_tested]
        code = EXIT_FAILED

    generator = verdict.to_dict()
    if summary is not None and summary.get("logins"):
        generator["logins"] = summary["logins"]  # the rate the logins actually used
    folder.close(
        status=status,
        exit_code=code,
        ended=ended,
        generator=generator,
        # "failed": the run did not complete; its one line says why
        end_reason=reasons[0] if status == "failed" else None,
    )
    stages_end = max((float(w["end_s"]) for w in manifest["stages"]), default=0.0)
    write_environment(
        run_dir,
        environment_document(
            run_dir,
            manifest,
            measured=(steady_from, min(ended, float(manifest["t0"]) + stages_end)),
        ),
    )
    duration = float(final["elapsed_s"]) if final is not None and "elapsed_s" in final else None
    if summary is not None:
        for line in format_summary(summary, duration_s=duration):
            _say(stream, line)
    for finding in verdict.findings:
        _say(stream, f"load generator saturated: {finding} (latencies are not trustworthy)")
    simulator = judge_health_log(run_dir / SIMULATOR_HEALTH_FILE, since_ts=steady_from)
    if simulator is not None and simulator.saturated:
        _say(
            stream,
            f"embedded simulator saturated: {simulator.reason} (latencies include its delays)",
        )
    # a run that did not test has nothing for its SLOs to judge: its reason says it all
    checked = status == "completed" and scenario.slo and options.check_slos and not not_tested
    if checked and not _check_slos(run_dir, stream):
        reasons.append("failed: an SLO of the scenario does not hold (see the table above)")
        if code == EXIT_OK:
            code = EXIT_FAILED
            folder.change_exit_code(code)
    for reason in reasons:
        _say(stream, reason)
    _say(stream, f"run {status}, exit {code}; run folder {run_dir}")
    _say(stream, f"report: gwsload report {run_dir}")
    return code


def _check_slos(run_dir: Path, stream: TextIO) -> bool:
    """``gwsload check RUN_DIR`` on the finished folder (its table is printed); False on
    a breach. A check that cannot run says why and does not fail the run."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "gwsload.cli", "check", str(run_dir)],
            capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError) as exc:
        _say(stream, f"SLO check did not run: {exc}")
        return True
    for line in (done.stdout + done.stderr).strip().splitlines():
        _say(stream, line)
    return done.returncode != EXIT_FAILED


def _say(stream: TextIO, line: str) -> None:
    stream.write(line + "\n")
    stream.flush()


def _start_target(
    options: RunOptions, run_dir: Path, stack: ExitStack
) -> tuple[str, dict[str, Any], AgentDirectory]:
    scenario = options.scenario
    directory = (
        AgentDirectory(listed=options.agents)
        if options.agents is not None
        else AgentDirectory(generated=_simulator_agents(scenario, options.workers))
    )
    if options.synthetic:
        return "http://127.0.0.1:9", {"kind": "synthetic", "url": ""}, directory
    if options.target is not None:
        info = {
            "kind": "external",
            "url": options.target,
            "verify_tls": options.verify_tls,
            "preflight": options.preflight or "skipped (--no-preflight)",
        }
        return options.target, info, directory
    argv = [
        *scenario.simulator_argv(),
        "--truth-log",
        str(run_dir / "simulator-truth.csv"),
        "--health-log",
        str(run_dir / SIMULATOR_HEALTH_FILE),
    ]
    if options.agents is None:
        argv += ["--agents", str(len(directory))]  # the last --agents wins
    if options.agents_file is not None:
        argv += ["--agents-file", str(options.agents_file)]
    # its own session: a terminal Ctrl-C must not stop it before the agents sign off
    simulator = SimulatorProcess(argv, die_with_parent=True, own_session=True)
    simulator.start()
    stack.callback(simulator.stop)
    settings = scenario.to_dict().get("simulator", {})
    info = {"kind": "embedded-simulator", "url": simulator.url, "simulator": settings}
    return simulator.url, info, directory


def _check_simulator_agents(options: RunOptions) -> None:
    """Refuse, before anything starts, more generated agents than the simulator serves."""
    if options.target is not None or options.synthetic or options.agents is not None:
        return
    needed = _simulator_agents(options.scenario, options.workers)
    if needed > MAX_AGENTS:
        twice = " (twice the peak users, as --workers needs)" if options.workers else ""
        raise ConfigError(
            f"the embedded simulator serves at most {MAX_AGENTS:,} agents, this run needs "
            f"{needed:,}{twice}: run fewer --users, or against a real --target"
        )


def _simulator_agents(scenario: Scenario, workers: int) -> int:
    """Agents the embedded simulator serves. Worker k of n takes every n-th agent, and
    Locust may put more users on one worker than on another (or all of them on the
    survivor of a lost worker): distributed runs get twice the peak."""
    settings = scenario.simulator
    if settings is not None and settings.agents is not None:
        return settings.agents
    peak = max(1, scenario.peak_users)
    return peak * 2 if workers > 0 else peak


def _watch(
    processes: LocustProcesses,
    progress_file: Path,
    signals: _Signals,
    stream: TextIO,
    *,
    every_s: float,
    limit_s: float,
) -> tuple[bool, bool]:
    """Follow the run until the master exits. Returns (finished: False when it had to be
    stopped by force, overran: it went past ``limit_s`` and was stopped)."""
    start = time.monotonic()
    next_line = start + every_s
    stop_asked = False
    overran = False
    while processes.master_exit_code() is None:
        time.sleep(0.25)
        now = time.monotonic()
        if signals.requested and not stop_asked:
            _say(stream, "stopping: agents finish their operation and log out (Ctrl-C again: now)")
            processes.request_stop()
            stop_asked = True
        if now - start > limit_s and not stop_asked:
            _say(stream, f"the run did not end within {limit_s:.0f} s: stopping it")
            processes.request_stop()
            stop_asked = overran = True
            limit_s += 60.0
        elif now - start > limit_s:
            processes.kill()
            return False, True
        if every_s > 0 and now >= next_line:
            next_line = now + every_s
            record = read_progress(progress_file)
            if record is not None and record.get("state") != "done":
                _say(stream, format_progress(record))
    return processes.wait(30.0), overran


def _rename_locust_outputs(folder: Path) -> None:
    for old, new in _LOCUST_OUTPUTS.items():
        if (folder / old).exists():
            (folder / old).replace(folder / new)
