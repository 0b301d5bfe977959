"""The console's verdict at the end of ``gwsload run`` (stdlib only, no gevent).

:func:`run_verdict` judges the master's summary (lost notifications, errors, workers
that did not deliver); :func:`untested` applies the failed-run rule of
:mod:`gwsload.contract.failed_run` to the folder just written, exactly as
``gwsload check`` and ``gwsload report`` do, and names the agents' most frequent
failure when some never operated.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

from gwsload.contract.activity import run_failures
from gwsload.contract.failed_run import count_failures
from gwsload.contract.loss_causes import loss_causes_in
from gwsload.errors import EXIT_FAILED, EXIT_OK, ConfigError

__all__ = [
    "DID_NOT_COMPLETE",
    "EXIT_INTERRUPTED",
    "add_loss_causes",
    "run_verdict",
    "top_failure",
    "untested",
]

EXIT_INTERRUPTED = 130
#: Locust writes an exception as its repr: ``GwsApiError('GetMe failed: ...')``
_REPR = re.compile(r"^\w+\((['\"])(.*)\1\)$", re.DOTALL)


#: why a run did not complete when nothing more is known
DID_NOT_COMPLETE = "the run did not complete: see locust/*.log in the folder"


def run_verdict(
    summary: dict[str, Any] | None,
    *,
    interrupted: bool,
    finished: bool,
    deadline_passed: str | None = None,
) -> tuple[int, str, list[str]]:
    """Exit code, manifest status and reasons (one line each). ``deadline_passed``: the
    line of :func:`gwsload.contract.deadline.deadline_passed` when the run was stopped
    at its deadline (it did not complete, whatever Locust managed to write)."""
    if interrupted:
        return EXIT_INTERRUPTED, "interrupted", ["interrupted: the run folder holds what was done"]
    if deadline_passed is not None:
        return EXIT_FAILED, "failed", [deadline_passed]
    if summary is None or not finished:
        return EXIT_FAILED, "failed", [DID_NOT_COMPLETE]
    reasons = count_failures(summary.get("counts") or {}, summary.get("missing_workers") or ())
    return (EXIT_FAILED if reasons else EXIT_OK), "completed", reasons


def untested(run_dir: Path, manifest: dict[str, Any]) -> list[str]:
    """The failed-run rule on the folder just written (as check and report apply it),
    with the agents' most frequent failure when some never operated."""
    try:
        reasons = run_failures(run_dir, manifest)
    except ConfigError as exc:
        return [f"the run folder cannot be judged: {exc}"]
    if reasons:
        top = top_failure(run_dir / "locust" / "failures.csv")
        if top is not None:
            reasons.append(f"most frequent failure: {top}")
    return reasons


def add_loss_causes(reasons: list[str], run_dir: Path, *, notification_timeout_s: float) -> None:
    """After the verdict's ``failed: N lost`` line: how many of them waited while a
    measuring process (a load process, the embedded simulator) stalled
    (:mod:`gwsload.contract.loss_causes`), so the target is not blamed."""
    at = next((i for i, r in enumerate(reasons) if re.fullmatch(r"failed: \d+ lost", r)), None)
    if at is None:
        return
    line = loss_causes_in(run_dir, notification_timeout_s=notification_timeout_s).line()
    if line is not None:
        reasons.insert(at + 1, line)


def top_failure(failures_csv: Path) -> str | None:
    """The most frequent failure Locust recorded (``locust/failures.csv``), one line."""
    try:
        with open(failures_csv, encoding="utf-8", newline="") as file:
            rows = list(csv.DictReader(file))
    except (OSError, ValueError):
        return None
    best: tuple[int, str] | None = None
    for row in rows:
        try:
            count = int(row.get("Occurrences") or 0)
        except ValueError:
            continue
        name, error = row.get("Name") or "", _unwrap(row.get("Error") or "")
        text = (error if error.startswith(name) else f"{name}: {error}").replace("\n", " ")
        if best is None or count > best[0]:
            best = (count, f"{text[:200]} ({count} times)")
    return None if best is None else best[1]


def _unwrap(error: str) -> str:
    match = _REPR.match(error.strip())
    return match.group(2) if match else error.strip()
