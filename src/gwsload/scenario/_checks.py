"""Checked reads of TOML tables: one-line ``ConfigError``s naming file, key path, expectation.

``Table`` wraps one parsed table with its key path (``stages[2]``); its readers
raise ``scenarios/soak.toml: stages[2].users must be an int >= 0, got -5``-style
errors. Also the duration parser shared with the command line (``--run-time 10m``)
and the secret-key guard.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from gwsload.errors import ConfigError

__all__ = ["Table", "check_no_secrets", "number_text", "parse_duration"]

_SECRET_WORDS = ("password", "passwd", "secret", "token", "credential", "apikey", "api_key")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_T = TypeVar("_T")
#: a TOML bare key: shown as is in errors; any other key is shown quoted
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def parse_duration(text: str, *, what: str = "duration") -> float:
    """Seconds in ``"90"``, ``"90s"``, ``"10m"``, ``"4h"``, ``"1h30m"``, ``"500ms"``.

    Raises ``ConfigError`` naming ``what`` for anything else.
    """
    compact = text.strip().replace(" ", "")
    try:
        return float(compact)
    except ValueError:
        pass
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    parts = _DURATION.findall(compact)
    if not parts or "".join(n + u for n, u in parts) != compact:
        raise ConfigError(f"{what} must be a duration like 90, 90s, 10m, 4h or 1h30m, got {text!r}")
    return math.fsum(float(number) * scale[unit] for number, unit in parts)


def url_has_credentials(url: str) -> bool:
    """True for ``scheme://user:password@host``: a secret that would end up in process
    arguments, logs and reports (refused in scenario files and on the command line)."""
    rest = url.split("//", 1)[1] if "//" in url else url
    return "@" in rest.split("/", 1)[0]


def check_no_secrets(data: Mapping[str, Any], source: str, path: str) -> None:
    for key, value in data.items():
        where = f"{path}.{key}" if path else str(key)
        compact = str(key).lower().replace("-", "_")
        if any(word in compact for word in _SECRET_WORDS):
            raise ConfigError(
                f"{source}: {where}: secrets do not belong in scenario files; give "
                f"credentials through environment variables or --agents-file"
            )
        if isinstance(value, Mapping):
            check_no_secrets(value, source, where)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, Mapping):
                    check_no_secrets(item, source, f"{where}[{index}]")


def _shown(value: object) -> str:
    """A value as the TOML file spells it (``"ws"``, ``true``, ``-5``)."""
    try:
        return json.dumps(value, default=str)
    except (TypeError, ValueError):
        return repr(value)


def number_text(value: object) -> str:
    """A number as a command-line argument (``5.0`` -> ``"5"``)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class Table:
    """One TOML table with its key path, for checked reads and one-line errors."""

    def __init__(self, data: Mapping[str, Any], source: str, path: str) -> None:
        self.data = data
        self.source = source
        self.path = path

    def key_path(self, key: str) -> str:
        """``stages[2].users`` for key ``users`` of table ``stages[2]``.

        A key that is not a bare TOML key (spaces, newlines, quotes) is shown quoted,
        so the error stays one line and says exactly what the file holds.
        """
        shown = key if _BARE_KEY.fullmatch(key) else json.dumps(key)
        return f"{self.path}.{shown}" if self.path else shown

    def error(self, key: str, expected: str, got: object) -> ConfigError:
        """The one-line error for a bad value."""
        where = self.key_path(key)
        return ConfigError(f"{self.source}: {where} must be {expected}, got {_shown(got)}")

    def allow(self, *known: str, only_for: Mapping[str, str] | None = None) -> None:
        """Refuse keys not in ``known``; ``only_for`` explains keys of another mode."""
        for key in self.data:
            if key in known:
                continue
            where = self.key_path(key)
            if only_for and key in only_for:
                raise ConfigError(f"{self.source}: {where} is only for {only_for[key]}")
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(
                f"{self.source}: {where} is not a known key{hint}; "
                f"known keys here: {', '.join(known)}"
            )

    def opt(
        self, key: str, kind: type[_T], expected: str, check: Callable[[_T], bool] | None = None
    ) -> _T | None:
        """The checked value, or None when the key is absent."""
        if key not in self.data:
            return None
        value: object = self.data[key]
        # TOML integers are fine where a float is expected; booleans are not numbers
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise self.error(key, expected, value)
        if isinstance(value, float) and not math.isfinite(value):
            raise self.error(key, expected, value)
        typed = value
        if check is not None and not check(typed):
            raise self.error(key, expected, value)
        return typed

    def get(
        self,
        key: str,
        kind: type[_T],
        default: _T,
        expected: str,
        check: Callable[[_T], bool] | None = None,
    ) -> _T:
        """The checked value, or ``default`` when the key is absent."""
        value = self.opt(key, kind, expected, check)
        return default if value is None else value

    def require(
        self, key: str, kind: type[_T], expected: str, check: Callable[[_T], bool] | None = None
    ) -> _T:
        """The checked value; a missing key is an error."""
        value = self.opt(key, kind, expected, check)
        if value is None:
            raise ConfigError(f"{self.source}: {self.key_path(key)} is required ({expected})")
        return value

    def table(self, key: str) -> Table:
        """A sub-table."""
        value = self.data[key]
        if not isinstance(value, Mapping):
            raise self.error(key, f"a table ([{self.key_path(key)}])", value)
        return Table(value, self.source, self.key_path(key))

    def array_of_tables(self, key: str) -> list[Table]:
        """An array of tables (``[[stages]]``)."""
        value = self.data[key]
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            raise self.error(key, f"an array of tables ([[{self.key_path(key)}]])", value)
        return [Table(v, self.source, f"{self.key_path(key)}[{i}]") for i, v in enumerate(value)]
