"""``gwsload preflight SCENARIO.toml --target URL --agents-file CSV``: can this target
carry the scenario? A table (check, agents tried, passed, result) and exit 0 when every
check passed, 1 when one failed, 2 on bad input. ``gwsload run`` runs the same checks
before any load (``--no-preflight`` skips them).
"""

from __future__ import annotations

import argparse
import dataclasses

from gwsload.contract.operations import TRANSPORTS
from gwsload.errors import EXIT_FAILED, EXIT_OK
from gwsload.launcher.preflight import plan_preflight, run_preflight
from gwsload.launcher.target import add_target_arguments, resolve_target
from gwsload.scenario import load_scenario

__all__ = ["add_arguments", "add_sample_argument", "main"]


def _sample_size(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an int >= 1, got {text!r}")
    return value


def add_sample_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--preflight-sample",
        type=_sample_size,
        metavar="N",
        help="check the credentials of N agents of the agents file, chosen at random "
        "(default: every agent)",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenario", metavar="SCENARIO.toml", help="the scenario to check for")
    add_target_arguments(parser)
    parser.add_argument("--transport", choices=TRANSPORTS, help="override [client] transport")
    parser.add_argument(
        "--users", type=int, metavar="N", help="peak users (as gwsload run --users)"
    )
    add_sample_argument(parser)


def main(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.scenario).with_overrides(users=args.users)
    if args.transport:
        scenario = dataclasses.replace(
            scenario, client=dataclasses.replace(scenario.client, transport=args.transport)
        )
    target = resolve_target(args, scenario)
    plan = plan_preflight(scenario, target, sample=args.preflight_sample)
    print(f"preflight of {plan.target_url} for {scenario.name}", flush=True)
    report = run_preflight(plan)
    for line in report.table():
        print(line)
    if report.sample:
        print(f"({report.sample})")
    print("PASS: the target can carry the run" if report.passed else "FAIL: see the table")
    return EXIT_OK if report.passed else EXIT_FAILED
