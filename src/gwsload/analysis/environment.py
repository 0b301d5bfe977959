"""The environment fingerprint as the analysis reads and shows it.

``fingerprint(run)`` is ``environment.json`` (gwsload.contract.environment) when the
run folder has one; older or generated folders get the same shape from the manifest,
``generator.csv`` and ``simulator.csv``, summarised over the measured period by the
same rule. The report shows it with :func:`environment_html`; compare prints two sides with
:func:`environment_lines`.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from typing import Any

from gwsload.analysis.load import RunFolder
from gwsload.contract import numbers
from gwsload.contract.environment import ENVIRONMENT_FILE, distribution
from gwsload.contract.labels import format_labels, labels_of
from gwsload.errors import ConfigError

__all__ = ["environment_html", "environment_lines", "fingerprint", "health_of"]


def _measured(run: RunFolder, frame: Any) -> Any:
    t = frame["t_s"]
    return frame[(t >= run.warmup_s) & (t <= run.measure_end_s)]


def fingerprint(run: RunFolder) -> dict[str, Any]:
    """The run's environment fingerprint (see module doc)."""
    path = run.path / ENVIRONMENT_FILE
    if path.is_file():
        try:
            found = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{path}: unreadable ({exc})") from None
        if isinstance(found, dict):
            found.setdefault("labels", labels_of(run.manifest))
            return found
    manifest = run.manifest
    host = manifest.get("host") or {}
    versions = manifest.get("versions") or {}
    target = manifest.get("target") or {}
    generator = _measured(run, run.generator)
    health: dict[str, Any] = {
        "generator": {
            column: distribution(generator[column].astype(float).tolist())
            for column in ("cpu_percent", "loop_lag_ms", "cpu_wait_percent")
            if column in generator
        }
    }
    if len(run.simulator):
        simulator = _measured(run, run.simulator)
        health["simulator"] = {
            column: distribution(simulator[column].astype(float).tolist())
            for column in ("cpu_percent", "loop_lag_ms", "cpu_wait_percent")
        }
    return {
        "host": host.get("hostname"),
        "cpu_model": None,
        "cpu_count": host.get("cpu_count"),
        "platform": host.get("platform"),
        "versions": {"python": host.get("python"), **versions},
        "target": {"kind": target.get("kind"), "nodes": 1},
        "workers": manifest.get("workers"),
        "labels": labels_of(manifest),
        "health": health,
    }


def health_of(run: RunFolder) -> Mapping[str, object]:
    """The ``health`` part of the fingerprint (what the compare rule reads)."""
    health = fingerprint(run).get("health")
    return health if isinstance(health, Mapping) else {}


def _stat(health: Mapping[str, Any], section: str, key: str, stat: str) -> float | None:
    value = ((health.get(section) or {}).get(key) or {}).get(stat)
    return float(value) if isinstance(value, int | float) else None


def _num(value: float | None, unit: str) -> str:
    return numbers.quantity(value, unit.strip())


#: (label, section, key, stat, unit) shown in both views
_SHOWN = (
    ("generator CPU mean / p99", "generator", "cpu_percent", ("mean", "p99"), "%"),
    ("generator loop lag p50 / p99", "generator", "loop_lag_ms", ("p50", "p99"), " ms"),
    ("generator CPU wait mean / p99", "generator", "cpu_wait_percent", ("mean", "p99"), "%"),
    ("simulator CPU mean / p99", "simulator", "cpu_percent", ("mean", "p99"), "%"),
    ("simulator loop lag p50 / p99", "simulator", "loop_lag_ms", ("p50", "p99"), " ms"),
    ("simulator CPU wait mean / p99", "simulator", "cpu_wait_percent", ("mean", "p99"), "%"),
    ("machine CPU busy mean / p99", "machine", "cpu_busy_percent", ("mean", "p99"), "%"),
    ("others' CPU mean (one core = 100)", "machine", "others_cpu_percent", ("mean",), "%"),
    ("CPU steal mean / max", "machine", "steal_percent", ("mean", "max"), "%"),
    ("load average mean / max", "machine", "load1", ("mean", "max"), ""),
)


def _facts(fp: Mapping[str, Any]) -> list[tuple[str, str]]:
    versions = fp.get("versions") or {}
    target = fp.get("target") or {}
    health = fp.get("health") or {}
    rows = [
        ("labels", format_labels(fp.get("labels") or {}) or "none"),
        ("host", str(fp.get("host"))),
        ("CPU", f"{fp.get('cpu_count')} x {fp.get('cpu_model') or 'unknown model'}"),
        (
            "versions",
            " ".join(f"{k} {v}" for k, v in versions.items() if v is not None) or "unknown",
        ),
        ("target", f"{target.get('kind')}, {target.get('nodes')} node(s)"),
        ("workers", str(fp.get("workers"))),
    ]
    for label, section, key, stats, unit in _SHOWN:
        values = [_stat(health, section, key, s) for s in stats]
        if any(v is not None for v in values):
            rows.append((label, " / ".join(_num(v, unit) for v in values)))
    return rows


def environment_html(run: RunFolder) -> str:
    """The report's small "Environment" section."""
    rows = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
        for k, v in _facts(fingerprint(run))
    )
    return (
        "<h2>Environment</h2>"
        '<p class="meta">where the run ran and how healthy the measuring side was over the '
        "measured period (environment.json)</p>"
        f'<table class="environment">{rows}</table>'
    )


def environment_lines(baseline: Sequence[RunFolder], candidate: Sequence[RunFolder]) -> list[str]:
    """Both sides' fingerprints side by side, one line per fact (first run of each side;
    health as the range over a side's runs)."""
    sides = [[_facts(fingerprint(run)) for run in runs] for runs in (baseline, candidate)]
    keys = [k for k, _ in sides[0][0]]
    keys += [k for k, _ in sides[1][0] if k not in keys]
    width = max(len(k) for k in keys)
    shown: list[tuple[str, str, str]] = []
    for key in keys:
        pair = []
        for side in sides:
            values = list(dict.fromkeys(dict(facts).get(key, "n/a") for facts in side))
            pair.append(values[0] if len(values) == 1 else " | ".join(values))
        shown.append((key, pair[0], pair[1]))
    left = max(len("baseline"), *(len(b) for _, b, _ in shown))
    lines = [f"{'environment':<{width}}  {'baseline':<{left}}  candidate"]
    lines += [f"{key:<{width}}  {b:<{left}}  {c}" for key, b, c in shown]
    return lines
