"""The simulated agents' credentials: generated, or read from a CSV file.

Generated agents are ``agent0001``, ``agent0002``, ... with one shared password and
DNs ``10001``, ``10002``, ... An agents file is read by the run-folder contract's
reader (:func:`gwsload.contract.agents.read_agents_file`: a header line, then
``username,password[,dn]`` rows); agents without a DN get the next free generated one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gwsload.contract.agents import generated_agent_name, read_agents_file
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
    """Read the agents file (the contract's format, ``username,password[,dn]``); agents
    without a DN get the next free generated one. Raises ``ConfigError`` on a bad file."""
    listed = read_agents_file(path)
    accounts = [AgentAccount(a.username, a.password, "") for a in listed]
    wanted_dns = [a.dn for a in listed]
    given = [dn for dn in wanted_dns if dn is not None]
    if len(set(given)) != len(given):
        duplicate = next(dn for dn in given if given.count(dn) > 1)
        raise ConfigError(f"{path}: dn {duplicate!r} is given to two agents")
    free = (
        str(n) for n in range(FIRST_DN, FIRST_DN + 10 * len(accounts) + 10) if str(n) not in given
    )
    return [
        AgentAccount(acc.username, acc.password, dn if dn is not None else next(free))
        for acc, dn in zip(accounts, wanted_dns, strict=True)
    ]
