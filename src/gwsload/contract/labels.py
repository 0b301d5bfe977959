"""Run labels: ``gwsload run --label KEY=VALUE`` (e.g. ``gws_build=8.5.2.41``).

Labels say what ran (the build of the system under test, the environment) so that
a report, a check and a compare can name it. They live in ``manifest.json`` under
``labels`` (a JSON object of strings, in the order given); a run without labels has
``{}``. A key is a short identifier; a value is one line of printable text. Keys that
look like secrets are refused: run folders never hold secrets.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from gwsload.errors import ConfigError

__all__ = ["format_labels", "labels_of", "parse_labels"]

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")
_SECRET_KEY = re.compile(r"password|passwd|secret|token|credential|api.?key", re.IGNORECASE)
_MAX_VALUE_CHARS = 200


def parse_labels(items: Iterable[str]) -> dict[str, str]:
    """``["gws_build=8.5.2.41", ...]`` -> ``{"gws_build": "8.5.2.41"}``; ConfigError naming
    the first bad item (no ``=``, a bad or repeated key, a secret-like key, a bad value)."""
    labels: dict[str, str] = {}
    for item in items:
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or not _KEY.match(key):
            raise ConfigError(
                f"--label must be KEY=VALUE with KEY a name like gws_build "
                f"(letters, digits, _ . -), got {item!r}"
            )
        if _SECRET_KEY.search(key):
            raise ConfigError(f"--label {key}: labels are stored in the run folder; no secrets")
        if key in labels:
            raise ConfigError(f"--label {key} is given twice")
        if not value or len(value) > _MAX_VALUE_CHARS or not value.isprintable():
            raise ConfigError(
                f"--label {key}: the value must be 1-{_MAX_VALUE_CHARS} printable "
                f"characters on one line, got {value!r}"
            )
        labels[key] = value
    return labels


def labels_of(manifest: Mapping[str, object]) -> dict[str, str]:
    """A manifest's labels (``{}`` for runs written before labels existed)."""
    found = manifest.get("labels")
    if not isinstance(found, Mapping):
        return {}
    return {str(k): str(v) for k, v in found.items()}


def format_labels(labels: Mapping[str, str]) -> str:
    """``gws_build=8.5.2.41 environment=staging`` (empty when there are none)."""
    return " ".join(f"{key}={value}" for key, value in labels.items())
