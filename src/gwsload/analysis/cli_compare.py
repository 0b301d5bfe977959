"""``gwsload compare BASELINE_DIR CANDIDATE_DIR``: regression verdict, exit 1 on regression."""

from __future__ import annotations

import argparse
from pathlib import Path

from gwsload.analysis.compare import (
    DEFAULT_MIN_CHANGE_MS,
    DEFAULT_RATIO_TOLERANCE,
    DEFAULT_TOLERANCE,
    check_comparable,
    compare_runs,
)
from gwsload.analysis.load import load_run
from gwsload.analysis.metrics import number
from gwsload.analysis.render_compare import (
    compare_document,
    compare_verdict,
    format_change,
    render_compare,
)
from gwsload.analysis.report import write_compare
from gwsload.errors import EXIT_FAILED, EXIT_OK, ConfigError

__all__ = ["add_arguments", "main"]


def _tolerance(text: str) -> float:
    try:
        value = float(text.rstrip("%")) / (100.0 if text.endswith("%") else 1.0)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a fraction like 0.1 or 10%, got {text!r}"
        ) from None
    if not 0 <= value < 10:
        raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 10, got {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("baseline", type=Path, metavar="BASELINE_DIR")
    parser.add_argument("candidate", type=Path, metavar="CANDIDATE_DIR")
    parser.add_argument(
        "--tolerance",
        type=_tolerance,
        default=DEFAULT_TOLERANCE,
        help="relative change that counts (default 0.1 = 10%%)",
    )
    parser.add_argument(
        "--min-change-ms",
        type=float,
        default=DEFAULT_MIN_CHANGE_MS,
        metavar="MS",
        help="smallest latency change that counts (default 1 ms)",
    )
    parser.add_argument(
        "--ratio-tolerance",
        type=_tolerance,
        default=DEFAULT_RATIO_TOLERANCE,
        metavar="FRACTION",
        help="error/lost ratio change that counts (default 0.001 = 0.1 pp)",
    )
    parser.add_argument(
        "--force", action="store_true", help="compare runs of different scenarios or loads anyway"
    )
    parser.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="where to write compare.html/json (default: CANDIDATE_DIR)",
    )
    parser.add_argument("--seed", type=int, default=0, help="bootstrap random seed")


def main(args: argparse.Namespace) -> int:
    baseline, candidate = load_run(args.baseline), load_run(args.candidate)
    if baseline.path.resolve() == candidate.path.resolve():
        raise ConfigError(f"{args.baseline}: baseline and candidate are the same run folder")
    if not args.force:
        check_comparable(baseline, candidate)
    result = compare_runs(
        baseline,
        candidate,
        tolerance=args.tolerance,
        min_change_ms=args.min_change_ms,
        ratio_tolerance=args.ratio_tolerance,
        seed=args.seed,
    )
    print(
        f"{'operation':<20} {'metric':<12} {'stat':<9} {'baseline':>10} {'candidate':>10} "
        f"{'change':>8} {'95% CI':>17}  verdict"
    )
    for r in result.itertuples():
        kind = str(r.change_kind)
        change, low, high = (
            format_change(number(v), kind) for v in (r.change, r.ci_low, r.ci_high)
        )
        print(
            f"{r.operation:<20} {r.metric:<12} {r.stat:<9} {r.baseline:>10.4g} "
            f"{r.candidate:>10.4g} {change:>9} [{low:>9},{high:>9}]  {r.verdict}"
        )
    for path in write_compare(
        render_compare(baseline, candidate, result),
        compare_document(baseline, candidate, result),
        args.out or candidate.path,
    ):
        print(f"wrote {path}")
    print(compare_verdict(result))
    return EXIT_FAILED if (result["verdict"] == "worse").any() else EXIT_OK
