"""Run the simulator as a child process, from any process (asyncio, gevent, plain threads).

Standard library only::

    with SimulatorProcess(["--agents", "50", "--latency-ms", "5"]) as sim:
        client.get(sim.url + "/api/v2/diagnostics/version")

It starts ``python -m gwsload.simulator --port 0 ...``, waits (bounded) for the URL line,
and on exit sends SIGTERM, then SIGKILL if the child has not ended in time.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from types import TracebackType
from typing import IO

from gwsload.lifeline import parent_env

__all__ = ["SimulatorProcess", "SimulatorStartError"]


class SimulatorStartError(RuntimeError):
    """The simulator did not come up; the message ends with the tail of its stderr."""


class SimulatorProcess:
    def __init__(
        self,
        args: Sequence[str] = (),
        *,
        startup_timeout_s: float = 20.0,
        stop_timeout_s: float = 10.0,
        env: dict[str, str] | None = None,
        die_with_parent: bool = False,
        own_session: bool = False,
    ) -> None:
        self.args = list(args)
        #: also have the kernel stop the child when this process dies (Linux; see
        #: gwsload.lifeline); only from the main thread: the signal follows the thread
        self.die_with_parent = die_with_parent
        #: start the child in its own session: a Ctrl-C in the terminal (SIGINT to the
        #: foreground process group) does not reach it, and the parent stops it when
        #: it is done with it (gwsload run: after the agents signed off)
        self.own_session = own_session
        self.startup_timeout_s = startup_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.env = env
        self.url = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def returncode(self) -> int | None:
        return self._proc.poll() if self._proc is not None else None

    def start(self) -> str:
        """Start the child and return its base URL (also in ``self.url``)."""
        if self._proc is not None:
            raise RuntimeError("SimulatorProcess already started")
        # stderr goes to a file: nobody has to drain a pipe, and the tail is there on failure
        self._stderr = tempfile.TemporaryFile(prefix="gwsload-sim-", suffix=".log")  # noqa: SIM115
        command = [
            sys.executable, "-m", "gwsload.simulator", "--port", "0", "--stop-on-stdin-eof",
            *self.args,
        ]  # fmt: skip
        # stdin: the child stops when this pipe closes, so it never outlives this process
        env = self.env
        if self.die_with_parent:  # the child arms it at start (gwsload.simulator.cli)
            env = {**(env if env is not None else os.environ), **parent_env()}
        self._proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
            env=env, close_fds=True, start_new_session=self.own_session,
        )  # fmt: skip
        try:
            self.url = self._read_url_line()
        except BaseException:
            self.stop()
            raise
        return self.url

    def _read_url_line(self) -> str:
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        deadline = time.monotonic() + self.startup_timeout_s
        buffer = b""
        while b"\n" not in buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SimulatorStartError(
                    f"simulator gave no URL within {self.startup_timeout_s:g} s{self._tail()}"
                )
            ready, _, _ = select.select([fd], [], [], min(remaining, 0.5))
            if not ready:
                continue
            chunk = os.read(fd, 4096)
            if not chunk:  # stdout closed: the child is gone
                self._proc.wait(timeout=self.stop_timeout_s)
                raise SimulatorStartError(
                    f"simulator exited with code {self._proc.returncode} before it was ready"
                    f"{self._tail()}"
                )
            buffer += chunk
        line = buffer.split(b"\n", 1)[0].decode("utf-8", "replace").strip()
        if not line.startswith("http"):
            raise SimulatorStartError(
                f"simulator printed {line!r} instead of its URL{self._tail()}"
            )
        return line

    def stderr_tail(self, max_chars: int = 2000) -> str:
        """The last ``max_chars`` of the child's stderr so far."""
        if self._stderr is None or self._stderr.closed:
            return ""
        self._stderr.flush()
        size = self._stderr.seek(0, os.SEEK_END)
        self._stderr.seek(max(0, size - max_chars))
        return self._stderr.read().decode("utf-8", "replace")

    def _tail(self) -> str:
        tail = self.stderr_tail().strip()
        return f"; its stderr ends with:\n{tail}" if tail else " (no stderr output)"

    def stop(self) -> int | None:
        """SIGTERM, wait, SIGKILL after ``stop_timeout_s``. Returns the exit code."""
        proc = self._proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=self.stop_timeout_s)
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()
        return proc.returncode

    def kill(self) -> None:
        """SIGKILL the child at once (a node that dies), and reap it."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(timeout=self.stop_timeout_s)

    def close(self) -> None:
        """Stop the child and drop its stderr file."""
        self.stop()
        if self._stderr is not None:
            self._stderr.close()

    def __enter__(self) -> SimulatorProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
