"""``gwsload compare BASELINE_DIR CANDIDATE_DIR`` or ``--baseline A1 A2 --candidate B1 B2``.

Exit 0 no regression, 1 a conclusive regression, 3 nothing conclusively worse but some
verdicts inconclusive (docs/reports.md), 2 bad input.
"""

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
from gwsload.analysis.compare_health import exit_code
from gwsload.analysis.compare_text import format_change, labels_line, operation_sentences
from gwsload.analysis.environment import environment_lines
from gwsload.analysis.load import RunFolder, load_run
from gwsload.analysis.metrics import number
from gwsload.analysis.render_compare import compare_document, compare_verdict, render_compare
from gwsload.analysis.report import write_compare
from gwsload.contract import numbers
from gwsload.contract.activity import run_failures
from gwsload.errors import EXIT_FAILED, ConfigError

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
    parser.add_argument(
        "runs", type=Path, nargs="*", metavar="DIR", help="BASELINE_DIR CANDIDATE_DIR"
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        nargs="+",
        metavar="DIR",
        help="baseline run folders (several: verdicts from the variation between runs)",
    )
    parser.add_argument(
        "--candidate", type=Path, nargs="+", metavar="DIR", help="candidate run folders"
    )
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
        help="where to write compare.html/json (default: the first candidate folder)",
    )
    parser.add_argument("--seed", type=int, default=0, help="bootstrap random seed")


def _sides(args: argparse.Namespace) -> tuple[list[RunFolder], list[RunFolder]]:
    if args.runs and (args.baseline or args.candidate):
        raise ConfigError(
            "give either BASELINE_DIR CANDIDATE_DIR or --baseline DIR... --candidate DIR..."
        )
    if args.runs:
        if len(args.runs) != 2:
            raise ConfigError(
                f"expected two run folders, BASELINE_DIR CANDIDATE_DIR, got {len(args.runs)}"
            )
        names = [args.runs[:1], args.runs[1:]]
    elif args.baseline and args.candidate:
        names = [args.baseline, args.candidate]
    else:
        raise ConfigError("expected BASELINE_DIR CANDIDATE_DIR, or --baseline and --candidate")
    seen: dict[Path, Path] = {}
    for path in (*names[0], *names[1]):
        key = path.resolve()
        if key in seen:
            raise ConfigError(f"{path}: the same run folder is given twice")
        seen[key] = path
    return [load_run(p) for p in names[0]], [load_run(p) for p in names[1]]


def main(args: argparse.Namespace) -> int:
    baseline, candidate = _sides(args)
    # the failed-run rule first: a run that did not test has nothing to compare, and a
    # comparison with it must not pass
    untested = [
        f"FAIL: {side} run {run.run_id} did not test: {'; '.join(reasons)}"
        for side, runs in (("baseline", baseline), ("candidate", candidate))
        for run in runs
        if (reasons := run_failures(run.path, run.manifest))
    ]
    if untested:
        for line in untested:
            print(line)
        return EXIT_FAILED
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
    print(labels_line(baseline, candidate))
    print(
        f"method: {result.attrs['method']} ({len(baseline)} + {len(candidate)} runs, "
        f"{numbers.significant(result.attrs['window_s'])}-s windows)"
    )
    for line in environment_lines(baseline, candidate):
        print(line)
    print()
    print(
        f"{'operation':<20} {'metric':<16} {'stat':<9} {'baseline':>10} {'candidate':>10} "
        f"{'change':>8} {'95% CI':>21}  {'detectable':>10}  verdict"
    )
    for r in result.itertuples():
        kind = str(r.change_kind)
        change, low, high, detectable = (
            format_change(number(v), kind) for v in (r.change, r.ci_low, r.ci_high, r.detectable)
        )
        print(
            f"{r.operation:<20} {r.metric:<16} {r.stat:<9} "
            f"{numbers.significant(number(r.baseline), 4):>10} "
            f"{numbers.significant(number(r.candidate), 4):>10} {change:>9} [{low:>9},{high:>9}]  "
            f"{detectable.lstrip('+'):>10}  {r.verdict}"
        )
    for reason in result.attrs.get("health_differences") or []:
        print(f"inconclusive verdicts: the measuring side differed: {reason}")
    if result.attrs.get("lag_gap"):
        print(f"inconclusive verdicts: {result.attrs['lag_gap']}")
    if len(baseline) == 1 and len(candidate) == 1:
        print(
            "one run per side: the run-to-run variation is unknown and 'detectable' is a "
            "lower bound; run each side several times (gwsload run --repeat 3) to judge on it"
        )
    print()
    for sentence in operation_sentences(result):
        print(sentence)
    for path in write_compare(
        render_compare(baseline, candidate, result),
        compare_document(baseline, candidate, result),
        args.out or candidate[0].path,
    ):
        print(f"wrote {path}")
    print(compare_verdict(result))
    return exit_code(result)
