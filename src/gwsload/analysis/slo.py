"""Service-level objectives: parse them, evaluate them against a headline table.

An SLO is ``{metric, stat?, operation, max | min}`` (docs/run-folder.md). ``max``
passes when ``value <= max``, ``min`` when ``value >= min``. Operation ``*`` is
all operations pooled. A metric with no data (no such operation, no
notification at all) fails: sign-off needs evidence.
"""

from __future__ import annotations

import json
import math
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from gwsload.analysis.metrics import ALL, LATENCY_METRICS, number
from gwsload.contract.slo import Slo, SloGrammarError, format_value, parse_slo
from gwsload.errors import ConfigError

__all__ = ["Slo", "evaluate_slos", "format_value", "junit_xml", "load_slo_file", "parse_slos"]


def parse_slos(entries: Any, *, source: str) -> list[Slo]:
    """Validate a list of SLO dicts by the contract's grammar; ConfigError names the
    entry, the key and what it must be."""
    if not isinstance(entries, list):
        raise ConfigError(f"{source}: 'slo' must be a list of tables, got {type(entries).__name__}")
    slos = []
    for i, entry in enumerate(entries):
        where = f"{source}: slo[{i}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where} must be a table with metric, operation and max or min")
        try:
            slos.append(parse_slo(entry))
        except SloGrammarError as problem:
            key = f".{problem.key}" if problem.key else ""
            raise ConfigError(
                f"{where}{key} must be {problem.expected}, got {problem.got!r}"
            ) from None
    return slos


def load_slo_file(path: Path) -> list[Slo]:
    """Read SLOs from a TOML (``[[slo]]`` tables) or JSON (``{"slo": [...]}`` or a list) file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read SLO file ({exc.strerror})") from None
    try:
        data: Any = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        kind = "JSON" if path.suffix == ".json" else "TOML"
        raise ConfigError(f"{path}: not valid {kind} ({exc})") from None
    entries = data.get("slo") if isinstance(data, dict) else data
    if entries is None:
        raise ConfigError(f"{path}: no SLOs (expected [[slo]] tables)")
    return parse_slos(entries, source=str(path))


def _value(slo: Slo, headline: pd.DataFrame) -> float:
    if slo.metric == "unexpected_count":
        return number(headline.loc[ALL, "unexpected"]) if ALL in headline.index else math.nan
    if slo.operation not in headline.index:
        return math.nan
    column = f"{slo.metric}_{slo.stat}" if slo.metric in LATENCY_METRICS else slo.metric
    return number(headline.loc[slo.operation, column])


def evaluate_slos(slos: list[Slo], headline: pd.DataFrame) -> pd.DataFrame:
    """One row per SLO: name, label, metric, stat, operation, bound, threshold, value, passed."""
    rows = []
    for slo in slos:
        value = _value(slo, headline)
        if math.isnan(value):
            passed = False
        elif slo.bound == "max":
            passed = value <= slo.threshold
        else:
            passed = value >= slo.threshold
        rows.append(
            {
                "name": slo.name,
                "label": slo.label,
                "metric": slo.metric,
                "stat": slo.stat or "",
                "operation": slo.operation,
                "bound": slo.bound,
                "threshold": slo.threshold,
                "value": value,
                "passed": passed,
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "name",
            "label",
            "metric",
            "stat",
            "operation",
            "bound",
            "threshold",
            "value",
            "passed",
        ],
    )


def junit_xml(
    results: pd.DataFrame,
    *,
    suite: str,
    properties: Mapping[str, str] | None = None,
    untested: Sequence[str] = (),
    notes: Mapping[str, str] | None = None,
) -> str:
    """JUnit XML (one testcase per SLO, and one saying whether the run tested at all)
    as CI systems read it; ``properties`` (the run's labels) become the suite's
    ``<properties>``, ``untested`` are the failed-run rule's reasons. A breach with a
    note (SLO name -> text: it happened while the generator was saturated) is a failure
    of type ``SloBreachDuringSaturation``, so CI can tell a bad machine from a bad build."""
    notes = notes or {}
    failures = (int((~results["passed"]).sum()) if len(results) else 0) + bool(untested)
    tests = len(results) + 1
    root = ET.Element("testsuites", name="gwsload check", tests=str(tests), failures=str(failures))
    suite_el = ET.SubElement(
        root,
        "testsuite",
        name=suite,
        tests=str(tests),
        failures=str(failures),
        errors="0",
        skipped="0",
    )
    if properties:
        props = ET.SubElement(suite_el, "properties")
        for key, value in properties.items():
            ET.SubElement(props, "property", name=key, value=value)
    case = ET.SubElement(suite_el, "testcase", classname="run", name="the run tested the target")
    if untested:
        text = "; ".join(untested)
        ET.SubElement(case, "failure", message=text, type="RunDidNotTest").text = text
    for row in results.itertuples(index=False):
        case = ET.SubElement(
            suite_el, "testcase", classname=f"slo.{row.metric}", name=str(row.name)
        )
        measured = number(row.value)
        value = format_value(str(row.metric), measured)
        if not row.passed:
            note = notes.get(str(row.name))
            message = f"{row.name}: measured {value}" + (f" ({note})" if note else "")
            kind = "SloBreachDuringSaturation" if note else "SloBreach"
            failure = ET.SubElement(case, "failure", message=message, type=kind)
            failure.text = message
        else:
            ET.SubElement(case, "system-out").text = f"measured {value}"
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
