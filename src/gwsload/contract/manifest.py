"""``manifest.json``: its format, and reading, closing and writing it (docs/run-folder.md).

Writes are atomic (temporary file, then ``os.replace``): a reader never sees half a
manifest. Every reader of a run folder (``gwsload check``, ``report``, ``compare``,
the failed-run rule) reads it with :func:`read_manifest`. Building a new manifest
from a scenario is :func:`gwsload.metrics.manifest.build_manifest`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gwsload.contract.formats import FORMAT, KNOWN_FORMATS
from gwsload.errors import ConfigError

__all__ = [
    "FORMAT",
    "KNOWN_FORMATS",
    "MANIFEST",
    "RUN_STATUSES",
    "RunManifest",
    "finish_manifest",
    "read_manifest",
    "utc_text",
    "write_manifest",
]

RUN_STATUSES = ("running", "completed", "interrupted", "failed")
MANIFEST = "manifest.json"


def utc_text(ts: float) -> str:
    """A UNIX time as the manifest writes it (ISO 8601, UTC, whole seconds)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def finish_manifest(
    manifest: Mapping[str, object],
    *,
    status: str,
    exit_code: int | None,
    ended: float,
    generator: Mapping[str, object] | None = None,
    end_reason: str | None = None,
) -> dict[str, object]:
    """A copy of ``manifest`` closed with its end status, time and generator verdict;
    ``end_reason``: one line saying why a run did not complete, when it is known."""
    if status not in RUN_STATUSES:
        raise ValueError(f"status must be one of {RUN_STATUSES}, got {status!r}")
    t0 = manifest["t0"]
    closed = dict(manifest)
    closed.update(
        status=status,
        exit_code=exit_code,
        ended_utc=utc_text(ended),
        duration_s=round(ended - t0, 3) if isinstance(t0, int | float) else None,
    )
    if generator is not None:
        closed["generator"] = dict(generator)
    if end_reason is not None:
        closed["end_reason"] = end_reason
    return closed


def write_manifest(run_dir: str | os.PathLike[str], manifest: Mapping[str, object]) -> Path:
    """Write ``<run_dir>/manifest.json`` atomically; its path."""
    final = Path(run_dir) / MANIFEST
    temporary = final.with_name(f".{MANIFEST}.{os.getpid()}.tmp")
    with open(temporary, "w", encoding="utf-8") as file:
        json.dump(manifest, file, indent=2, allow_nan=False)
        file.write("\n")
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, final)
    return final


def read_manifest(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """A run folder's manifest; ConfigError (one line) when the folder is not a run
    folder, the manifest is missing or broken, of another format, or has no ``t0``."""
    path = Path(run_dir)
    file = path / MANIFEST
    if not path.is_dir():
        raise ConfigError(f"{path}: not a run folder (expected a directory with {MANIFEST})")
    try:
        manifest = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{file}: missing (not a run folder)") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{file}: not valid JSON, an unreadable manifest ({exc})") from None
    if not isinstance(manifest, dict):
        raise ConfigError(f"{file}: expected a JSON object")
    fmt = manifest.get("format")
    if fmt not in KNOWN_FORMATS:
        raise ConfigError(
            f"{file}: run-folder format {fmt!r} is not supported (this gwsload reads "
            f"format {', '.join(map(str, KNOWN_FORMATS))})"
        )
    if not isinstance(manifest.get("t0"), int | float):
        raise ConfigError(
            f"{file}: 't0' must be a number (UNIX seconds), got {manifest.get('t0')!r}"
        )
    return manifest


class RunManifest:
    """The manifest of one run folder through its life, written in one place: created
    (status ``running``), its ``t0`` set to the one the load processes stamped, closed
    (status, exit code, end time, generator verdict) and closed again when a later
    verdict changes the exit code. Every write is atomic (:func:`write_manifest`)."""

    def __init__(self, run_dir: str | os.PathLike[str], manifest: Mapping[str, object]) -> None:
        self.run_dir = Path(run_dir)
        self._open = dict(manifest)
        self._closed: dict[str, object] | None = None

    @classmethod
    def create(cls, run_dir: str | os.PathLike[str], manifest: Mapping[str, object]) -> RunManifest:
        """Write a new run's manifest (as built, status ``running``)."""
        created = cls(run_dir, manifest)
        write_manifest(created.run_dir, created._open)
        return created

    @property
    def data(self) -> dict[str, Any]:
        """The manifest as last written, or as it will be (a copy)."""
        return dict(self._closed if self._closed is not None else self._open)

    def restamp(self, t0: float) -> None:
        """The run's ``t0`` as the load processes stamped it (written when closed)."""
        self._open["t0"] = t0

    def close(
        self,
        *,
        status: str,
        exit_code: int | None,
        ended: float,
        generator: Mapping[str, object] | None = None,
        end_reason: str | None = None,
    ) -> None:
        """Write the closed manifest."""
        self._closed = finish_manifest(
            self._open,
            status=status,
            exit_code=exit_code,
            ended=ended,
            generator=generator,
            end_reason=end_reason,
        )
        write_manifest(self.run_dir, self._closed)

    def change_exit_code(self, exit_code: int) -> None:
        """A verdict after closing (the scenario's SLOs) changed the exit code."""
        if self._closed is None:
            raise ValueError("the manifest is not closed yet")
        self._closed["exit_code"] = exit_code
        write_manifest(self.run_dir, self._closed)
