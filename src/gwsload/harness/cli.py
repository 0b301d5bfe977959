"""``gwsload run SCENARIO.toml``: run a scenario and write its run folder.

Without ``--target`` the embedded simulator is started on a free loopback port and
stopped after the run. ``--workers N`` runs a Locust master and N worker processes
on this machine. This process never imports gevent or Locust: it starts them as
child processes (see :mod:`gwsload.harness.orchestrate`).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from gwsload.errors import ConfigError
from gwsload.harness.identities import read_agents_file
from gwsload.harness.orchestrate import RunOptions, execute
from gwsload.scenario import load_scenario, parse_duration

__all__ = ["add_arguments", "main"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenario", metavar="SCENARIO.toml", help="the scenario file to run")
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
    parser.add_argument("--users", type=int, metavar="N", help="peak users (scales the stages)")
    parser.add_argument(
        "--run-time", metavar="T", help="run length, e.g. 90s, 10m, 1h30m (cuts or extends stages)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        metavar="N",
        help="Locust worker processes on this machine (0: one process)",
    )
    parser.add_argument("--out", metavar="DIR", help="the run folder (default: results/<run-id>)")
    parser.add_argument(
        "--results", metavar="DIR", default="results", help="where run folders go (default results)"
    )
    parser.add_argument("--force", action="store_true", help="replace an earlier run in --out")
    parser.add_argument(
        "--transport", choices=("long-polling", "websocket"), help="override [client] transport"
    )
    parser.add_argument(
        "--insecure", action="store_true", help="do not verify the target's TLS certificate"
    )
    parser.add_argument("--origin", metavar="ORIGIN", help="Origin header to send to the target")
    parser.add_argument(
        "--progress-every",
        type=float,
        default=5.0,
        metavar="S",
        help="seconds between progress lines (0: none)",
    )
    parser.add_argument(
        "--no-check",
        action="store_true",
        help="do not check the scenario's SLOs at the end (gwsload check does it later)",
    )
    parser.add_argument(
        "--synthetic",
        action="store_true",
        help="no server at all: agents produce operations with known latencies "
        "(checks the harness itself)",
    )


def main(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.scenario)
    run_time = parse_duration(args.run_time, what="--run-time") if args.run_time else None
    scenario = scenario.with_overrides(users=args.users, run_time_s=run_time)
    if args.transport:
        scenario = dataclasses.replace(
            scenario, client=dataclasses.replace(scenario.client, transport=args.transport)
        )
    if args.workers < 0:
        raise ConfigError(f"--workers must be an int >= 0, got {args.workers}")
    if args.progress_every < 0:
        raise ConfigError(f"--progress-every must be >= 0 seconds, got {args.progress_every:g}")
    agents = read_agents_file(args.agents_file) if args.agents_file else None
    target = args.target or (scenario.target.url if scenario.target is not None else None)
    if target is not None and not target.startswith(("http://", "https://")):
        raise ConfigError(f"--target must be an http:// or https:// URL, got {target!r}")
    if target is not None and agents is None and not args.synthetic:
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
    options = RunOptions(
        scenario=scenario,
        scenario_file=args.scenario,
        target=target,
        agents=agents,
        agents_file=Path(args.agents_file) if args.agents_file else None,
        verify_tls=verify_tls,
        origin=origin,
        workers=args.workers,
        out=Path(args.out) if args.out else None,
        results=Path(args.results),
        force=args.force,
        progress_every_s=args.progress_every,
        synthetic=args.synthetic,
        check_slos=not args.no_check,
        command_line=["gwsload", *sys.argv[1:]],
    )
    return execute(options)
