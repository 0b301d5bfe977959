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
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from gwsload.errors import EXIT_BAD_INPUT, EXIT_OK, ConfigError
from gwsload.lifeline import die_with_parent
from gwsload.simulator.collector import collect_on_schedule
from gwsload.simulator.options import COMETD, SimulatorOptions, option_specs
from gwsload.simulator.tls import make_certificate, server_context

__all__ = ["add_arguments", "main", "options_from_args", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One command-line option per ``SimulatorOptions`` field (see options.py)."""
    groups: dict[str, argparse._ArgumentGroup] = {}
    for spec in option_specs():
        group = groups.get(spec.group)
        if group is None:
            group = groups[spec.group] = parser.add_argument_group(spec.group)
        if spec.kind is bool:
            group.add_argument(spec.flag, action="store_true", help=spec.help)
            continue
        shown = "" if spec.default in (None, 0, 0.0) else " (default %(default)s)"
        group.add_argument(
            spec.flag,
            type=spec.kind,
            default=spec.default,
            metavar=spec.metavar,
            choices=spec.choices,
            help=spec.help + shown,
        )
    out = groups[COMETD]
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
    """The checked options; raises ``OptionError`` naming the first bad one."""
    return SimulatorOptions(
        **{spec.name: getattr(args, spec.name) for spec in option_specs()}
    ).check()


def main(args: argparse.Namespace) -> int:
    # started by `gwsload run`: SIGTERM (a clean stop) when it dies, SIGKILL included
    die_with_parent(signal.SIGTERM)
    options = options_from_args(args)
    logging.basicConfig(
        stream=sys.stderr,
        level=args.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    _raise_fd_limit()
    if options.nodes > 1:
        from gwsload.simulator.cluster import run_cluster  # noqa: PLC0415

        run_cluster(options, stop_on_stdin_eof=args.stop_on_stdin_eof)
        return EXIT_OK
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(options, stop_on_stdin_eof=args.stop_on_stdin_eof))
    return EXIT_OK


async def run(options: SimulatorOptions, *, stop_on_stdin_eof: bool = False) -> None:
    """Serve until SIGINT/SIGTERM (or stdin closes, if asked); print the base URL on
    stdout once listening."""
    from aiohttp import web  # noqa: PLC0415 (keeps ``gwsload --help`` light)

    from gwsload.simulator.app import NODE, build_app  # noqa: PLC0415

    app = build_app(options)
    ssl_context = None
    if options.tls:
        tls_dir = options.tls_dir or Path(tempfile.mkdtemp(prefix="gwsload-sim-tls-"))
        certificate = make_certificate(tls_dir, options.host)
        ssl_context = server_context(certificate)
        print(
            f"gwsload simulate: CA certificate for clients: {certificate.ca_file}", file=sys.stderr
        )
    health_log = None
    if options.health_log is not None:
        from gwsload.simulator.health import HealthLog  # noqa: PLC0415

        health_log = HealthLog(options.health_log)
    health: asyncio.Task[None] | None = None
    collector: asyncio.Task[None] | None = None
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(
            runner,
            options.host,
            options.port,
            backlog=4096,
            reuse_address=True,
            ssl_context=ssl_context,
        )
        try:
            await site.start()
        except OSError as exc:
            raise ConfigError(
                f"--host/--port: cannot listen on {options.host}:{options.port} ({exc.strerror})"
            ) from None
        host, port = runner.addresses[0][:2]
        scheme = "https" if options.tls else "http"
        url = f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"
        app[NODE].world.api_base = url + "/api/v2"
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if stop_on_stdin_eof:
            _stop_on_eof(loop, sys.stdin.fileno(), stop)
        if health_log is not None:
            health = asyncio.create_task(health_log.run())
        world = app[NODE].world
        collector = asyncio.create_task(collect_on_schedule(lambda: len(world.agents)))
        print(url, flush=True)
        await stop.wait()
    finally:
        for task in (health, collector):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
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
