"""Agent identities of a run: generated names, and the agents CSV file.

Generated agents are named by :func:`generated_agent_name`, the one rule the
simulator (which creates them) and the harness (which logs in as them) share.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from gwsload.errors import ConfigError

__all__ = [
    "AgentCredentials",
    "AgentDirectory",
    "generated_agent_name",
    "read_agents_file",
]

#: generated names are zero-padded to at least this many digits so they sort in order
MIN_NAME_DIGITS = 4


def generated_agent_name(number: int, count: int, prefix: str = "agent") -> str:
    """The name of generated agent ``number`` (1-based) of ``count``: ``agent0001``...;
    past 9,999 agents every name has as many digits as ``count`` (``agent00001``)."""
    width = max(MIN_NAME_DIGITS, len(str(count)))
    return f"{prefix}{number:0{width}d}"


@dataclass(frozen=True, slots=True)
class AgentCredentials:
    """One GWS user to log in as."""

    username: str
    password: str
    #: the agent's extension when the agents file gives one (the simulator uses it)
    dn: str | None = None


class AgentDirectory:
    """The agents a run may use: listed in a file, or generated like the simulator's.

    Generated agents are named by :func:`generated_agent_name` (as the simulator
    names them) and share one password.
    """

    __slots__ = ("_count", "_listed", "_password", "_prefix")

    def __init__(
        self,
        *,
        listed: list[AgentCredentials] | None = None,
        generated: int = 0,
        password: str = "gwsload",
        prefix: str = "agent",
    ) -> None:
        self._listed = listed
        self._count = len(listed) if listed is not None else generated
        self._password = password
        self._prefix = prefix

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, slot: int) -> AgentCredentials:
        if not 0 <= slot < self._count:
            raise IndexError(slot)
        if self._listed is not None:
            return self._listed[slot]
        return AgentCredentials(
            generated_agent_name(slot + 1, self._count, self._prefix), self._password
        )

    def to_dict(self) -> dict[str, object]:
        """A JSON form that :meth:`from_dict` reads back (credentials included)."""
        if self._listed is not None:
            return {"listed": [[a.username, a.password] for a in self._listed]}
        return {"generated": self._count, "password": self._password, "prefix": self._prefix}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> AgentDirectory:
        listed = data.get("listed")
        if isinstance(listed, list):
            return cls(listed=[AgentCredentials(str(u), str(p)) for u, p in listed])
        generated = data.get("generated", 0)
        return cls(
            generated=int(generated) if isinstance(generated, int | float | str) else 0,
            password=str(data.get("password", "gwsload")),
            prefix=str(data.get("prefix", "agent")),
        )


def read_agents_file(path: str | Path) -> list[AgentCredentials]:
    """Read an agents CSV, the one format ``gwsload run`` and the simulator both take.

    A header line names the columns: ``username`` and ``password`` (required) and
    ``dn`` (optional: digits, the agent's extension); more columns are ignored, empty
    lines skipped. Raises ConfigError naming the file and line for anything else.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read the agents file ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigError(
            f"{file}: not a text file (expected a UTF-8 CSV with a header username,password)"
        ) from None
    if "\0" in text:
        raise ConfigError(
            f"{file}: holds NUL bytes, not a text file "
            "(expected a UTF-8 CSV with a header username,password)"
        )
    reader = csv.DictReader(line for line in text.splitlines() if line.strip())
    try:
        header = [f.strip().lower() for f in (reader.fieldnames or [])]
    except csv.Error as exc:
        raise ConfigError(f"{file}: not a CSV file ({exc})") from None
    if "username" not in header or "password" not in header:
        raise ConfigError(
            f"{file}: the agents file needs a header line with columns username,password[,dn], "
            f"got {','.join(reader.fieldnames or []) or 'an empty file'}"
        )
    reader.fieldnames = header
    agents: list[AgentCredentials] = []
    seen: set[str] = set()
    lines = [n for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
    try:
        for index, row in enumerate(reader, start=1):
            where = f"{file}, line {lines[index] if index < len(lines) else index + 1}"
            username = (row.get("username") or "").strip()
            password = row.get("password") or ""  # as written: spaces may belong to it
            dn = (row.get("dn") or "").strip() or None
            if not username or not password:
                raise ConfigError(f"{where}: username and password must not be empty")
            if username in seen:
                raise ConfigError(f"{where}: username {username!r} is listed twice")
            if dn is not None and not dn.isdigit():
                raise ConfigError(f"{where}: dn must be digits, got {dn!r}")
            seen.add(username)
            agents.append(AgentCredentials(username, password, dn))
    except csv.Error as exc:
        raise ConfigError(f"{file}: not a CSV file ({exc})") from None
    if not agents:
        raise ConfigError(f"{file}: the agents file lists no agents")
    return agents
