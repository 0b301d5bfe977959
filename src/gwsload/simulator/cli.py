"""``gwsload simulate`` / ``python -m gwsload.simulator``: serve the GWS simulator.

When it is listening it prints its base URL (``http://127.0.0.1:41234``) alone on the
first line of stdout; logs go to stderr. Ctrl-C or SIGTERM stop it cleanly (the
truth log is flushed). Bad options: one line on stderr, exit 2.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import resource
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from gwsload.errors import EXIT_BAD_INPUT, EXIT_OK, ConfigError
from gwsload.simulator.options import LATENCY_MODELS, SimulatorOptions

__all__ = ["add_arguments", "main", "options_from_args", "run"]

_DEFAULTS = SimulatorOptions()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = _DEFAULTS
    net = parser.add_argument_group("listening")
    net.add_argument("--host", default=d.host, help="address to listen on (default %(default)s)")
    net.add_argument(
        "--port", type=int, default=d.port, metavar="N", help="port; 0 = a free one (default)"
    )
    who = parser.add_argument_group("agents")
    who.add_argument(
        "--agents",
        type=int,
        metavar="N",
        default=d.agents,
        help="generate agent0001..agentN (default %(default)s)",
    )
    who.add_argument(
        "--password",
        default=d.password,
        help="password of the generated agents (default %(default)s)",
    )
    who.add_argument(
        "--agents-file",
        type=Path,
        default=None,
        metavar="CSV",
        help="read agents from a CSV file: username,password[,dn]",
    )
    beh = parser.add_argument_group("behaviour")
    beh.add_argument(
        "--answer-delay-ms",
        type=float,
        metavar="MS",
        default=d.answer_delay_ms,
        help="the far end answers a dialled call after this (default %(default)s)",
    )
    beh.add_argument(
        "--latency-model",
        choices=LATENCY_MODELS,
        default=d.latency_model,
        help="notification latency model (default %(default)s)",
    )
    beh.add_argument(
        "--latency-ms",
        type=float,
        metavar="MS",
        default=d.latency_ms,
        help="fixed notification latency, or the lognormal median (default %(default)s)",
    )
    beh.add_argument(
        "--latency-p99-ms",
        type=float,
        metavar="MS",
        default=None,
        help="p99 of the lognormal latency model",
    )
    beh.add_argument(
        "--seed",
        type=int,
        metavar="N",
        default=d.seed,
        help="seed for latencies, ids and faults (default %(default)s)",
    )
    beh.add_argument(
        "--csrf", action="store_true", help="require the CSRF token on POST/PUT/DELETE"
    )
    beh.add_argument(
        "--require-origin",
        default=None,
        metavar="ORIGIN",
        help="refuse REST requests whose Origin header is not ORIGIN",
    )
    flt = parser.add_argument_group("faults (shares in [0, 1], all seeded)")
    flt.add_argument(
        "--drop-share",
        type=float,
        metavar="SHARE",
        default=0.0,
        help="drop this share of recording notifications",
    )
    flt.add_argument(
        "--duplicate-share",
        type=float,
        metavar="SHARE",
        default=0.0,
        help="publish this share of recording notifications twice",
    )
    flt.add_argument(
        "--delay-share",
        type=float,
        metavar="SHARE",
        default=0.0,
        help="delay this share of recording notifications by --delay-ms more",
    )
    flt.add_argument(
        "--delay-ms", type=float, metavar="MS", default=0.0, help="extra delay for --delay-share"
    )
    flt.add_argument(
        "--http-error-share",
        type=float,
        metavar="SHARE",
        default=0.0,
        help="answer this share of recording operations with HTTP 503 (statusCode 4)",
    )
    flt.add_argument(
        "--async-error-share",
        type=float,
        metavar="SHARE",
        default=0.0,
        help="accept this share of recording operations, then fail them: an ErrorMessage "
        "notification instead of the state change",
    )
    flt.add_argument(
        "--voice-down",
        action="store_true",
        help="the voice service is down: every voice operation gets HTTP 503",
    )
    flt.add_argument(
        "--expire-sessions-every-s",
        type=float,
        default=0.0,
        metavar="S",
        help="every S seconds expire one random agent's CometD sessions",
    )
    flt.add_argument(
        "--stall-every-s",
        type=float,
        default=0.0,
        metavar="S",
        help="every S seconds hold all notifications for --stall-ms",
    )
    flt.add_argument(
        "--stall-ms", type=float, metavar="MS", default=0.0, help="length of each stall"
    )
    out = parser.add_argument_group("CometD and output")
    out.add_argument(
        "--cometd-timeout-ms",
        type=int,
        metavar="MS",
        default=d.cometd_timeout_ms,
        help="how long a /meta/connect is held (default %(default)s)",
    )
    out.add_argument(
        "--cometd-interval-ms",
        type=int,
        metavar="MS",
        default=d.cometd_interval_ms,
        help="advice.interval (default %(default)s)",
    )
    out.add_argument(
        "--cometd-max-interval-ms",
        type=int,
        metavar="MS",
        default=d.cometd_max_interval_ms,
        help="a session without a connect for this long expires (default %(default)s)",
    )
    out.add_argument("--no-websocket", action="store_true", help="offer long-polling only")
    out.add_argument(
        "--truth-log",
        type=Path,
        default=None,
        metavar="CSV",
        help="write simulator-truth.csv: every notification published/dropped/duplicated",
    )
    out.add_argument(
        "--log-level",
        default="WARNING",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="stderr log level",
    )
    out.add_argument(
        "--stop-on-stdin-eof",
        action="store_true",
        help="also stop when stdin closes (SimulatorProcess uses it, so a simulator never "
        "outlives the process that started it)",
    )


def options_from_args(args: argparse.Namespace) -> SimulatorOptions:
    """The checked options; raises ``ConfigError`` naming the first bad one."""
    return SimulatorOptions(
        host=args.host,
        port=args.port,
        agents=args.agents,
        password=args.password,
        agents_file=args.agents_file,
        answer_delay_ms=args.answer_delay_ms,
        latency_model=args.latency_model,
        latency_ms=args.latency_ms,
        latency_p99_ms=args.latency_p99_ms,
        seed=args.seed,
        drop_share=args.drop_share,
        duplicate_share=args.duplicate_share,
        delay_share=args.delay_share,
        delay_ms=args.delay_ms,
        http_error_share=args.http_error_share,
        async_error_share=args.async_error_share,
        voice_down=args.voice_down,
        expire_sessions_every_s=args.expire_sessions_every_s,
        stall_every_s=args.stall_every_s,
        stall_ms=args.stall_ms,
        truth_log=args.truth_log,
        csrf=args.csrf,
        require_origin=args.require_origin,
        cometd_timeout_ms=args.cometd_timeout_ms,
        cometd_interval_ms=args.cometd_interval_ms,
        cometd_max_interval_ms=args.cometd_max_interval_ms,
        websocket=not args.no_websocket,
    ).check()


def main(args: argparse.Namespace) -> int:
    options = options_from_args(args)
    logging.basicConfig(
        stream=sys.stderr,
        level=args.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    _raise_fd_limit()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(options, stop_on_stdin_eof=args.stop_on_stdin_eof))
    return EXIT_OK


async def run(options: SimulatorOptions, *, stop_on_stdin_eof: bool = False) -> None:
    """Serve until SIGINT/SIGTERM (or stdin closes, if asked); print the base URL on
    stdout once listening."""
    from aiohttp import web  # noqa: PLC0415 (keeps ``gwsload --help`` light)

    from gwsload.simulator.app import NODE, build_app  # noqa: PLC0415

    app = build_app(options)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, options.host, options.port, backlog=4096, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            raise ConfigError(
                f"--host/--port: cannot listen on {options.host}:{options.port} ({exc.strerror})"
            ) from None
        host, port = runner.addresses[0][:2]
        url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
        app[NODE].world.api_base = url + "/api/v2"
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if stop_on_stdin_eof:
            _stop_on_eof(loop, sys.stdin.fileno(), stop)
        print(url, flush=True)
        await stop.wait()
    finally:
        await runner.cleanup()


def _stop_on_eof(loop: asyncio.AbstractEventLoop, fd: int, stop: asyncio.Event) -> None:
    """Set ``stop`` once ``fd`` reads end-of-file (the parent closed it, or died)."""

    def readable() -> None:
        try:
            data = os.read(fd, 4096)
        except OSError:
            data = b""
        if not data:
            loop.remove_reader(fd)
            stop.set()

    loop.add_reader(fd, readable)


def _raise_fd_limit() -> None:
    """Thousands of held long-polls need thousands of sockets."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(
                resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 65536, hard)
            )


class _Parser(argparse.ArgumentParser):
    """Bad options: one line, exit 2, as every bad input."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def standalone(argv: Sequence[str] | None = None) -> int:
    """``python -m gwsload.simulator [options]``."""
    parser = _Parser(prog="python -m gwsload.simulator", description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return main(args)
    except ConfigError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
