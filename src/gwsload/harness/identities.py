"""Agent identities: which GWS user each Locust user logs in as.

Every agent name must be used by one Locust user at a time across all users of
all worker processes, without the workers talking to each other. Worker *k* of
*n* (0-based) owns the global slots ``k, k + n, k + 2n, ...``; inside a worker,
slots freed by stopped users are reused lowest first, so a ramp down and up again
keeps the set of agents compact. Slot *s* is the agent ``directory[s]``.

Pure: no gevent, no clock.
"""

from __future__ import annotations

import csv
import heapq
from dataclasses import dataclass
from pathlib import Path

from gwsload.errors import ConfigError

__all__ = ["AgentCredentials", "AgentDirectory", "IdentityAllocator", "read_agents_file"]


@dataclass(frozen=True, slots=True)
class AgentCredentials:
    """One GWS user to log in as."""

    username: str
    password: str


class AgentDirectory:
    """The agents a run may use: listed in a file, or generated like the simulator's.

    Generated agents are ``<prefix>0001``, ``<prefix>0002``, ... (four digits at least,
    as the simulator names them) with one shared password.
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
        return AgentCredentials(f"{self._prefix}{slot + 1:04d}", self._password)

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
    """Read an agents CSV: a header with ``username,password`` (more columns are ignored).

    Raises ConfigError with the file and line for anything that is not that.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read the agents file ({exc.strerror})") from exc
    reader = csv.DictReader(text.splitlines())
    fields = [f.strip().lower() for f in (reader.fieldnames or [])]
    if "username" not in fields or "password" not in fields:
        raise ConfigError(
            f"{file}: the agents file needs a header line with columns username,password, "
            f"got {','.join(reader.fieldnames or []) or 'an empty file'}"
        )
    reader.fieldnames = fields
    agents: list[AgentCredentials] = []
    seen: set[str] = set()
    for row in reader:
        line = reader.line_num
        username = (row.get("username") or "").strip()
        password = row.get("password") or ""
        if not username:
            raise ConfigError(f"{file}:{line}: username is empty")
        if username in seen:
            raise ConfigError(f"{file}:{line}: username {username!r} is listed twice")
        seen.add(username)
        agents.append(AgentCredentials(username, password))
    if not agents:
        raise ConfigError(f"{file}: the agents file lists no agents")
    return agents


class IdentityAllocator:
    """Hands out agent slots for one worker process of a run (see module doc)."""

    __slots__ = ("_capacity", "_free", "_next_local", "_worker_count", "_worker_index")

    def __init__(self, *, worker_index: int, worker_count: int, capacity: int) -> None:
        if worker_count < 1 or not 0 <= worker_index < worker_count:
            raise ValueError(f"worker {worker_index} of {worker_count} is not a valid worker")
        self._worker_index = worker_index
        self._worker_count = worker_count
        self._capacity = capacity
        self._free: list[int] = []
        self._next_local = 0

    def acquire(self) -> int:
        """A slot no other user of the run holds. Raises ConfigError when none is left."""
        if self._free:
            return heapq.heappop(self._free)
        slot = self._worker_index + self._next_local * self._worker_count
        if slot >= self._capacity:
            raise ConfigError(
                f"not enough agents: worker {self._worker_index + 1} of {self._worker_count} "
                f"needs more than the {self._capacity} agents available "
                "(list more in the agents file, or run fewer users)"
            )
        self._next_local += 1
        return slot

    def release(self, slot: int) -> None:
        """Give a slot back for the next user of this worker."""
        heapq.heappush(self._free, slot)
