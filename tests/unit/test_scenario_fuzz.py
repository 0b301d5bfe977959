"""Property tests: any scenario document either loads or fails with one ConfigError line;
stage lookup agrees with the stage windows."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import gwsload.scenario
from gwsload.errors import ConfigError
from gwsload.scenario import Scenario, parse_scenario
from gwsload.stages import Stage, stage_at, stage_windows, total_duration_s

REPO = Path(__file__).resolve().parents[2]
DOCUMENTS = {
    path.stem: tomllib.loads(path.read_text(encoding="utf-8"))
    for path in sorted((REPO / "scenarios").glob("*.toml"))
}

toml_leaf = st.one_of(
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.booleans(),
    st.sampled_from(["open", "closed", "websocket", "uniform", "lognormal", "p99", "*"]),
)
toml_value = st.recursive(
    toml_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.text(max_size=8), inner, max_size=3),
    ),
    max_leaves=6,
)


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path in a parsed TOML document."""
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found.extend(paths(value, (*prefix, key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(paths(value, (*prefix, index)))
    return found


@settings(max_examples=300, deadline=None)
@given(
    name=st.sampled_from(sorted(DOCUMENTS)),
    pick=st.integers(min_value=0),
    value=toml_value,
    delete=st.booleans(),
)
def test_any_mutation_loads_or_fails_with_one_line(
    name: str, pick: int, value: Any, delete: bool
) -> None:
    document = copy.deepcopy(DOCUMENTS[name])
    where = paths(document)
    path = where[pick % len(where)]
    parent = document
    for part in path[:-1]:
        parent = parent[part]
    if delete and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    try:
        scenario = parse_scenario(document, source=f"scenarios/{name}.toml")
    except ConfigError as exc:
        message = str(exc)
        assert message.startswith(f"scenarios/{name}.toml: ") or message.startswith("--")
        assert "\n" not in message
    else:
        assert isinstance(scenario, Scenario)
        assert scenario.duration_s > 0
        scenario.to_dict()
        scenario.simulator_argv()


stage = st.builds(
    Stage,
    duration_s=st.floats(min_value=0.5, max_value=1000, allow_nan=False),
    users=st.integers(min_value=0, max_value=1000),
    spawn_rate=st.floats(min_value=0.1, max_value=100, allow_nan=False),
)


@given(stages=st.lists(stage, min_size=1, max_size=6), fraction=st.floats(0.0, 1.0))
def test_stage_at_agrees_with_the_windows(stages: list[Stage], fraction: float) -> None:
    total = total_duration_s(stages)
    t = fraction * total
    at = stage_at(stages, t)
    assert at is not None
    window = stage_windows(stages)[at.index]
    assert window.start_s <= t
    assert t < window.end_s or at.index == len(stages) - 1
    assert (at.users, at.spawn_rate) == (stages[at.index].users, stages[at.index].spawn_rate)
    assert stage_at(stages, total + 1e-6 * max(1.0, total)) is None


def test_public_names() -> None:
    assert sorted(gwsload.scenario.__all__) == [
        "Client",
        "DEFAULT_LATENCY_BANDS_MS",
        "Distribution",
        "LATENCY_METRICS",
        "LATENCY_STATS",
        "OPERATIONS",
        "RATIO_METRICS",
        "SLO_METRICS",
        "Scenario",
        "SimulatorSettings",
        "Slo",
        "TRANSPORTS",
        "Target",
        "WORKLOAD_MODELS",
        "Workload",
        "load_scenario",
        "parse_duration",
        "parse_scenario",
        "url_has_credentials",
    ]
    for name in gwsload.scenario.__all__:
        assert hasattr(gwsload.scenario, name)
