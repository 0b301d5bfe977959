"""``manifest.json`` and the run folder itself (docs/run-folder.md, format 1).

::

    run_id, run_dir = create_run_folder("results", scenario.name, started=time.time())
    manifest = build_manifest(run_id=run_id, t0=t0, scenario=scenario,
                              scenario_file="scenarios/smoke.toml", target=...,
                              workers=0, command_line=sys.argv)
    write_manifest(run_dir, manifest)                     # at start: status "running"
    ...
    write_manifest(run_dir, finish_manifest(manifest, status="completed", exit_code=0,
                                            ended=time.time(), generator=verdict.to_dict()))

Writes are atomic (temporary file, then ``os.replace``): a reader never sees half
a manifest. The command line is stored with secrets removed.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import socket
import subprocess
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from gwsload import __version__
from gwsload.contract.manifest import (
    FORMAT,
    KNOWN_FORMATS,
    MANIFEST,
    RUN_STATUSES,
    finish_manifest,
    read_manifest,
    utc_text,
    write_manifest,
)
from gwsload.errors import ConfigError
from gwsload.scenario import Scenario
from gwsload.stages import stage_windows

__all__ = [
    "FORMAT",
    "KNOWN_FORMATS",
    "RUN_STATUSES",
    "build_manifest",
    "create_run_folder",
    "finish_manifest",
    "git_revision",
    "make_run_id",
    "prepare_out_folder",
    "read_manifest",
    "redact_command_line",
    "write_manifest",
]

#: run-folder format version (history in docs/run-folder.md); 1: first version
_REDACTED = "***"
#: option names whose value is a secret (``--password x``, ``--api-token=x``)
_SECRET_OPTION = re.compile(
    r"^--?[\w-]*(password|passwd|secret|token|credential|api-?key)[\w-]*$", re.IGNORECASE
)


def make_run_id(started: float, scenario_name: str) -> str:
    """``<UTC start, YYYYmmddTHHMMSSZ>-<scenario name>``."""
    stamp = datetime.fromtimestamp(started, UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{scenario_name}"


def create_run_folder(
    results_dir: str | os.PathLike[str], scenario_name: str, started: float
) -> tuple[str, Path]:
    """Create ``results/<run-id>/`` (``-2``, ``-3``... when taken); its id and path."""
    base = make_run_id(started, scenario_name)
    parent = Path(results_dir)
    _make_folder(parent, "--results")
    for attempt in range(1, 1000):
        run_id = base if attempt == 1 else f"{base}-{attempt}"
        try:
            (parent / run_id).mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            raise ConfigError(
                f"{parent}: cannot create a run folder in it ({exc.strerror or exc})"
            ) from None
        return run_id, parent / run_id
    raise ConfigError(f"{parent}: too many runs named {base}")


def prepare_out_folder(path: str | os.PathLike[str], *, force: bool = False) -> Path:
    """Use ``path`` (``--out DIR``) as the run folder: created if missing.

    A non-empty folder is refused unless ``force``; even then only a previous
    run folder (one holding ``manifest.json``) is cleared, never anything else.
    """
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{folder}: --out must be a folder, got an existing file")
    if folder.is_dir() and any(folder.iterdir()):
        if not force:
            raise ConfigError(
                f"{folder}: the output folder is not empty; choose another or add --force"
            )
        if not (folder / MANIFEST).is_file():
            raise ConfigError(
                f"{folder}: not a run folder (no {MANIFEST}); "
                "refusing to clear it even with --force"
            )
        shutil.rmtree(folder)
    _make_folder(folder, "--out")
    return folder


def _make_folder(folder: Path, option: str) -> None:
    """``mkdir -p`` that fails as bad input: one line naming the folder and the option."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".gwsload-write-test-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise ConfigError(
            f"{folder}: {option} must be a folder gwsload can create and write "
            f"({exc.strerror or exc})"
        ) from None


def redact_command_line(argv: Sequence[str]) -> list[str]:
    """The command line with secrets replaced by ``***``.

    Values of options named like password/secret/token/api-key (``--opt v`` and
    ``--opt=v``) and ``user:password@`` in URLs are removed; file paths stay.
    """
    out: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            out.append(_REDACTED)
            hide_next = False
            continue
        name, eq, _ = arg.partition("=")
        if _SECRET_OPTION.match(name):
            if eq:
                out.append(f"{name}={_REDACTED}")
            else:
                out.append(arg)
                hide_next = True
            continue
        out.append(_redact_url(arg))
    return out


def _redact_url(text: str) -> str:
    if "://" not in text or "@" not in text:
        return text
    head, eq, value = text.rpartition("=") if text.startswith("-") else ("", "", text)
    parts = urlsplit(value)
    if "@" not in parts.netloc:
        return text
    host = parts.netloc.rsplit("@", 1)[1]
    clean = urlunsplit(
        (parts.scheme, f"{_REDACTED}@{host}", parts.path, parts.query, parts.fragment)
    )
    return f"{head}{eq}{clean}"


def _version_of(package: str) -> str | None:
    # metadata only: the manifest writer must not import gevent or locust
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def git_revision(where: str | os.PathLike[str] | None = None) -> str | None:
    """The checkout's commit (``git rev-parse HEAD``), or None when unknown."""
    folder = Path(where) if where is not None else Path(__file__).resolve().parent
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    revision = done.stdout.strip()
    return revision if done.returncode == 0 and revision else None


def build_manifest(
    *,
    run_id: str,
    t0: float,
    scenario: Scenario,
    scenario_file: str,
    target: Mapping[str, object],
    workers: int,
    command_line: Sequence[str],
    labels: Mapping[str, str] | None = None,
) -> dict[str, object]:
    """The manifest at the start of a run (status ``running``).

    ``target`` is ``{"kind": "embedded-simulator", "url": ..., "simulator": {...}}`` or
    ``{"kind": "external", "url": ..., "verify_tls": ...}``. ``labels`` come from
    ``--label KEY=VALUE`` (gwsload.contract.labels).
    """
    return {
        "format": FORMAT,
        "run_id": run_id,
        "status": "running",
        "exit_code": None,
        "t0": t0,
        "started_utc": utc_text(t0),
        "ended_utc": None,
        "duration_s": None,
        "scenario_file": scenario_file,
        "scenario": scenario.to_dict(),
        "target": {**target, "url": _redact_url(str(target.get("url", "")))},
        "transport": scenario.client.transport,
        "workload": {"model": scenario.workload.model},
        "stages": [window.to_dict() for window in stage_windows(scenario.stages)],
        "warmup_s": scenario.effective_warmup_s,
        "min_active_share": scenario.min_active_share,
        "notification_timeout_s": scenario.client.notification_timeout_s,
        "slo": [slo.to_dict() for slo in scenario.slo],
        "workers": workers,
        "labels": dict(labels or {}),
        "host": {
            "hostname": socket.gethostname(),
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "versions": {
            "gwsload": __version__,
            "locust": _version_of("locust"),
            "gevent": _version_of("gevent"),
        },
        "git_revision": git_revision(),
        "command_line": redact_command_line(command_line),
        "generator": {"saturated": False, "findings": []},
    }
