"""Scenario files (``scenarios/*.toml``): load, validate, resolve into frozen dataclasses.

``load_scenario(path)`` checks everything before a run starts; any mistake raises
``ConfigError`` with one line naming the file, the key path, what was expected and
what was given (``scenarios/soak.toml: stages[2].users must be an int >= 0, got -5``).
Unknown keys are errors (with a "did you mean"), and so are keys that look like
secrets: credentials come from environment variables or an agents file. After
loading nothing downstream re-checks. docs/scenarios.md is the file reference.

Tables: ``[target]`` (absent = embedded simulator, tuned by ``[simulator]``),
``[client]``, ``[workload]``, ``[[stages]]``, ``[[slo]]``, plus ``name``,
``description`` and ``warmup_s`` at the top. ``Scenario.with_overrides()`` applies
the command line's ``--users`` / ``--run-time``; ``Scenario.to_dict()`` is the
manifest form.
"""

from __future__ import annotations

from gwsload.scenario._checks import parse_duration, url_has_credentials
from gwsload.scenario._load import load_scenario, parse_scenario
from gwsload.scenario._model import (
    DEFAULT_LATENCY_BANDS_MS,
    LATENCY_METRICS,
    LATENCY_STATS,
    OPERATIONS,
    RATIO_METRICS,
    SLO_METRICS,
    TRANSPORTS,
    WORKLOAD_MODELS,
    Client,
    Distribution,
    Scenario,
    SimulatorSettings,
    Slo,
    Target,
    Workload,
)

__all__ = [
    "DEFAULT_LATENCY_BANDS_MS",
    "LATENCY_METRICS",
    "LATENCY_STATS",
    "OPERATIONS",
    "RATIO_METRICS",
    "SLO_METRICS",
    "TRANSPORTS",
    "WORKLOAD_MODELS",
    "Client",
    "Distribution",
    "Scenario",
    "SimulatorSettings",
    "Slo",
    "Target",
    "Workload",
    "load_scenario",
    "parse_duration",
    "parse_scenario",
    "url_has_credentials",
]
