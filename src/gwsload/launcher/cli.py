"""``gwsload run SCENARIO.toml``: run a scenario and write its run folder.

Without ``--target`` the embedded simulator is started on a free loopback port and
stopped after the run. ``--workers N`` runs a Locust master and N worker processes
on this machine. This process never imports gevent or Locust: it starts them as
child processes (see :mod:`gwsload.launcher.orchestrate`).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

from gwsload.contract.labels import parse_labels
from gwsload.contract.operations import TRANSPORTS
from gwsload.errors import EXIT_BAD_INPUT, EXIT_OK, ConfigError
from gwsload.launcher.orchestrate import EXIT_INTERRUPTED, RunOptions, execute
from gwsload.launcher.preflight import plan_preflight, run_preflight
from gwsload.launcher.preflight_cli import add_sample_argument
from gwsload.launcher.target import add_target_arguments, resolve_target
from gwsload.scenario import load_scenario, parse_duration

__all__ = ["add_arguments", "main"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenario", metavar="SCENARIO.toml", help="the scenario file to run")
    add_target_arguments(parser)
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
    parser.add_argument("--transport", choices=TRANSPORTS, help="override [client] transport")
    parser.add_argument(
        "--no-preflight",
        action="store_true",
        help="start the load without checking the target first (see gwsload preflight)",
    )
    add_sample_argument(parser)
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
        "--label",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="what ran, kept in the manifest and shown by report, check and compare "
        "(repeatable; e.g. gws_build=8.5.2.41 environment=staging)",
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        metavar="P",
        help="serve live metrics for Prometheus (OpenMetrics, /metrics) on this port "
        "while the run lasts (docs/reports.md)",
    )
    parser.add_argument(
        "--metrics-host",
        default="127.0.0.1",
        metavar="ADDR",
        help="the address --metrics-port listens on (default 127.0.0.1; 0.0.0.0: all)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="N",
        help="run the scenario N times, one run folder each (for gwsload compare "
        "--baseline A1 A2 A3 --candidate B1 B2 B3); with --out DIR: DIR/1 .. DIR/N",
    )
    parser.add_argument(
        "--repeat-pause",
        type=float,
        default=10.0,
        metavar="S",
        help="seconds to wait between repeated runs (default 10)",
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
    if args.repeat < 1:
        raise ConfigError(f"--repeat must be an int >= 1, got {args.repeat}")
    if args.repeat_pause < 0:
        raise ConfigError(f"--repeat-pause must be >= 0 seconds, got {args.repeat_pause:g}")
    labels = parse_labels(args.label)
    if args.metrics_port is not None and not 0 < args.metrics_port < 65536:
        raise ConfigError(f"--metrics-port must be a TCP port 1-65535, got {args.metrics_port}")
    if args.progress_every < 0:
        raise ConfigError(f"--progress-every must be >= 0 seconds, got {args.progress_every:g}")
    target = resolve_target(args, scenario, needs_agents=not args.synthetic)
    # the embedded simulator is GWS 8.5-like (long-polling only) unless told otherwise
    offered = scenario.simulator is not None and scenario.simulator.get("websocket") is True
    embedded = target.url is None and not args.synthetic
    if embedded and scenario.client.transport == "websocket" and not offered:
        raise ConfigError(
            f'{args.scenario}: transport "websocket", but the embedded simulator offers '
            "CometD over long-polling only, as GWS 8.5 does: set [simulator] websocket = "
            'true, or use transport "long-polling"'
        )
    options = RunOptions(
        scenario=scenario,
        scenario_file=args.scenario,
        target=target.url,
        agents=target.agents,
        agents_file=target.agents_file,
        verify_tls=target.verify_tls,
        origin=target.origin,
        ca_file=target.ca_file,
        workers=args.workers,
        out=Path(args.out) if args.out else None,
        results=Path(args.results),
        force=args.force,
        progress_every_s=args.progress_every,
        synthetic=args.synthetic,
        check_slos=not args.no_check,
        command_line=["gwsload", *sys.argv[1:]],
        labels=labels,
        metrics_port=args.metrics_port,
        metrics_host=args.metrics_host,
    )
    if target.url is not None and not args.synthetic and not args.no_preflight:
        plan = plan_preflight(scenario, target, sample=args.preflight_sample)
        report = run_preflight(plan)
        if not report.passed:
            # nothing started, no run folder: a target that cannot carry the run is
            # bad input, one line per problem
            for problem in report.problems():
                print(f"gwsload run: preflight: {problem}", file=sys.stderr)
            return EXIT_BAD_INPUT
        sample = f"; {report.sample}" if report.sample else ""
        print(f"preflight passed: {len(report.results)} checks against {plan.target_url}{sample}")
        options = dataclasses.replace(options, preflight=report.to_manifest())
    if args.repeat == 1:
        return execute(options)
    return _repeat(options, args.repeat, pause_s=args.repeat_pause)


def _repeat(options: RunOptions, times: int, *, pause_s: float) -> int:
    """Run ``times`` times into as many folders; the worst exit code (130 stops at once)."""
    if options.out is not None:
        if options.out.is_dir() and any(options.out.iterdir()) and not options.force:
            raise ConfigError(
                f"{options.out}: the output folder is not empty; choose another or add --force"
            )
        options.out.mkdir(parents=True, exist_ok=True)
    worst, folders = EXIT_OK, []
    for index in range(1, times + 1):
        if index > 1 and pause_s > 0:
            print(f"pause {pause_s:g} s before run {index} of {times}", flush=True)
            time.sleep(pause_s)
        print(f"run {index} of {times}", flush=True)
        out = options.out / str(index) if options.out is not None else None
        before = (
            set(options.results.iterdir()) if out is None and options.results.is_dir() else set()
        )
        code = execute(dataclasses.replace(options, out=out))
        if out is not None:
            folders.append(out)
        else:
            folders.extend(sorted(set(options.results.iterdir()) - before))
        if code == EXIT_INTERRUPTED:
            return code
        worst = max(worst, code)
    print(f"{times} runs: " + " ".join(str(f) for f in folders), flush=True)
    return worst
