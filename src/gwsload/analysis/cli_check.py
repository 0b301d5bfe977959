"""``gwsload check RUN_DIR [--slo FILE]``: SLO sign-off, JUnit XML, exit 0 pass / 1 fail."""

from __future__ import annotations

import argparse
from pathlib import Path

from gwsload.analysis.attribution import attribute_breaches, breach_note
from gwsload.analysis.capacity import compute_capacity
from gwsload.analysis.load import load_run
from gwsload.analysis.metrics import compute_headline, number
from gwsload.analysis.report import write_junit
from gwsload.analysis.slo import (
    evaluate_slos,
    format_value,
    junit_xml,
    load_slo_file,
    parse_slos,
)
from gwsload.contract.activity import run_failures
from gwsload.contract.labels import format_labels, labels_of
from gwsload.errors import EXIT_FAILED, EXIT_OK, ConfigError

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
        "--junit",
        type=Path,
        metavar="FILE",
        help="JUnit XML output (default: RUN_DIR/check.junit.xml)",
    )


def main(args: argparse.Namespace) -> int:
    run = load_run(args.run_dir)
    if args.slo:
        slos = load_slo_file(args.slo)
    else:
        slos = parse_slos(run.manifest.get("slo") or [], source=f"{run.path}/manifest.json")
    untested = run_failures(run.path, run.manifest)
    if not slos and not untested:
        raise ConfigError(
            f"{run.path}: no SLOs to check (the scenario has none; "
            "give --slo FILE with [[slo]] tables)"
        )
    results = evaluate_slos(slos, compute_headline(run))
    attributed = attribute_breaches(run, results, compute_capacity(run, slos))
    notes = {name: breach_note(limiter) for name, limiter in attributed.items()}
    labels = labels_of(run.manifest)
    if labels:
        print(f"run {run.run_id}: {format_labels(labels)}")
    if slos:
        width = max(len(n) for n in results["label"])
        print(f"{'SLO':<{width}}  {'measured':>14}  result")
        for row in results.itertuples():
            value = format_value(str(row.metric), number(row.value))
            verdict = "pass" if row.passed else "FAIL"
            note = notes.get(str(row.name))
            print(f"{row.label:<{width}}  {value:>14}  {verdict}" + (f" ({note})" if note else ""))
    failed = int((~results["passed"]).sum()) if slos else 0
    xml = junit_xml(
        results, suite=f"slo {run.run_id}", properties=labels, untested=untested, notes=notes
    )
    junit = write_junit(xml, args.junit or run.path / "check.junit.xml")
    for reason in untested:
        print(f"FAIL: the run did not test: {reason}")
    why = ""
    if notes:
        limiters = sorted(set(attributed.values()))
        why = (
            f"; {len(notes)} of {failed} breaches happened while the "
            f"{' and the '.join(limiters)} {'was' if len(limiters) == 1 else 'were'} "
            "saturated: not a verdict on the target"
        )
    print(
        f"{'FAIL' if failed or untested else 'PASS'}: {len(results) - failed} of "
        f"{len(results)} SLOs hold{why} (wrote {junit})"
    )
    return EXIT_FAILED if failed or untested else EXIT_OK
