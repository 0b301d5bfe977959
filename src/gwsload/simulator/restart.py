"""A target restart: ``gwsload run`` against a simulator that dies mid-run and comes back.

The simulator is killed with SIGKILL (a node dies: no goodbye to anyone) a while
after the run's manifest appears, and a fresh one starts on the same port after
the outage; the new process knows none of the agents' sessions. Used by the
recovery test and benchmark, which read the run folder afterwards. Loopback only;
standard library only.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from gwsload.contract.agents import generated_agent_name
from gwsload.simulator.process import SimulatorProcess

__all__ = ["RestartedRun", "restart_scenario", "run_through_a_restart", "simulator_args"]


def simulator_args(agents: int) -> list[str]:
    """The simulator's options for a restart run: ``agents`` agents, a quick target."""
    return ["--agents", str(agents), "--latency-ms", "2", "--answer-delay-ms", "20"]


def restart_scenario(name: str, *, agents: int, run_s: float, pause_share: float = 0.0) -> str:
    """A closed workload of ``agents`` agents for ``run_s`` seconds, short calls."""
    return f"""
name = "{name}"
description = "the target restarts mid-run"
warmup_s = 0
[client]
notification_timeout_s = 2
[workload]
hold_s = {{ distribution = "uniform", min = 0.1, max = 0.3 }}
think_time_s = 0.1
pause_share = {pause_share}
[[stages]]
duration_s = {run_s}
users = {agents}
spawn_rate = {agents}
"""


@dataclass(frozen=True, slots=True)
class RestartedRun:
    """What happened: the run folder, how the run ended, and when the target went and came."""

    out: Path
    returncode: int
    #: the run's stdout and stderr
    output: str
    #: UNIX time of the SIGKILL
    t_kill: float
    #: UNIX time at which the new simulator listened
    t_back: float


def run_through_a_restart(
    tmp: Path,
    scenario: str,
    *,
    agents: int,
    kill_at_s: float,
    outage_s: float,
    run_timeout_s: float,
    simulator: Sequence[str],
    second_simulator: Sequence[str] = (),
    run_args: Sequence[str] = (),
) -> RestartedRun:
    """Run ``scenario`` (written to ``tmp``) with ``agents`` generated agents against
    a simulator started with ``simulator`` options; kill it ``kill_at_s`` after the
    run began, start another one ``outage_s`` later on the same port (with
    ``second_simulator`` options added) and wait up to ``run_timeout_s`` for the run."""
    (tmp / "scenario.toml").write_text(scenario)
    agents_file = tmp / "agents.csv"
    agents_file.write_text(
        "username,password\n"
        + "".join(f"{generated_agent_name(i, agents)},gwsload\n" for i in range(1, agents + 1))
    )
    out = tmp / "run"
    log = tmp / "run.log"
    with SimulatorProcess(simulator) as first, log.open("w") as log_file:
        port = urlsplit(first.url).port
        second = SimulatorProcess([*simulator, "--port", str(port), *second_simulator])
        run = subprocess.Popen(
            [sys.executable, "-m", "gwsload.cli", "run", str(tmp / "scenario.toml"),
             "--target", first.url, "--agents-file", str(agents_file), "--out", str(out),
             "--no-preflight", *run_args],
            stdout=log_file, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            while not (out / "manifest.json").exists() and run.poll() is None:
                time.sleep(0.2)
            time.sleep(kill_at_s)
            assert first.pid is not None
            os.kill(first.pid, signal.SIGKILL)
            t_kill = time.time()
            time.sleep(outage_s)
            with second:
                t_back = time.time()
                returncode = run.wait(timeout=run_timeout_s)
        finally:
            if run.poll() is None:
                run.kill()
                run.wait()
    return RestartedRun(out, returncode, log.read_text(), t_kill, t_back)
