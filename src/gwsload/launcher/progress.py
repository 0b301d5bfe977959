"""Progress of a running test: the record the master writes, the line ``gwsload run`` prints.

The master (or single process) rewrites a small JSON file every few seconds
(:func:`write_progress`); ``gwsload run`` reads it (:func:`read_progress`) and prints
:func:`format_progress`. At the end the record carries ``state: "done"`` and the
run's ``summary``. Stdlib only: used by the gevent-free ``gwsload run`` process.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gwsload.contract import numbers
from gwsload.contract.agent_states import PHASES, format_agents
from gwsload.contract.pacing import pacing_text

__all__ = [
    "format_duration",
    "format_progress",
    "format_summary",
    "read_progress",
    "write_progress",
]


def write_progress(path: str | os.PathLike[str], record: Mapping[str, Any]) -> None:
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(json.dumps(record, allow_nan=False), encoding="utf-8")
    os.replace(tmp, target)


def read_progress(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The last record written, or None when there is none (yet)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def format_duration(seconds: float) -> str:
    seconds = max(int(seconds + 0.5), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def _ms(value: object) -> str:
    return "-" if not isinstance(value, int | float) else numbers.significant(value)


def format_progress(record: Mapping[str, Any]) -> str:
    """One line: elapsed/remaining, users, agents' phases (when known), ops/s,
    notification p50/p99, lost, errors, generator CPU."""
    elapsed = float(record.get("elapsed_s", 0.0))
    duration = float(record.get("duration_s", 0.0))
    remaining = max(duration - elapsed, 0.0)
    left = f"{format_duration(remaining)} left"
    latest = float(record.get("sign_off_end_s", duration) or duration)
    if remaining <= 0 and latest > elapsed and record.get("users"):
        # past the ramp-down with agents still leaving: the shape waits for them
        left = f"signing off, at most {format_duration(latest - elapsed)} left"
    cpu = record.get("generator_cpu_percent")
    cpu_text = "-" if not isinstance(cpu, int | float) else numbers.quantity(cpu, "%", 2)
    parts = [
        f"{format_duration(elapsed)} elapsed, {left}",
        f"users {record.get('users', 0)}",
    ]
    agents = record.get("agents")
    if isinstance(agents, Mapping) and any(agents.get(p) for p in PHASES):
        parts.append(format_agents(agents))
    logins = record.get("logins")
    paced = pacing_text(logins) if isinstance(logins, Mapping) else None
    if paced is not None:
        parts.append(paced)
    parts += [
        f"ops/s {numbers.significant(float(record.get('ops_per_s', 0.0)))}",
        f"notify p50 {_ms(record.get('notify_p50_ms'))} ms "
        f"p99 {_ms(record.get('notify_p99_ms'))} ms",
        f"lost {numbers.count(record.get('lost', 0))}",
        f"errors {numbers.count(record.get('errors', 0))}",
        f"generator CPU {cpu_text}",
    ]
    return " | ".join(parts)


def format_summary(summary: Mapping[str, Any], *, duration_s: float | None) -> list[str]:
    """The short summary printed at the end of a run (one line per item)."""
    counts: Mapping[str, int] = summary.get("counts") or {}
    ops = int(counts.get("ops", 0))
    rate = f" ({numbers.rate(ops / duration_s)})" if duration_s and duration_s > 0 else ""

    def n(key: str) -> str:
        return numbers.count(counts.get(key, 0))

    lines = [
        f"operations {numbers.count(ops)}{rate}: ok {n('ok')}, lost {n('lost')}, "
        f"http_error {n('http_error')}, api_error {n('api_error')}, "
        f"transport_error {n('transport_error')}, async_error {n('async_error')}",
        f"notifications: late {n('late')}, duplicate {n('duplicate')}, "
        f"unexpected {n('unexpected')}",
    ]
    operations: Mapping[str, Mapping[str, Any]] = summary.get("operations") or {}
    warmup = float(summary.get("warmup_s", 0.0) or 0.0)
    if operations and warmup > 0:
        lines.append(
            f"latencies after the {numbers.duration_s(warmup)} warm-up, before the agents sign off:"
        )
    for name, entry in operations.items():
        lines.append(
            f"{name}: response p50 {_ms(entry.get('response_p50_ms'))} "
            f"p99 {_ms(entry.get('response_p99_ms'))} ms, notify p50 "
            f"{_ms(entry.get('notify_p50_ms'))} p99 {_ms(entry.get('notify_p99_ms'))} "
            f"max {_ms(entry.get('notify_max_ms'))} ms"
        )
    logins = summary.get("logins")
    paced = pacing_text(logins) if isinstance(logins, Mapping) else None
    if paced is not None:
        lines.append(paced)
    not_started = int(summary.get("not_started", 0) or 0)
    if not_started:
        lines.append(
            f"open workload: {numbers.count(not_started)} cycles could not start before the end"
        )
    return lines
