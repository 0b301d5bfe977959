"""Which GWS a command talks to, and as whom: ``--target``, ``--agents-file``, TLS and
``Origin`` options over the scenario's ``[target]`` table (no gevent).

Shared by ``gwsload run`` and ``gwsload preflight`` so both read the command line the
same way and refuse the same mistakes (one line, exit 2).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from gwsload.contract.agents import AgentCredentials, read_agents_file
from gwsload.errors import ConfigError
from gwsload.scenario import Scenario, url_has_credentials

__all__ = ["TargetSettings", "add_target_arguments", "resolve_target"]


@dataclass(frozen=True, slots=True)
class TargetSettings:
    #: None: the embedded simulator
    url: str | None
    agents: list[AgentCredentials] | None
    agents_file: Path | None
    verify_tls: bool
    origin: str | None
    ca_file: Path | None


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--target",
        metavar="URL",
        help="base URL of a real GWS (e.g. https://gws.example:8443); "
        "default: the embedded simulator",
    )
    parser.add_argument(
        "--agents-file",
        metavar="CSV",
        help="agents to log in as: a CSV with a header username,password (needed with --target)",
    )
    parser.add_argument(
        "--insecure", action="store_true", help="do not verify the target's TLS certificate"
    )
    parser.add_argument(
        "--ca-file",
        metavar="PEM",
        help="also trust this CA bundle when verifying the target's certificate (a lab CA; "
        "gwsload simulate --tls writes one)",
    )
    parser.add_argument("--origin", metavar="ORIGIN", help="Origin header to send to the target")


def resolve_target(
    args: argparse.Namespace, scenario: Scenario, *, needs_agents: bool = True
) -> TargetSettings:
    """The target of the command. Raises ConfigError (one line) on a bad option."""
    url = args.target or (scenario.target.url if scenario.target is not None else None)
    if url is not None and not url.startswith(("http://", "https://")):
        raise ConfigError(f"--target must be an http:// or https:// URL, got {url!r}")
    if url is not None and url_has_credentials(url):
        # it would show in process arguments, the manifest and Locust's report
        raise ConfigError(
            "--target must be a URL without user:password@ "
            "(agents' credentials come from --agents-file)"
        )
    agents = read_agents_file(args.agents_file) if args.agents_file else None
    if url is not None and agents is None and needs_agents:
        raise ConfigError(
            "--target needs --agents-file: a CSV with a header username,password "
            "listing the agents to log in as"
        )
    if agents is not None and len(agents) < scenario.peak_users:
        raise ConfigError(
            f"{args.agents_file}: lists {len(agents)} agents, the scenario needs "
            f"{scenario.peak_users} (its peak users)"
        )
    verify_tls = not args.insecure and (
        scenario.target.verify_tls if scenario.target is not None else True
    )
    origin = args.origin or (scenario.target.origin if scenario.target is not None else None)
    ca_file = Path(args.ca_file) if args.ca_file else None
    if ca_file is not None and not ca_file.is_file():
        raise ConfigError(f"--ca-file {ca_file}: no such file (expected a PEM CA bundle)")
    return TargetSettings(
        url=url.rstrip("/") if url is not None else None,
        agents=agents,
        agents_file=Path(args.agents_file) if args.agents_file else None,
        verify_tls=verify_tls,
        origin=origin,
        ca_file=ca_file,
    )
