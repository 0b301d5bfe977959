"""``simulator-truth.csv``: what the simulator published, dropped or duplicated, and when.

Columns (docs/run-folder.md): ``ts,seq,agent,call_id,notification_type,recording_state,
action,delay_ms``. Rows are buffered; the owner calls ``flush()`` about once a second
and ``close()`` at shutdown.
"""

from __future__ import annotations

import csv
from pathlib import Path

from gwsload.errors import ConfigError

__all__ = ["TRUTH_COLUMNS", "TruthLog"]

TRUTH_COLUMNS = (
    "ts", "seq", "agent", "call_id", "notification_type", "recording_state", "action", "delay_ms",
)  # fmt: skip


class TruthLog:
    def __init__(self, path: Path) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("w", newline="", encoding="utf-8", buffering=1 << 16)
        except OSError as exc:
            raise ConfigError(f"--truth-log {path}: cannot write it ({exc.strerror})") from None
        self.path = path
        self._writer = csv.writer(self._file, lineterminator="\n")
        self._writer.writerow(TRUTH_COLUMNS)
        self.rows = 0

    def write(
        self,
        *,
        ts: float,
        seq: int,
        agent: str,
        call_id: str,
        notification_type: str,
        recording_state: str,
        action: str,
        delay_ms: float,
    ) -> None:
        self._writer.writerow(
            (f"{ts:.6f}", seq, agent, call_id, notification_type, recording_state, action,
             f"{delay_ms:.3f}")
        )  # fmt: skip
        self.rows += 1

    def flush(self) -> None:
        if not self._file.closed:
            self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()
