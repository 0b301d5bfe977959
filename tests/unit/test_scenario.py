"""Scenario files: every kind of mistake gives one precise line; good files resolve fully."""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from gwsload.errors import ConfigError
from gwsload.scenario import Distribution, Scenario, load_scenario, parse_duration
from gwsload.simulator.cli import add_arguments, options_from_args
from gwsload.simulator.options import option_specs
from gwsload.stages import Stage

Write = Callable[..., str]
REPO = Path(__file__).resolve().parents[2]

MINIMAL = """
name = "soak"
[[stages]]
duration_s = 60
users = 10
"""

# every [simulator] key, each set away from its default
EVERY_SIMULATOR_SETTING = """
[simulator]
nodes = 3
balancers = 2
fail_node_every_s = 30
fail_node_down_s = 5
agents = 40
answer_delay_ms = 50
latency_model = "lognormal"
latency_ms = 5
latency_p99_ms = 25.5
delivery_delay_ms = 15
drop_share = 0.1
duplicate_share = 0.05
delay_share = 0.2
delay_ms = 300
http_error_share = 0.01
async_error_share = 0.02
voice_down = true
no_recording_feature = true
recording_unavailable_share = 0.2
recording_unavailable_refusal = "error"
dial_busy_share = 0.1
dial_no_answer_share = 0.05
dial_no_answer_ms = 2000
throttle_share = 0.03
throttle_requests_share = 0.02
throttle_status = 503
throttle_retry_after_s = 2
expire_sessions_every_s = 30
stall_every_s = 20
stall_ms = 500
csrf = true
seed = 9
websocket = true
"""

STAGES_3 = """
[[stages]]
duration_s = 60
users = 10
[[stages]]
duration_s = 60
users = 20
[[stages]]
duration_s = 60
users = {users}
"""


@pytest.fixture
def write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Write:
    """Write ``scenarios/<name>`` under a temporary cwd; return the relative path."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "scenarios").mkdir()

    def _write(text: str, name: str = "soak.toml") -> str:
        path = f"scenarios/{name}"
        (tmp_path / path).write_text(text, encoding="utf-8")
        return path

    return _write


def error_of(path: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_scenario(path)
    message = str(caught.value)
    assert "\n" not in message
    return message


# ---------------------------------------------------------------- messages, word for word


def test_bad_value_names_file_key_expectation_and_value(write: Write) -> None:
    path = write(STAGES_3.format(users=-5))
    assert error_of(path) == "scenarios/soak.toml: stages[2].users must be an int >= 0, got -5"


def test_wrong_type_is_reported_as_written_in_toml(write: Write) -> None:
    path = write(MINIMAL + '[client]\ntransport = "ws"\n')
    assert error_of(path) == (
        "scenarios/soak.toml: client.transport must be one of ['long-polling', 'websocket'], "
        'got "ws"'
    )


def test_unknown_key_suggests_the_close_one(write: Write) -> None:
    path = write(MINIMAL + "[workload]\nthink_time = 2\n")
    assert error_of(path) == (
        "scenarios/soak.toml: workload.think_time is not a known key (did you mean "
        "'think_time_s'?); known keys here: model, hold_s, think_time_s, pause_share"
    )


def test_secret_key_is_refused_with_where_credentials_go(write: Write) -> None:
    path = write(MINIMAL + '[target]\nurl = "https://gws:8443"\npassword = "x"\n')
    assert error_of(path) == (
        "scenarios/soak.toml: target.password: secrets do not belong in scenario files; "
        "give credentials through environment variables or --agents-file"
    )


def test_missing_required_key(write: Write) -> None:
    path = write("[[stages]]\nduration_s = 60\n")
    assert error_of(path) == ("scenarios/soak.toml: stages[0].users is required (an int >= 0)")


# ---------------------------------------------------------------- each kind of mistake


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("name = 'soak'\n", "stages is required"),
        ("stages = []\n", "stages must have at least one [[stages]] table, got []"),
        ("users = 3\n" + MINIMAL, "scenarios/soak.toml: users is not a known key"),
        (MINIMAL + "[workload]\nmodel = 'batch'\n", "workload.model must be one of"),
        (MINIMAL + "[workload]\npause_share = 1.5\n", "workload.pause_share must be a share"),
        (MINIMAL + "[workload]\narrivals = 'poisson'\n", "workload.arrivals is only for the open"),
        (
            MINIMAL + "[workload]\nhold_s = { distribution = 'uniform', min = 3, max = 1 }\n",
            "workload.hold_s.max must be a number of seconds >= min (3), got 1",
        ),
        (
            MINIMAL + "[workload]\nhold_s = { distribution = 'gauss' }\n",
            "workload.hold_s.distribution must be one of",
        ),
        (MINIMAL + "[workload]\nhold_s = -1\n", "workload.hold_s must be a number of seconds"),
        ("[[stages]]\nduration_s = 0\nusers = 1\n", "stages[0].duration_s must be a duration > 0"),
        ("[[stages]]\nduration_s = '10 minutes'\nusers = 1\n", 'got "10 minutes"'),
        (
            "[[stages]]\nduration_s = 60\nusers = 1.5\n",
            "stages[0].users must be an int >= 0, got 1.5",
        ),
        ("[[stages]]\nduration_s = 60\nusers = true\n", "must be an int >= 0, got true"),
        ("[[stages]]\nduration_s = 60\nusers = 0\n", "users >= 1 in at least one stage"),
        (
            MINIMAL + "[[stages]]\nduration_s = 60\nusers = 10\nrate_per_s = 5\n",
            "stages[1].rate_per_s is only for the open workload",
        ),
        (
            "[workload]\nmodel = 'open'\n[[stages]]\nduration_s = 60\nusers = 5\n",
            "stages[0].rate_per_s is required",
        ),
        (
            MINIMAL + "[workload]\nmodel = 'open'\nthink_time_s = 1\n",
            "workload.think_time_s is only for the closed workload",
        ),
        (MINIMAL + "[target]\nurl = 'gws:8443'\n", "target.url must be an http:// or https:// URL"),
        (MINIMAL + "[target]\nurl = 'https://u:p@gws:8443'\n", "without user:password@"),
        (
            MINIMAL + "[target]\nurl = 'https://gws'\n[simulator]\nseed = 1\n",
            "[simulator] applies only without [target]",
        ),
        (
            MINIMAL + "[simulator]\ndrop_share = 2\n",
            "simulator.drop_share must be a share in [0, 1]",
        ),
        (MINIMAL + "[simulator]\nagents = 5\n", "simulator.agents must be >= the peak users (10)"),
        (
            MINIMAL + "[simulator]\nlatency_model = 'lognormal'\nlatency_ms = 5\n",
            "simulator.latency_p99_ms must be above latency_ms",
        ),
        (MINIMAL + "[simulator]\nlatency_p99_ms = 50\n", "set only with latency_model"),
        (MINIMAL + "[simulator]\ndelay_share = 0.1\n", "simulator.delay_ms must be > 0"),
        (
            MINIMAL + "[simulator]\nstall_every_s = 1\nstall_ms = 2000\n",
            "simulator.stall_ms must be > 0 and shorter than stall_every_s",
        ),
        (
            MINIMAL + "[client]\nnotification_timeout_s = 0\n",
            "client.notification_timeout_s must be a number of seconds > 0, got 0",
        ),
        (MINIMAL + "[client]\napi_token = 'x'\n", "client.api_token: secrets do not belong"),
        (MINIMAL + "[[slo]]\nmetric = 'p99'\nmax = 1\n", "slo[0].metric must be one of"),
        (MINIMAL + "[[slo]]\nmetric = 'notify_ms'\nmax = 1\n", "slo[0].stat is required"),
        (
            MINIMAL + "[[slo]]\nmetric = 'lost_ratio'\nstat = 'p99'\nmax = 1\n",
            "slo[0].stat must be absent for lost_ratio",
        ),
        (
            MINIMAL + "[[slo]]\nmetric = 'notify_ms'\nstat = 'p42'\nmax = 1\n",
            "slo[0].stat must be one of",
        ),
        (MINIMAL + "[[slo]]\nmetric = 'lost_ratio'\n", "slo[0] must set exactly one of max or min"),
        (MINIMAL + "[[slo]]\nmetric = 'lost_ratio'\nmax = 1\nmin = 0\n", "got both"),
        (
            MINIMAL + "[[slo]]\nmetric = 'error_ratio'\noperation = 'Dial'\nmax = 1\n",
            "slo[0].operation must be '*' or one of",
        ),
        ("warmup_s = -1\n" + MINIMAL, "warmup_s must be a number of seconds >= 0, got -1"),
        ("ramp_down_s = -2\n" + MINIMAL, "ramp_down_s must be a number of seconds >= 0, got -2"),
        ("min_active_share = 0\n" + MINIMAL, "min_active_share must be a share in (0, 1], got 0"),
        ("min_active_share = 1.5\n" + MINIMAL, "min_active_share must be a share in (0, 1]"),
        ("name = 'has space'\n" + MINIMAL.replace('name = "soak"', ""), "name must be a name"),
        (MINIMAL + "[client]\ntransport = 1\n", "client.transport must be one of"),
        ("client = 3\n" + MINIMAL, "client must be a table ([client]), got 3"),
    ],
)
def test_each_mistake_is_one_clear_line(write: Write, text: str, fragment: str) -> None:
    message = error_of(write(text))
    assert message.startswith("scenarios/soak.toml: ")
    assert fragment in message


def test_unreadable_files(write: Write) -> None:
    assert error_of("scenarios/none.toml") == "scenarios/none.toml: no such scenario file"
    message = error_of(write("name = \n"))
    assert message.startswith("scenarios/soak.toml: not valid TOML: ")


# ---------------------------------------------------------------- resolved values


def test_defaults_and_resolved_values(write: Write) -> None:
    scenario = load_scenario(write(MINIMAL))
    assert scenario.name == "soak"
    assert scenario.embedded_simulator
    assert scenario.client.transport == "long-polling"
    assert scenario.client.notification_timeout_s == 10.0
    assert scenario.workload.model == "closed"
    assert scenario.stages == (Stage(60.0, 10, 10.0, None),)  # first spawn_rate: a 1 s ramp
    assert scenario.effective_warmup_s == 1.0
    assert scenario.simulator_argv() == ["--agents", "10"]


def test_name_defaults_to_the_file_stem(write: Write) -> None:
    scenario = load_scenario(write("[[stages]]\nduration_s = 1\nusers = 1\n", "quick.toml"))
    assert scenario.name == "quick"


def test_warmup_default_is_first_ramp_rounded_up(write: Write) -> None:
    text = (
        "[[stages]]\nduration_s = '2m'\nusers = 25\nspawn_rate = 10\n"
        "[[stages]]\nduration_s = 30\nusers = 5\n"
    )
    scenario = load_scenario(write(text))
    assert scenario.effective_warmup_s == 3.0  # 25 / 10 = 2.5 -> 3
    assert scenario.stages[0].duration_s == 120.0
    assert scenario.stages[1].spawn_rate == 10.0  # inherited from the stage before


def test_ramp_down_default_is_the_last_stage_leaving_at_its_spawn_rate(write: Write) -> None:
    text = (
        "[[stages]]\nduration_s = 60\nusers = 100\nspawn_rate = 10\n"
        "[[stages]]\nduration_s = 30\nusers = 45\nspawn_rate = 20\n"
    )
    scenario = load_scenario(write(text))
    assert scenario.ramp_down_s is None
    assert scenario.effective_ramp_down_s == 3.0  # 45 / 20 = 2.25 -> 3
    assert scenario.to_dict()["ramp_down_s"] == 3.0
    assert scenario.duration_s == 90.0  # the ramp-down follows the stages
    explicit = load_scenario(write("ramp_down_s = 0\n" + text))
    assert explicit.effective_ramp_down_s == 0.0


def test_simulator_table_maps_onto_the_simulator_flags(write: Write) -> None:
    text = MINIMAL + EVERY_SIMULATOR_SETTING
    assert load_scenario(write(text)).simulator_argv() == [
        "--agents",
        "40",
        "--nodes",
        "3",
        "--balancers",
        "2",
        "--fail-node-every-s",
        "30",
        "--fail-node-down-s",
        "5",
        "--answer-delay-ms",
        "50",
        "--latency-model",
        "lognormal",
        "--latency-ms",
        "5",
        "--latency-p99-ms",
        "25.5",
        "--delivery-delay-ms",
        "15",
        "--seed",
        "9",
        "--csrf",
        "--drop-share",
        "0.1",
        "--duplicate-share",
        "0.05",
        "--delay-share",
        "0.2",
        "--delay-ms",
        "300",
        "--http-error-share",
        "0.01",
        "--async-error-share",
        "0.02",
        "--voice-down",
        "--no-recording-feature",
        "--recording-unavailable-share",
        "0.2",
        "--recording-unavailable-refusal",
        "error",
        "--dial-busy-share",
        "0.1",
        "--dial-no-answer-share",
        "0.05",
        "--dial-no-answer-ms",
        "2000",
        "--throttle-share",
        "0.03",
        "--throttle-requests-share",
        "0.02",
        "--throttle-status",
        "503",
        "--throttle-retry-after-s",
        "2",
        "--expire-sessions-every-s",
        "30",
        "--stall-every-s",
        "20",
        "--stall-ms",
        "500",
        "--websocket",
    ]


def test_open_workload_and_external_target(write: Write) -> None:
    text = """
[target]
url = "https://gws.example:8443/"
verify_tls = false
origin = "https://agent-desktop.example"
[workload]
model = "open"
arrivals = "poisson"
hold_s = { distribution = "exponential", mean = 2 }
pause_share = 0.5
[[stages]]
duration_s = 30
users = 100
spawn_rate = 20
rate_per_s = 8
[[slo]]
metric = "ops_per_s"
min = 10
"""
    scenario = load_scenario(write(text))
    assert not scenario.embedded_simulator
    assert scenario.target is not None and scenario.target.url == "https://gws.example:8443"
    assert scenario.target.verify_tls is False
    assert scenario.stages[0].rate_per_s == 8.0
    assert scenario.workload.ops_per_cycle == 3.0
    assert scenario.workload.cycles_per_user_per_s() is None
    as_dict = scenario.to_dict()
    assert as_dict["target"] == {
        "url": "https://gws.example:8443",
        "verify_tls": False,
        "origin": "https://agent-desktop.example",
    }
    assert "simulator" not in as_dict
    assert as_dict["slo"] == [{"metric": "ops_per_s", "operation": "*", "min": 10.0}]


def test_to_dict_is_json_and_complete(write: Write) -> None:
    scenario = load_scenario(write(MINIMAL))
    data = json.loads(json.dumps(scenario.to_dict()))
    assert data["simulator"] == {"agents": 10}
    assert data["workload"] == {
        "model": "closed",
        "hold_s": {"distribution": "fixed", "value": 5.0},
        "pause_share": 0.0,
        "think_time_s": {"distribution": "fixed", "value": 1.0},
    }
    assert data["stages"] == [{"duration_s": 60.0, "users": 10, "spawn_rate": 10.0}]


def test_scenario_is_frozen(write: Write) -> None:
    scenario = load_scenario(write(MINIMAL))
    with pytest.raises(AttributeError):
        scenario.name = "other"  # type: ignore[misc]


# ---------------------------------------------------------------- overrides


def test_users_override_sets_one_stage_and_scales_several(write: Write) -> None:
    one = load_scenario(write(MINIMAL)).with_overrides(users=50)
    assert [s.users for s in one.stages] == [50]
    several = load_scenario(write(STAGES_3.format(users=40), "steps.toml"))
    assert [s.users for s in several.with_overrides(users=20).stages] == [5, 10, 20]


def test_run_time_override_cuts_or_extends_the_stages(write: Write) -> None:
    scenario = load_scenario(write(STAGES_3.format(users=40)))
    cut = scenario.with_overrides(run_time_s=90)
    assert [s.duration_s for s in cut.stages] == [60.0, 30.0]
    longer = scenario.with_overrides(run_time_s=300)
    assert [s.duration_s for s in longer.stages] == [60.0, 60.0, 180.0]
    assert scenario.duration_s == 180.0  # the original is unchanged


def test_overrides_are_checked(write: Write) -> None:
    scenario = load_scenario(write(MINIMAL + "[simulator]\nagents = 20\n"))
    with pytest.raises(ConfigError, match=r"^--users must be an int >= 1, got 0$"):
        scenario.with_overrides(users=0)
    with pytest.raises(ConfigError, match=r"simulator.agents must be >= the peak users \(30\)"):
        scenario.with_overrides(users=30)
    with pytest.raises(ConfigError, match=r"^--run-time must be > 0 seconds, got -1$"):
        scenario.with_overrides(run_time_s=-1)


# ---------------------------------------------------------------- helpers


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90.0),
        ("90s", 90.0),
        ("10m", 600.0),
        ("4h", 14400.0),
        ("1h30m", 5400.0),
        ("500ms", 0.5),
        ("2.5", 2.5),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_parse_duration_refuses_other_text() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_duration("ten minutes", what="--run-time")
    assert str(caught.value) == (
        "--run-time must be a duration like 90, 90s, 10m, 4h or 1h30m, got 'ten minutes'"
    )


def test_distributions_sample_within_their_bounds_and_mean() -> None:
    rng = random.Random(1)
    uniform = Distribution("uniform", 1.0, 3.0)
    draws = [uniform.sample(rng) for _ in range(2000)]
    assert min(draws) >= 1.0 and max(draws) <= 3.0
    assert abs(sum(draws) / len(draws) - uniform.mean) < 0.1
    assert Distribution("fixed", 2.0, 2.0).sample(rng) == 2.0
    exponential = Distribution("exponential", 0.5, 0.5)
    draws = [exponential.sample(rng) for _ in range(4000)]
    assert abs(sum(draws) / len(draws) - 0.5) < 0.05


# ---------------------------------------------------------------- the shipped scenarios


SHIPPED = sorted((REPO / "scenarios").glob("*.toml"))


def test_the_five_scenarios_are_shipped() -> None:
    assert {p.stem for p in SHIPPED} >= {"smoke", "capacity", "soak", "spike", "regression"}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_scenario_loads_and_runs_against_the_simulator(path: Path) -> None:
    scenario: Scenario = load_scenario(path)
    assert scenario.name == path.stem
    assert scenario.embedded_simulator
    assert scenario.slo, "every shipped scenario states its SLOs"
    argv = scenario.simulator_argv()
    assert argv[:2] == ["--agents", str(scenario.peak_users)]
    json.dumps(scenario.to_dict())


def test_smoke_is_about_a_minute_and_small() -> None:
    smoke = load_scenario(REPO / "scenarios" / "smoke.toml")
    assert 30 <= smoke.duration_s <= 90
    assert smoke.peak_users <= 20
    assert smoke.workload.model == "closed"


def test_simulator_argv_is_accepted_by_the_simulator_itself(write: Write) -> None:
    text = MINIMAL + EVERY_SIMULATOR_SETTING
    scenario = load_scenario(write(text))
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    options = options_from_args(parser.parse_args(scenario.simulator_argv()))
    assert scenario.simulator is not None
    assert set(scenario.simulator.values) == {s.name for s in option_specs() if s.scenario}
    for name, value in scenario.simulator.values.items():
        assert getattr(options, name) == value, name


def test_report_latency_bands_default_and_checked(tmp_path: Path) -> None:
    base = 'name = "b"\n[[stages]]\nduration_s = 10\nusers = 1\n'
    path = tmp_path / "b.toml"
    path.write_text(base)
    assert load_scenario(path).to_dict()["report"] == {"latency_bands_ms": [800.0, 1200.0]}
    path.write_text(base + "[report]\nlatency_bands_ms = [100, 250.5]\n")
    assert load_scenario(path).latency_bands_ms == (100.0, 250.5)
    for bad in ("[1200, 800]", "[]", '["a"]', "[0, 5]", "500"):
        path.write_text(base + f"[report]\nlatency_bands_ms = {bad}\n")
        with pytest.raises(ConfigError, match=r"report\.latency_bands_ms.*increasing"):
            load_scenario(path)
