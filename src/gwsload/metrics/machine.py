"""The machine a run ran on: ``machine.csv`` samples from /proc and ``environment.json``.

``gwsload run`` (the launcher, no gevent) starts a :class:`MachineSampler` thread for
the run: every ``period_s`` it reads ``/proc/stat`` (CPU busy and steal since the
previous read), ``/proc/loadavg`` and the CPU time of this run's own processes (the
launcher and its children: Locust, the simulator), so a competing process shows up
as ``others_cpu_percent``. At the end :func:`write_environment` writes the fingerprint
(gwsload.contract.environment) with the health summaries of the measured period.
On a system without /proc the machine columns stay empty and the run goes on.
"""

from __future__ import annotations

import csv
import json
import os
import platform
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import TracebackType

import psutil

from gwsload import __version__
from gwsload.contract.environment import (
    ENVIRONMENT_FILE,
    MACHINE_COLUMNS,
    MACHINE_FILE,
    distribution,
)
from gwsload.contract.labels import labels_of
from gwsload.contract.saturation import SIMULATOR_HEALTH_FILE

__all__ = [
    "CpuTimes",
    "MachineSampler",
    "cpu_model",
    "environment_document",
    "parse_loadavg",
    "parse_proc_stat",
    "write_environment",
]

#: generator.csv / simulator health columns summarised in the fingerprint
_HEALTH_COLUMNS = ("cpu_percent", "loop_lag_ms")


@dataclass(frozen=True, slots=True)
class CpuTimes:
    """The ``cpu`` line of /proc/stat, in clock ticks summed over CPUs."""

    total: float
    idle: float
    iowait: float
    steal: float


def parse_proc_stat(text: str) -> CpuTimes | None:
    """The aggregate ``cpu`` line of /proc/stat; None when absent."""
    for line in text.splitlines():
        fields = line.split()
        if fields and fields[0] == "cpu":
            values = [float(v) for v in fields[1:]]
            values += [0.0] * (8 - len(values))
            # user nice system idle iowait irq softirq steal [guest guest_nice: in user]
            return CpuTimes(sum(values[:8]), values[3], values[4], values[7])
    return None


def parse_loadavg(text: str) -> tuple[float, int]:
    """(1-minute load average, runnable tasks) from /proc/loadavg."""
    fields = text.split()
    return float(fields[0]), int(fields[3].split("/")[0])


def cpu_model() -> str | None:
    """The CPU model name (/proc/cpuinfo), else what platform knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as file:
            for line in file:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as file:
            return file.read()
    except OSError:
        return None


class MachineSampler:
    """A thread appending one ``machine.csv`` row every ``period_s`` (a context manager)."""

    def __init__(self, run_dir: Path, *, period_s: float = 2.0) -> None:
        self._path = Path(run_dir) / MACHINE_FILE
        self._period_s = period_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="machine-sampler", daemon=True)
        self._me = psutil.Process()

    def __enter__(self) -> MachineSampler:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=5.0)

    def _own_cpu_s(self) -> float:
        total = 0.0
        for process in (self._me, *self._me.children(recursive=True)):
            try:
                times = process.cpu_times()
            except psutil.Error:
                continue  # ended between listing and reading: its time is gone anyway
            total += times.user + times.system
        return total

    def _run(self) -> None:
        ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        cpus = os.cpu_count() or 1
        with open(self._path, "w", encoding="utf-8", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(MACHINE_COLUMNS)
            before = parse_proc_stat(_read("/proc/stat") or "")
            own_before, wall_before = self._own_cpu_s(), time.monotonic()
            while not self._stop.wait(self._period_s):
                after = parse_proc_stat(_read("/proc/stat") or "")
                own_after, wall_after = self._own_cpu_s(), time.monotonic()
                loadavg = _read("/proc/loadavg")
                load1, running = parse_loadavg(loadavg) if loadavg else (float("nan"), -1)
                row: list[object] = [f"{time.time():.3f}", cpus]
                if before is not None and after is not None and after.total > before.total:
                    span = after.total - before.total
                    busy = span - (after.idle - before.idle) - (after.iowait - before.iowait)
                    own_percent = (own_after - own_before) / (wall_after - wall_before) * 100
                    busy_cores_percent = busy / ticks / (wall_after - wall_before) * 100
                    row += [
                        f"{busy / span * 100:.2f}",
                        f"{(after.steal - before.steal) / span * 100:.2f}",
                        f"{(after.iowait - before.iowait) / span * 100:.2f}",
                        f"{max(0.0, busy_cores_percent - own_percent):.1f}",
                    ]
                else:
                    row += ["", "", "", ""]
                row += [f"{load1:.2f}", running]
                writer.writerow(row)
                file.flush()
                before, own_before, wall_before = after, own_after, wall_after


def _column(path: Path, name: str, since: float, until: float) -> list[float]:
    try:
        with open(path, encoding="utf-8", newline="") as file:
            rows = list(csv.DictReader(file))
    except OSError:
        return []
    values = []
    for row in rows:
        try:
            ts, value = float(row["ts"]), float(row.get(name) or "nan")
        except (KeyError, ValueError):
            continue
        if since <= ts <= until:
            values.append(value)
    return values


def _version_of(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def environment_document(
    run_dir: Path, manifest: Mapping[str, object], *, measured: tuple[float, float]
) -> dict[str, object]:
    """The fingerprint of a finished run; health over ``measured`` (UNIX seconds)."""
    since, until = measured
    target = manifest.get("target")
    target = target if isinstance(target, Mapping) else {}
    health: dict[str, object] = {
        "generator": {
            c: distribution(_column(run_dir / "generator.csv", c, since, until))
            for c in (*_HEALTH_COLUMNS, "cpu_wait_percent")
        },
        "machine": {
            c: distribution(_column(run_dir / MACHINE_FILE, c, since, until))
            for c in MACHINE_COLUMNS[2:]
        },
    }
    if (run_dir / SIMULATOR_HEALTH_FILE).is_file():
        health["simulator"] = {
            c: distribution(_column(run_dir / SIMULATOR_HEALTH_FILE, c, since, until))
            for c in (*_HEALTH_COLUMNS, "cpu_wait_percent")
        }
    nodes = target.get("nodes")
    return {
        "host": socket.gethostname(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "versions": {
            "python": platform.python_version(),
            "locust": _version_of("locust"),
            "gevent": _version_of("gevent"),
            "gwsload": __version__,
        },
        "target": {
            "kind": target.get("kind"),
            "nodes": len(nodes) if isinstance(nodes, Sequence) else 1,
        },
        "workers": manifest.get("workers"),
        "labels": labels_of(manifest),
        "measured_utc_s": [round(since, 3), round(until, 3)],
        "health": health,
    }


def write_environment(run_dir: Path, document: Mapping[str, object]) -> Path:
    """Write ``<run_dir>/environment.json`` (atomically)."""
    final = Path(run_dir) / ENVIRONMENT_FILE
    temporary = final.with_name(f".{ENVIRONMENT_FILE}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(document, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    os.replace(temporary, final)
    return final
