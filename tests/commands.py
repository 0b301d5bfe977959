"""How the tests start gwsload: the project's own executable (``sys.executable -m
gwsload.cli``), never a ``gwsload`` from PATH (a fresh clone has none there)."""

from __future__ import annotations

import subprocess
import sys


def run_gwsload(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """``gwsload ARGS`` to its end (bounded by ``timeout`` s), output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "gwsload.cli", *args],
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
