"""No orphan load: the processes a launcher starts never outlive it (stdlib only).

Two mechanisms, because either alone has holes:

- the parent-death signal (Linux ``prctl(PR_SET_PDEATHSIG)``), armed by the child
  itself at start: the kernel signals the child the moment its parent dies, whatever
  killed it (SIGKILL included);
- a lifeline pipe, portable: the launcher holds the only write end, each child
  inherits the read end (its number in ``GWSLOAD_LIFELINE_FD``) and stops when it
  reads end-of-file, which happens when the launcher is gone, however it went.

::

    lifeline = Lifeline()           # launcher
    proc = subprocess.Popen(argv, env={**env, **lifeline.env()}, pass_fds=lifeline.pass_fds)
    ...
    lifeline.close()                # after the children ended

    die_with_parent(signal.SIGKILL) # child, first thing
    fd = lifeline_fd()              # child: watch it (gwsload.harness.watchdog)

The child side (a real thread watching the read end and the process's hard
deadline) is :mod:`gwsload.harness.watchdog`; the simulator watches its stdin.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import stat
import sys
from collections.abc import MutableMapping

__all__ = [
    "EXIT_DEADLINE",
    "EXIT_ORPHANED",
    "LIFELINE_ENV",
    "PARENT_ENV",
    "Lifeline",
    "die_with_parent",
    "lifeline_fd",
    "parent_env",
]

#: environment variable naming the inherited read end of the lifeline pipe
LIFELINE_ENV = "GWSLOAD_LIFELINE_FD"
#: environment variable naming the launcher's pid, for the child's parent-death signal
PARENT_ENV = "GWSLOAD_PARENT_PID"
#: exit code of a load process that passed its hard deadline and stopped itself
EXIT_DEADLINE = 124
#: exit code of a load process that stopped because its launcher or master was gone
EXIT_ORPHANED = 125
_PR_SET_PDEATHSIG = 1


def die_with_parent(signum: int, environ: MutableMapping[str, str] | None = None) -> bool:
    """In a child, as early as possible: have the kernel send ``signum`` to this process
    when the parent named in ``GWSLOAD_PARENT_PID`` dies (Linux; elsewhere the lifeline
    pipe alone holds). A parent that died before this call is caught by comparing it with
    the actual parent. The variable is removed, so this process's own children do not
    inherit it. False when not started by a launcher."""
    env = environ if environ is not None else os.environ
    value = env.pop(PARENT_ENV, "")
    try:
        parent = int(value)
    except ValueError:
        return False
    if sys.platform.startswith("linux"):
        libc = ctypes.util.find_library("c")
        if libc is not None:
            ctypes.CDLL(libc, use_errno=True).prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0)
    if os.getppid() != parent:  # gone already (we were re-parented before arming)
        os.kill(os.getpid(), signum)
    return True


class Lifeline:
    """The launcher's end of the lifeline pipe (see module doc)."""

    def __init__(self) -> None:
        # both ends non-inheritable (PEP 446): only children given pass_fds get the read end,
        # and no child ever holds the write end, so its end-of-file means "launcher gone"
        self._read_fd, self._write_fd = os.pipe()

    @property
    def pass_fds(self) -> tuple[int, ...]:
        return (self._read_fd,) if self._read_fd >= 0 else ()

    def env(self) -> dict[str, str]:
        """What a child needs: the read end's number and this process's pid."""
        named = {LIFELINE_ENV: str(self._read_fd)} if self._read_fd >= 0 else {}
        return {**named, **parent_env()}

    def close(self) -> None:
        """Cut the line: every child still watching it stops."""
        for fd in (self._read_fd, self._write_fd):
            if fd >= 0:
                os.close(fd)
        self._read_fd = self._write_fd = -1


def parent_env() -> dict[str, str]:
    """The variable :func:`die_with_parent` reads, naming this process as the parent."""
    return {PARENT_ENV: str(os.getpid())}


def lifeline_fd(environ: MutableMapping[str, str] | None = None) -> int | None:
    """The inherited read end named in the environment (the variable is removed), or None:
    not started by a launcher, or not a pipe here (a variable copied into another process)."""
    value = (environ if environ is not None else os.environ).pop(LIFELINE_ENV, "")
    try:
        fd = int(value)
        is_pipe = stat.S_ISFIFO(os.fstat(fd).st_mode)
    except (ValueError, OSError):
        return None
    return fd if is_pipe else None
