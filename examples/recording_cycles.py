"""Log one agent in, establish a call, run start/stop recording cycles, report.

    python examples/recording_cycles.py --cycles 1000 --transport websocket
    python examples/recording_cycles.py --target https://gws.example:8443 --user agent7 \
        --password secret --destination 5000

Without ``--target`` it starts the embedded GWS simulator on a free loopback port and
stops it afterwards. Prints how many operations were matched with their notification,
every anomaly, and latency percentiles; exits 1 if anything was lost, failed, late,
duplicated or unexpected, 2 on bad options.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()  # before anything opens a socket: websocket-client uses the stdlib

import argparse  # noqa: E402
import contextlib  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from collections.abc import Iterator  # noqa: E402

import numpy as np  # noqa: E402

from gwsload.cometd import CometdError, Incident  # noqa: E402
from gwsload.errors import ConfigError  # noqa: E402
from gwsload.gws.agent import Agent, AgentConfig, AgentError  # noqa: E402
from gwsload.gws.errors import GwsApiError, GwsTransportError  # noqa: E402
from gwsload.gws.outcomes import Anomaly, Outcome  # noqa: E402
from gwsload.simulator.process import SimulatorProcess  # noqa: E402

TRANSPORTS = ("long-polling", "websocket")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=1000, help="start/stop cycles (1000)")
    parser.add_argument("--transport", choices=TRANSPORTS, default="long-polling")
    parser.add_argument("--target", help="GWS base URL; default: start the simulator")
    parser.add_argument("--user", default="agent0001")
    parser.add_argument(
        "--password",
        default=os.environ.get("GWS_PASSWORD", "gwsload"),
        help="default: $GWS_PASSWORD, else the simulator's 'gwsload'",
    )
    parser.add_argument("--destination", default="5000", help="number to dial (5000)")
    parser.add_argument("--timeout", type=float, default=10.0, help="notification timeout, s")
    parser.add_argument("--origin", help="Origin header (default: the target's origin)")
    parser.add_argument(
        "--insecure", action="store_true", help="do not verify TLS certificates (lab systems)"
    )
    parser.add_argument(
        "--latency-ms", type=float, default=2.0, help="simulator notification latency (2)"
    )
    args = parser.parse_args(argv)
    if args.cycles < 1:
        raise ConfigError(f"--cycles must be an int >= 1, got {args.cycles}")
    if not args.timeout > 0:
        raise ConfigError(f"--timeout must be > 0, got {args.timeout}")
    return args


@contextlib.contextmanager
def target_url(args: argparse.Namespace) -> Iterator[str]:
    if args.target:
        yield args.target
        return
    options = ["--agents", "1", "--latency-ms", str(args.latency_ms), "--answer-delay-ms", "50"]
    if args.transport == "websocket":
        options.append("--websocket")  # the simulator, like GWS 8.5, is long-polling only
    with SimulatorProcess(options) as sim:
        yield sim.url


def percentiles(values: list[float]) -> str:
    finite = np.array([v for v in values if not math.isnan(v)])
    if finite.size == 0:
        return "n/a"
    p50, p90, p99, p999 = np.percentile(finite, [50, 90, 99, 99.9])
    return (
        f"p50 {p50:7.2f}  p90 {p90:7.2f}  p99 {p99:7.2f}  p99.9 {p999:7.2f}  "
        f"max {finite.max():7.2f}  (n={finite.size})"
    )


def run(args: argparse.Namespace, url: str) -> int:
    outcomes: list[Outcome] = []
    anomalies: list[Anomaly] = []
    incidents: list[Incident] = []
    config = AgentConfig(
        base_url=url,
        user=args.user,
        password=args.password,
        destination=args.destination,
        transport=args.transport,
        origin=args.origin,
        verify_tls=not args.insecure,
        notification_timeout_s=args.timeout,
    )
    agent = Agent(
        config,
        on_outcome=outcomes.append,
        on_anomaly=anomalies.append,
        on_incident=incidents.append,
    )
    started = time.perf_counter()
    try:
        agent.login()
        call_id = agent.establish_call()
        print(f"{args.user}: logged in over {args.transport}, call {call_id} established")
        if agent.recording_state == "Recording":
            agent.record("StopCallRecording")  # a recovered call may still be recording
            outcomes.clear()
        loop_start = time.perf_counter()
        for _ in range(args.cycles):
            agent.record("StartCallRecording")
            agent.record("StopCallRecording")
        loop_s = time.perf_counter() - loop_start
        agent.expire()
        agent.hangup()
    finally:
        agent.logout()
    total_s = time.perf_counter() - started

    kinds = Counter(o.kind for o in outcomes)
    anomaly_kinds = Counter(a.kind for a in anomalies)
    print(
        f"{len(outcomes)} operations in {loop_s:.1f} s ({len(outcomes) / loop_s:.0f} ops/s; "
        f"{total_s:.1f} s with login and call set-up)"
    )
    print("outcomes:  " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
    print(
        "anomalies: " + (", ".join(f"{k} {n}" for k, n in sorted(anomaly_kinds.items())) or "none")
    )
    print(f"incidents: {len(incidents)}")
    for name in ("response_ms", "notify_ms", "notify_after_response_ms", "publish_lag_ms"):
        for op in ("StartCallRecording", "StopCallRecording"):
            values = [getattr(o, name) for o in outcomes if o.operation == op and o.kind == "ok"]
            print(f"{name:26s} {op:20s} {percentiles(values)}")
    failed = sum(n for k, n in kinds.items() if k != "ok") + sum(anomaly_kinds.values())
    expected = 2 * args.cycles
    if kinds["ok"] != expected or failed:
        print(f"FAILED: {kinds['ok']} of {expected} operations matched, {failed} problems")
        return 1
    print(f"OK: all {expected} operations matched their notification")
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(argv)
        with target_url(args) as url:
            return run(args, url)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (GwsApiError, GwsTransportError, CometdError, AgentError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
