"""Options, agents files and the latency model: pure checks."""

from __future__ import annotations

import argparse
import random
import statistics
from pathlib import Path

import pytest

from gwsload.errors import ConfigError
from gwsload.simulator.agents import generate_accounts, read_accounts_file
from gwsload.simulator.faults import Faults
from gwsload.simulator.latency import LatencyModel
from gwsload.simulator.options import SimulatorOptions


def test_generated_agents() -> None:
    accounts = generate_accounts(3, "pw")
    assert [(a.username, a.password, a.dn) for a in accounts] == [
        ("agent0001", "pw", "10001"), ("agent0002", "pw", "10002"), ("agent0003", "pw", "10003"),
    ]  # fmt: skip
    assert generate_accounts(12000, "pw")[-1].username == "agent12000"


def test_agents_file_with_header_and_missing_dns(tmp_path: Path) -> None:
    path = tmp_path / "agents.csv"
    path.write_text("username,password,dn\n\nalice,a,10001\nbob,b\ncarol,c,\n")
    accounts = read_accounts_file(path)
    assert [(a.username, a.dn) for a in accounts] == [
        ("alice", "10001"), ("bob", "10002"), ("carol", "10003"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("", "needs a header line with columns username,password[,dn]"),
        ("username,password\n", "lists no agents"),
        ("alice,a\n", "needs a header line"),
        ("username,password\nalice,a\nalice,b\n", "line 3: username 'alice' is listed twice"),
        ("username,password,dn\nalice,a,12x\n", "dn must be digits"),
        ("username,password,dn\nalice,a,5\nbob,b,5\n", "dn '5' is given to two agents"),
        ("username,password\nalice,\n", "must not be empty"),
    ],
)
def test_bad_agents_files(tmp_path: Path, content: str, needle: str) -> None:
    path = tmp_path / "agents.csv"
    path.write_text(content)
    with pytest.raises(ConfigError) as error:
        read_accounts_file(path)
    assert needle in str(error.value) and str(path) in str(error.value)


@pytest.mark.parametrize(
    ("overrides", "option"),
    [
        ({"port": 70000}, "--port"),
        ({"password": ""}, "--password"),
        ({"answer_delay_ms": -1.0}, "--answer-delay-ms"),
        ({"latency_model": "lognormal", "latency_ms": 0.0, "latency_p99_ms": 5.0}, "--latency-ms"),
        ({"latency_p99_ms": 5.0}, "--latency-p99-ms"),
        ({"delay_ms": float("inf")}, "--delay-ms"),
        ({"cometd_max_interval_ms": 0}, "--cometd-max-interval-ms"),
    ],
)
def test_bad_options(overrides: dict[str, object], option: str) -> None:
    with pytest.raises(ConfigError, match=f"^{option} must be"):
        SimulatorOptions(**overrides).check()  # type: ignore[arg-type]


def test_options_to_json_is_plain() -> None:
    options = SimulatorOptions(truth_log=Path("/tmp/t.csv")).check()
    assert options.to_json()["truth_log"] == "/tmp/t.csv"
    assert options.to_json()["latency_model"] == "fixed"


def test_lognormal_model_matches_median_and_p99() -> None:
    options = SimulatorOptions(latency_model="lognormal", latency_ms=10.0, latency_p99_ms=50.0)
    model = LatencyModel(options.check(), random.Random(1))
    samples = sorted(model.sample_ms() for _ in range(40_000))
    assert statistics.median(samples) == pytest.approx(10.0, rel=0.05)
    assert samples[int(0.99 * len(samples))] == pytest.approx(50.0, rel=0.1)
    fixed = LatencyModel(SimulatorOptions(latency_ms=3.0).check(), random.Random(1))
    assert {fixed.sample_ms() for _ in range(10)} == {3.0}


def test_fault_decisions_are_seeded_and_independent_of_other_shares() -> None:
    drop_only = Faults(SimulatorOptions(drop_share=0.3).check(), seed=5)
    with_dups = Faults(SimulatorOptions(drop_share=0.3, duplicate_share=0.5).check(), seed=5)
    first = [drop_only.for_recording_notification().drop for _ in range(500)]
    second = [with_dups.for_recording_notification().drop for _ in range(500)]
    assert first == second
    assert 100 <= sum(first) <= 200


def test_every_declared_option_is_a_flag_and_documented() -> None:
    from gwsload.simulator.cli import add_arguments  # noqa: PLC0415
    from gwsload.simulator.options import option_specs  # noqa: PLC0415

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    flags = {flag for action in parser._actions for flag in action.option_strings}
    docs = (Path(__file__).resolve().parents[2] / "docs" / "simulator.md").read_text()
    for spec in option_specs():
        assert spec.flag in flags, spec.flag
        assert f"`{spec.flag}" in docs, f"docs/simulator.md does not list {spec.flag}"


def test_scenario_error_names_table_keys_cli_error_names_flags() -> None:
    from gwsload.simulator.options import OptionError  # noqa: PLC0415

    with pytest.raises(OptionError) as error:
        SimulatorOptions(delay_share=0.5).check()
    assert str(error.value) == "--delay-ms must be > 0 when --delay-share is set, got 0.0"
    assert error.value.scenario_expected == "> 0 when delay_share is set"
