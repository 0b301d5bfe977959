from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest

from gwsload.analysis.slo import evaluate_slos, junit_xml, load_slo_file, parse_slos
from gwsload.errors import ConfigError
from gwsload.scenario import load_scenario

HEADLINE = pd.DataFrame(
    {
        "notify_ms_p99": [420.0, 510.0, 510.0],
        "lost_ratio": [0.0, 0.0002, 0.0001],
        "error_ratio": [0.0, 0.0, 0.0],
        "ops_per_s": [10.0, 12.0, 22.0],
        "unexpected": [0, 0, 4],
    },
    index=pd.Index(["StartCallRecording", "StopCallRecording", "*"], name="operation"),
)


def test_thresholds_per_metric_and_operation() -> None:
    slos = parse_slos(
        [
            {"metric": "notify_ms", "stat": "p99", "operation": "StartCallRecording", "max": 500},
            {"metric": "notify_ms", "stat": "p99", "operation": "*", "max": 500},
            {"metric": "lost_ratio", "operation": "*", "max": 0.0001},
            {"metric": "ops_per_s", "operation": "*", "min": 20},
            {"metric": "ops_per_s", "operation": "StopCallRecording", "min": 20},
            {"metric": "unexpected_count", "max": 0},
            {"metric": "notify_ms", "stat": "p99", "operation": "PauseCallRecording", "max": 500},
        ],
        source="test",
    )
    results = evaluate_slos(slos, HEADLINE)
    assert results["passed"].tolist() == [True, False, True, True, False, False, False]
    assert results["value"].iloc[1] == 510.0
    assert pd.isna(results["value"].iloc[6])  # no pauses in this run: no data is a failure
    assert results["name"].iloc[3] == "ops_per_s [*] >= 20"
    assert results["label"].tolist()[:4] == [
        "notification latency p99, StartCallRecording \u2264 500 ms",
        "notification latency p99, all operations \u2264 500 ms",
        "lost notifications, all operations \u2264 0.01 %",
        "throughput, all operations \u2265 20 ops/s",
    ]
    assert results["label"].iloc[5] == "unexpected notifications, whole run \u2264 0"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"metric": "latency", "max": 1}, r"slo\[0\].metric must be one of"),
        ({"metric": "notify_ms", "stat": "p98", "max": 1}, r"slo\[0\].stat must be one of"),
        ({"metric": "lost_ratio", "stat": "p99", "max": 1}, r"stat must be absent for lost_ratio"),
        ({"metric": "lost_ratio", "max": 1, "min": 0}, r"slo\[0\] must be set with exactly one"),
        ({"metric": "notify_ms", "stat": "p99", "operation": "Hangup", "max": 1}, r"'Hangup'"),
        ({"metric": "lost_ratio", "max": "low"}, r"slo\[0\].max must be a number"),
    ],
)
def test_bad_entries_name_the_field(entry: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_slos([entry], source="slo.toml")


def test_slo_files_toml_and_json(tmp_path: Path) -> None:
    toml = tmp_path / "slo.toml"
    toml.write_text(
        '[[slo]]\nmetric = "notify_ms"\nstat = "p99"\noperation = "*"\nmax = 500\n'
        '[[slo]]\nmetric = "error_ratio"\nmax = 0.001\n'
    )
    assert [s.name for s in load_slo_file(toml)] == [
        "notify_ms p99 [*] <= 500",
        "error_ratio [*] <= 0.001",
    ]
    js = tmp_path / "slo.json"
    js.write_text('{"slo": [{"metric": "ops_per_s", "min": 5}]}')
    assert load_slo_file(js)[0].bound == "min"
    broken = tmp_path / "broken.toml"
    broken.write_text("[[slo]\n")
    with pytest.raises(ConfigError, match=r"broken\.toml: not valid TOML"):
        load_slo_file(broken)
    with pytest.raises(ConfigError, match="cannot read SLO file"):
        load_slo_file(tmp_path / "absent.toml")


def test_junit_xml_has_one_case_per_slo_and_the_failures() -> None:
    slos = parse_slos(
        [{"metric": "notify_ms", "stat": "p99", "max": 500}, {"metric": "ops_per_s", "min": 20}],
        source="t",
    )
    root = ET.fromstring(junit_xml(evaluate_slos(slos, HEADLINE), suite="slo run1"))
    suite = root.find("testsuite")
    assert suite is not None and suite.get("tests") == "3" and suite.get("failures") == "1"
    failures = root.findall(".//failure")
    assert len(failures) == 1
    assert "measured 510" in (failures[0].get("message") or "")


@pytest.mark.parametrize(
    "entry",
    [
        {"metric": "notify_ms", "stat": "p99.9", "operation": "StopCallRecording", "max": 500},
        {"metric": "ops_per_s", "min": 20},
        {"metric": "unexpected_count", "max": 0},
        {"metric": "notify_ms", "max": 1},
        {"metric": "lost_ratio", "stat": "p99", "max": 1},
        {"metric": "lost_ratio", "max": 1, "min": 0},
        {"metric": "notify_ms", "stat": "p99", "operation": "Hangup", "max": 1},
        {"metric": "error_ratio", "max": "low"},
    ],
)
def test_a_scenario_and_an_slo_file_follow_one_grammar(
    entry: dict[str, object], tmp_path: Path
) -> None:
    """gwsload check --slo FILE accepts exactly the SLOs a scenario accepts, as the same SLO."""
    table = "".join(f"{k} = {json.dumps(v)}\n" for k, v in entry.items())
    scenario_file = tmp_path / "s.toml"
    scenario_file.write_text(
        'name = "s"\n[[stages]]\nduration_s = 10\nusers = 1\nspawn_rate = 1\n[[slo]]\n' + table
    )
    slo_file = tmp_path / "slo.toml"
    slo_file.write_text("[[slo]]\n" + table)
    try:
        from_scenario = [s.to_dict() for s in load_scenario(scenario_file).slo]
    except ConfigError:
        from_scenario = None
    try:
        from_file = [s.to_dict() for s in load_slo_file(slo_file)]
    except ConfigError:
        from_file = None
    assert from_scenario == from_file
