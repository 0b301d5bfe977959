"""``gwsload report RUN_DIR``: report.html, summary.json and summary.md for one run."""

from __future__ import annotations

import argparse
from pathlib import Path

from gwsload.analysis.load import load_run
from gwsload.analysis.report import write_report
from gwsload.analysis.slo import load_slo_file
from gwsload.analysis.summary import analyze_run
from gwsload.analysis.validity import cut_short_sentence

__all__ = ["add_arguments", "main"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a run folder")
    parser.add_argument(
        "--slo",
        type=Path,
        metavar="FILE",
        help="SLOs from this TOML/JSON file instead of the scenario's",
    )
    parser.add_argument(
        "--out", type=Path, metavar="DIR", help="where to write the report (default: RUN_DIR)"
    )


def main(args: argparse.Namespace) -> int:
    run = load_run(args.run_dir)
    slos = load_slo_file(args.slo) if args.slo else None
    analysis = analyze_run(run, slos)
    written = write_report(analysis, args.out or args.run_dir)
    cut_short = cut_short_sentence(run)
    if cut_short is not None:
        print(cut_short)
    print(analysis.verdict_sentence)
    for path in written:
        print(f"wrote {path}")
    return 0
