"""The simulated agents' credentials: generated, or read from a CSV file.

Generated agents are ``agent0001``, ``agent0002``, ... with one shared password and
DNs ``10001``, ``10002``, ... An agents file has the columns ``username,password[,dn]``
(an optional header row starting with ``username`` is skipped); agents without a DN
get the next free generated one.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from gwsload.contract.agents import generated_agent_name
from gwsload.errors import ConfigError

__all__ = ["AgentAccount", "generate_accounts", "read_accounts_file"]

#: first DN handed out; 5-digit DNs read as internal numbers
FIRST_DN = 10001


@dataclass(frozen=True, slots=True)
class AgentAccount:
    username: str
    password: str
    dn: str


def generate_accounts(count: int, password: str) -> list[AgentAccount]:
    """``agent0001``..: named by the run-folder contract's rule (the harness uses it too)."""
    return [
        AgentAccount(generated_agent_name(i, count), password, str(FIRST_DN + i - 1))
        for i in range(1, count + 1)
    ]


def read_accounts_file(path: Path) -> list[AgentAccount]:
    """Read ``username,password[,dn]`` rows; raise ``ConfigError`` on the first bad one."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"--agents-file {path}: cannot read it ({exc})") from None
    accounts: list[AgentAccount] = []
    wanted_dns: list[str | None] = []
    seen: set[str] = set()
    for number, row in enumerate(rows, start=1):
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue
        if number == 1 and cells[0].lower() == "username":
            continue
        where = f"--agents-file {path}, line {number}"
        if len(cells) not in (2, 3):
            raise ConfigError(f"{where}: expected username,password[,dn], got {len(cells)} columns")
        username, password = cells[0], cells[1]
        if not username or not password:
            raise ConfigError(f"{where}: username and password must not be empty")
        if username in seen:
            raise ConfigError(f"{where}: username {username!r} appears twice")
        dn = cells[2] if len(cells) == 3 and cells[2] else None
        if dn is not None and not dn.isdigit():
            raise ConfigError(f"{where}: dn must be digits, got {dn!r}")
        seen.add(username)
        accounts.append(AgentAccount(username, password, ""))
        wanted_dns.append(dn)
    if not accounts:
        raise ConfigError(
            f"--agents-file {path}: no agents in it (expected username,password[,dn] rows)"
        )
    given = [dn for dn in wanted_dns if dn is not None]
    if len(set(given)) != len(given):
        duplicate = next(dn for dn in given if given.count(dn) > 1)
        raise ConfigError(f"--agents-file {path}: dn {duplicate!r} is given to two agents")
    free = (
        str(n) for n in range(FIRST_DN, FIRST_DN + 10 * len(accounts) + 10) if str(n) not in given
    )
    return [
        AgentAccount(acc.username, acc.password, dn if dn is not None else next(free))
        for acc, dn in zip(accounts, wanted_dns, strict=True)
    ]
