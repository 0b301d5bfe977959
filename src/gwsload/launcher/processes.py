"""Starting and stopping the Locust processes of a run (stdlib only, no gevent).

A run is one Locust process (``--headless``) or a master plus N workers on this
machine, all started from the packaged locustfile with ``python -m locust``. Each
gets its own session (so a terminal Ctrl-C reaches only ``gwsload run``, which then
stops them in order) and writes its log into ``locust/`` of the run folder.

None outlives this process (see :mod:`gwsload.lifeline`): each asks the kernel for
SIGKILL when this process dies (Linux), and each watches the lifeline pipe whose
write end only this process holds (everywhere).
"""

from __future__ import annotations

import math
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from gwsload.launcher.runconfig import CONFIG_ENV
from gwsload.lifeline import Lifeline

__all__ = ["LocustPlan", "LocustProcesses", "free_port", "locustfile_path"]


def locustfile_path() -> str:
    """The packaged Locust entry point (works without the source checkout).

    Found by its path, not imported: importing it would bring gevent into this process.
    """
    return str(Path(__file__).parent.parent / "harness" / "locustfile.py")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True, slots=True)
class LocustPlan:
    """What to start: the command-line parts shared by every process and the output paths."""

    host: str
    run_dir: Path
    config_file: Path
    workers: int
    stop_timeout_s: float
    locustfile: str = field(default_factory=locustfile_path)
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def locust_dir(self) -> Path:
        return self.run_dir / "locust"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.extra_env)
        env[CONFIG_ENV] = str(self.config_file)
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def master_argv(self, master_port: int | None) -> list[str]:
        argv = [
            sys.executable,
            "-m",
            "locust",
            "-f",
            self.locustfile,
            "--headless",
            "--host",
            self.host,
            "--stop-timeout",
            # Locust takes whole seconds only ("11.5" is refused): round up
            str(math.ceil(self.stop_timeout_s)),
            "--csv",
            str(self.locust_dir / "locust"),
            "--html",
            str(self.locust_dir / "report.html"),
            "--only-summary",
            "--exit-code-on-error",
            "0",
        ]
        if master_port is not None:
            argv += [
                "--master",
                "--master-bind-host",
                "127.0.0.1",
                "--master-bind-port",
                str(master_port),
                "--expect-workers",
                str(self.workers),
                "--expect-workers-max-wait",
                "60",
            ]
        return argv

    def worker_argv(self, master_port: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "locust",
            "-f",
            self.locustfile,
            "--worker",
            "--master-host",
            "127.0.0.1",
            "--master-port",
            str(master_port),
        ]


class LocustProcesses:
    """The running Locust processes of one run; the master (or single process) first."""

    def __init__(self, plan: LocustPlan) -> None:
        self._plan = plan
        self._procs: list[subprocess.Popen[bytes]] = []
        self._logs: list[IO[bytes]] = []
        self._lifeline = Lifeline()

    @property
    def master(self) -> subprocess.Popen[bytes]:
        return self._procs[0]

    @property
    def workers(self) -> list[subprocess.Popen[bytes]]:
        return self._procs[1:]

    def start(self) -> None:
        plan = self._plan
        plan.locust_dir.mkdir(parents=True, exist_ok=True)
        port = free_port() if plan.workers > 0 else None
        self._spawn(plan.master_argv(port), "master.log" if port else "locust.log")
        if port is not None:
            for index in range(plan.workers):
                self._spawn(plan.worker_argv(port), f"worker-{index + 1}.log")

    def _spawn(self, argv: list[str], log_name: str) -> None:
        log = open(self._plan.locust_dir / log_name, "wb")  # noqa: SIM115  (closed in close())
        self._logs.append(log)
        self._procs.append(
            subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**self._plan.env(), **self._lifeline.env()},
                start_new_session=True,
                pass_fds=self._lifeline.pass_fds,
            )
        )

    def master_exit_code(self) -> int | None:
        return self.master.poll()

    def dead_workers(self) -> list[int]:
        """1-based numbers of workers that exited."""
        return [i + 1 for i, p in enumerate(self.workers) if p.poll() is not None]

    def request_stop(self) -> None:
        """Ask the master (or single process) to stop the test and write its outputs.

        SIGINT, as a Ctrl-C in Locust's terminal: unlike SIGTERM it also writes the
        HTML report before shutting down.
        """
        if self.master.poll() is None:
            self.master.send_signal(signal.SIGINT)

    def wait(self, timeout_s: float) -> bool:
        """Wait for every process to exit; False when some are still running at the end."""
        deadline = time.monotonic() + timeout_s
        for proc in self._procs:
            left = deadline - time.monotonic()
            try:
                proc.wait(timeout=max(left, 0.01))
            except subprocess.TimeoutExpired:
                return False
        return True

    def kill(self) -> None:
        """Stop whatever still runs: SIGTERM, then SIGKILL after a short grace."""
        for proc in self._procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 5.0
        for proc in self._procs:
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 0.01))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5.0)

    def close(self) -> None:
        self.kill()
        self._lifeline.close()
        for log in self._logs:
            log.close()
        self._logs.clear()
