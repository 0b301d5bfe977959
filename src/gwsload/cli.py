"""The ``gwsload`` command: simulate | preflight | run | report | compare | check.

Each subcommand lives in its own module with two functions,
``add_arguments(parser)`` and ``main(args) -> int``; they are imported only when
chosen, so ``gwsload report`` never imports gevent and ``gwsload simulate`` never
imports Locust.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

from gwsload import __version__
from gwsload.errors import EXIT_BAD_INPUT, ConfigError

__all__ = ["main"]

#: subcommand -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "simulate": ("gwsload.simulator.cli", "serve the embedded GWS simulator"),
    "preflight": ("gwsload.launcher.preflight_cli", "check that a target can carry a run"),
    "run": ("gwsload.launcher.cli", "run a scenario and write a run folder"),
    "report": ("gwsload.analysis.cli_report", "write report.html, summary.json and summary.md"),
    "compare": ("gwsload.analysis.cli_compare", "regression verdict: baseline vs candidate run"),
    "check": ("gwsload.analysis.cli_check", "SLO sign-off of a run (exit 1 on breach)"),
}


class _Parser(argparse.ArgumentParser):
    """argparse, but bad options exit with 2 and one line, as every bad input does."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def _build_parser(chosen: str | None) -> argparse.ArgumentParser:
    parser = _Parser(
        prog="gwsload",
        description="Load and soak testing of the GWS Voice API call-recording operations.",
    )
    parser.add_argument("--version", action="version", version=f"gwsload {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            importlib.import_module(module_name).add_arguments(sub_parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    chosen = next((a for a in args_list if a in SUBCOMMANDS), None)
    parser = _build_parser(chosen)
    args = parser.parse_args(args_list)
    if args.command is None:
        parser.print_help()
        return EXIT_BAD_INPUT
    module = importlib.import_module(SUBCOMMANDS[args.command][0])
    try:
        return int(module.main(args))
    except ConfigError as exc:
        print(f"gwsload {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"gwsload {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
