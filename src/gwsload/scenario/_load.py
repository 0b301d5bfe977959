"""Reading a scenario file: TOML -> checked ``Scenario`` (see docs/scenarios.md)."""

from __future__ import annotations

import itertools
import math
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gwsload.contract.failed_run import DEFAULT_MIN_ACTIVE_SHARE
from gwsload.contract.slo import SLO_KEYS, SloGrammarError, parse_slo
from gwsload.errors import ConfigError
from gwsload.scenario._checks import Table, check_no_secrets, parse_duration, url_has_credentials
from gwsload.scenario._model import (
    ARRIVALS,
    DEFAULT_LATENCY_BANDS_MS,
    TRANSPORTS,
    WORKLOAD_MODELS,
    Client,
    Distribution,
    Scenario,
    SimulatorSettings,
    Slo,
    Target,
    Workload,
    check_agents,
)
from gwsload.simulator.options import OptionError, SimulatorOptions, option_specs
from gwsload.stages import Stage

__all__ = ["load_scenario", "parse_scenario"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file. Raises ``ConfigError`` (one line) on any mistake."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{source}: no such scenario file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{source}: cannot read the scenario file ({exc})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    return parse_scenario(data, source=source)


def parse_scenario(data: Mapping[str, Any], *, source: str) -> Scenario:
    """Validate an already-parsed TOML document (``source`` names it in errors)."""
    check_no_secrets(data, source, "")
    top = Table(data, source, "")
    top.allow(
        "name",
        "description",
        "warmup_s",
        "ramp_down_s",
        "min_active_share",
        "target",
        "simulator",
        "client",
        "workload",
        "stages",
        "slo",
        "report",
    )
    default_name = Path(source).stem
    name = top.get(
        "name",
        str,
        default_name,
        "a name of letters, digits, '_', '-', '.'",
        lambda v: bool(_NAME.match(v)),
    )
    description = top.get("description", str, "", "a string")
    target = _read_target(top.table("target")) if "target" in data else None
    simulator = _read_simulator(top.table("simulator")) if "simulator" in data else None
    if target is not None and simulator is not None:
        raise ConfigError(
            f"{source}: [simulator] applies only without [target]; remove one of them"
        )
    client = _read_client(top.table("client")) if "client" in data else Client()
    workload = _read_workload(top.table("workload")) if "workload" in data else Workload()
    stages = _read_stages(top, workload.model)
    warmup = top.opt("warmup_s", float, "a number of seconds >= 0", lambda v: v >= 0)
    ramp_down = top.opt("ramp_down_s", float, "a number of seconds >= 0", lambda v: v >= 0)
    slo_tables = top.array_of_tables("slo") if "slo" in data else []
    slos = tuple(_read_slo(table) for table in slo_tables)
    active = top.get(
        "min_active_share",
        float,
        DEFAULT_MIN_ACTIVE_SHARE,
        "a share in (0, 1]",
        lambda v: 0 < v <= 1,
    )
    bands = _read_report(top.table("report")) if "report" in data else DEFAULT_LATENCY_BANDS_MS
    scenario = Scenario(
        name,
        description,
        source,
        target,
        simulator,
        client,
        workload,
        stages,
        warmup,
        slos,
        active,
        bands,
        ramp_down_s=ramp_down,
    )
    check_agents(scenario)
    return scenario


def _read_report(t: Table) -> tuple[float, ...]:
    t.allow("latency_bands_ms")
    expected = "a list of 1 to 5 increasing numbers of ms > 0, e.g. [800, 1200]"
    raw = t.get("latency_bands_ms", list, list(DEFAULT_LATENCY_BANDS_MS), expected)
    if not 1 <= len(raw) <= 5 or not all(
        isinstance(v, int | float) and not isinstance(v, bool) and 0 < v < math.inf for v in raw
    ):
        raise t.error("latency_bands_ms", expected, raw)
    edges = tuple(float(v) for v in raw)
    if any(b <= a for a, b in itertools.pairwise(edges)):
        raise t.error("latency_bands_ms", expected, raw)
    return edges


def _read_target(t: Table) -> Target:
    t.allow("url", "verify_tls", "origin")
    url = t.require(
        "url", str, "an http:// or https:// URL", lambda v: v.startswith(("http://", "https://"))
    )
    if url_has_credentials(url):
        raise t.error(
            "url",
            "a URL without user:password@ (credentials come from the environment or --agents-file)",
            url.split("//", 1)[0] + "//***@" + url.rsplit("@", 1)[1],
        )
    return Target(
        url=url.rstrip("/"),
        verify_tls=t.get("verify_tls", bool, True, "true or false"),
        origin=t.opt("origin", str, "an origin like https://host:port", lambda v: "://" in v),
    )


def _read_simulator(t: Table) -> SimulatorSettings:
    """The table's keys and types come from the simulator's declaration; its own
    ``check()`` applies the cross-option rules, reported against the table's keys."""
    specs = {spec.name: spec for spec in option_specs() if spec.scenario}
    t.allow(*specs)
    values: dict[str, Any] = {}
    for name, spec in specs.items():
        value: Any
        if spec.kind is bool:
            value = t.opt(name, bool, "true or false")
        elif spec.choices is not None:
            value = t.opt(name, str, f"one of {list(spec.choices)}", spec.choices.__contains__)
        elif spec.kind is int:
            value = t.opt(name, int, "an int >= 1" if name == "agents" else "an int")
        elif name.endswith("_share"):
            value = t.opt(name, float, "a share in [0, 1]", lambda v: 0 <= v <= 1)
        else:
            value = t.opt(name, float, "a number >= 0", lambda v: v >= 0)
        if value is not None:
            values[name] = value
    try:
        SimulatorOptions(**{**values, "agents": values.get("agents", 1)}).check()
    except OptionError as exc:
        raise t.error(exc.name, exc.scenario_expected, exc.value) from None
    return SimulatorSettings(values)


def _read_client(t: Table) -> Client:
    t.allow("transport", "notification_timeout_s", "dial_destination", "request_timeout_s")
    return Client(
        transport=t.get(
            "transport",
            str,
            "long-polling",
            f"one of {list(TRANSPORTS)}",
            lambda v: v in TRANSPORTS,
        ),
        notification_timeout_s=t.get(
            "notification_timeout_s", float, 10.0, "a number of seconds > 0", lambda v: v > 0
        ),
        dial_destination=t.get(
            "dial_destination", str, "5000", "a non-empty phone number", lambda v: bool(v.strip())
        ),
        request_timeout_s=t.get(
            "request_timeout_s", float, 10.0, "a number of seconds > 0", lambda v: v > 0
        ),
    )


def _read_workload(t: Table) -> Workload:
    model = t.get(
        "model", str, "closed", f"one of {list(WORKLOAD_MODELS)}", lambda v: v in WORKLOAD_MODELS
    )
    if model == "closed":
        t.allow(
            "model",
            "hold_s",
            "think_time_s",
            "pause_share",
            only_for={"arrivals": 'the open workload (model = "open")'},
        )
    else:
        t.allow(
            "model",
            "hold_s",
            "arrivals",
            "pause_share",
            only_for={"think_time_s": 'the closed workload (model = "closed")'},
        )
    default = Workload()
    return Workload(
        model=model,
        hold_s=_read_distribution(t, "hold_s", default.hold_s),
        think_time_s=_read_distribution(t, "think_time_s", default.think_time_s),
        pause_share=t.get("pause_share", float, 0.0, "a share in [0, 1]", lambda v: 0 <= v <= 1),
        arrivals=t.get(
            "arrivals", str, "constant", f"one of {list(ARRIVALS)}", lambda v: v in ARRIVALS
        ),
    )


def _read_distribution(t: Table, key: str, default: Distribution) -> Distribution:
    if key not in t.data:
        return default
    if not isinstance(t.data[key], Mapping):
        value = t.get(
            key, float, 0.0, "a number of seconds >= 0 or a distribution table", lambda v: v >= 0
        )
        return Distribution("fixed", value, value)
    d = t.table(key)
    kind = d.require(
        "distribution",
        str,
        "one of ['fixed', 'uniform', 'exponential']",
        lambda v: v in ("fixed", "uniform", "exponential"),
    )
    secs = "a number of seconds >= 0"
    if kind == "fixed":
        d.allow("distribution", "value")
        value = d.require("value", float, secs, lambda v: v >= 0)
        return Distribution("fixed", value, value)
    if kind == "exponential":
        d.allow("distribution", "mean")
        mean = d.require("mean", float, secs, lambda v: v >= 0)
        return Distribution("exponential", mean, mean)
    d.allow("distribution", "min", "max")
    low = d.require("min", float, secs, lambda v: v >= 0)
    high = d.require("max", float, f"a number of seconds >= min ({low:g})", lambda v: v >= low)
    return Distribution("uniform", low, high)


def _read_stages(top: Table, model: str) -> tuple[Stage, ...]:
    if "stages" not in top.data:
        raise ConfigError(f"{top.source}: stages is required (at least one [[stages]] table)")
    tables = top.array_of_tables("stages")
    if not tables:
        raise ConfigError(f"{top.source}: stages must have at least one [[stages]] table, got []")
    stages: list[Stage] = []
    for t in tables:
        if model == "open":
            t.allow("duration_s", "users", "spawn_rate", "rate_per_s")
        else:
            t.allow(
                "duration_s",
                "users",
                "spawn_rate",
                only_for={"rate_per_s": 'the open workload (model = "open")'},
            )
        raw = t.data.get("duration_s")
        if isinstance(raw, str):
            try:
                duration = parse_duration(raw)
            except ConfigError:
                raise t.error(
                    "duration_s", 'a duration > 0 (seconds, or like "10m", "4h")', raw
                ) from None
            if not duration > 0:
                raise t.error("duration_s", "a duration > 0", raw)
        else:
            duration = t.require(
                "duration_s",
                float,
                'a duration > 0 (seconds, or like "10m", "4h")',
                lambda v: v > 0,
            )
        users = t.require("users", int, "an int >= 0", lambda v: v >= 0)
        # an omitted spawn_rate keeps the previous stage's; the first defaults to a 1 s ramp
        inherited = stages[-1].spawn_rate if stages else float(max(1, users))
        spawn_rate = t.get(
            "spawn_rate", float, inherited, "a number of users per second > 0", lambda v: v > 0
        )
        rate = None
        if model == "open":
            rate = t.require(
                "rate_per_s", float, "a number of cycles per second >= 0", lambda v: v >= 0
            )
        stages.append(Stage(duration, users, spawn_rate, rate))
    if max(s.users for s in stages) < 1:
        raise ConfigError(f"{top.source}: stages must have users >= 1 in at least one stage, got 0")
    return tuple(stages)


def _read_slo(t: Table) -> Slo:
    t.allow(*SLO_KEYS)
    try:
        return parse_slo(t.data)
    except SloGrammarError as problem:
        if not problem.key:
            raise ConfigError(
                f"{t.source}: {t.path} must set exactly one of max or min, got {problem.got}"
            ) from None
        if problem.key not in t.data:
            raise ConfigError(
                f"{t.source}: {t.key_path(problem.key)} is required ({problem.expected})"
            ) from None
        raise t.error(problem.key, problem.expected, problem.got) from None
