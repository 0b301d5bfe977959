"""The scenario dataclasses (frozen; built only by the loader, after validation)."""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gwsload.contract.failed_run import DEFAULT_MIN_ACTIVE_SHARE
from gwsload.contract.operations import RECORDING_OPERATIONS, TRANSPORTS
from gwsload.contract.slo import LATENCY_METRICS, LATENCY_STATS, OTHER_METRICS, SLO_METRICS, Slo
from gwsload.contract.slo import RATIO_METRICS as CONTRACT_RATIO_METRICS
from gwsload.errors import ConfigError
from gwsload.scenario._checks import number_text
from gwsload.simulator.options import LATENCY_MODELS
from gwsload.stages import Stage, default_ramp_down_s, ramp_time_s, total_duration_s

__all__ = [
    "ARRIVALS",
    "DEFAULT_LATENCY_BANDS_MS",
    "LATENCY_METRICS",
    "LATENCY_MODELS",
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
    "check_agents",
]

#: the recording operations, as GWS names them
OPERATIONS = RECORDING_OPERATIONS
#: SLO metrics that are one number per run (the SLO grammar: gwsload.contract.slo)
RATIO_METRICS = (*CONTRACT_RATIO_METRICS, *OTHER_METRICS)
WORKLOAD_MODELS = ("closed", "open")
ARRIVALS = ("constant", "poisson")
#: the report's latency bands (ms): t < 800, 800 <= t < 1200, t >= 1200 (Gatling's)
DEFAULT_LATENCY_BANDS_MS = (800.0, 1200.0)


@dataclass(frozen=True, slots=True)
class Target:
    """An external GWS (``[target]``)."""

    url: str
    verify_tls: bool = True
    #: ``Origin`` header to send (some deployments check it); None = none sent
    origin: str | None = None


@dataclass(frozen=True, slots=True)
class SimulatorSettings:
    """``[simulator]``: options of the embedded simulator, 1:1 with its CLI flags.

    ``values`` holds only the keys the table sets (the simulator's default applies to
    the others), checked against the simulator's own declaration
    (``gwsload.simulator.options``), except ``agents``, which defaults to the
    scenario's peak user count.
    """

    values: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def agents(self) -> int | None:
        agents = self.values.get("agents")
        return agents if isinstance(agents, int) else None

    def get(self, name: str, default: Any = None) -> Any:
        """The table's value for option ``name``, or ``default`` when unset."""
        return self.values.get(name, default)

    def to_argv(self, *, agents: int) -> list[str]:
        """The simulator command-line options, e.g. ``["--agents", "10", "--csrf"]``.

        ``agents`` is used when the table does not set ``agents``.
        """
        argv = ["--agents", str(self.agents if self.agents is not None else agents)]
        for name, value in self.values.items():
            flag = "--" + name.replace("_", "-")
            if name == "agents" or value is None or value is False:
                continue
            argv.extend([flag] if value is True else [flag, number_text(value)])
        return argv


@dataclass(frozen=True, slots=True)
class Client:
    """``[client]``: how each agent talks to GWS."""

    transport: str = "long-polling"
    #: an operation without its notification after this long is ``lost``
    notification_timeout_s: float = 10.0
    #: the number each agent dials to get a call to record
    dial_destination: str = "5000"
    #: HTTP request timeout (a request taking longer is a ``transport_error``)
    request_timeout_s: float = 10.0


@dataclass(frozen=True, slots=True)
class Distribution:
    """A random duration in seconds.

    ``fixed`` (``low`` = ``high`` = the value), ``uniform`` (``low`` .. ``high``) or
    ``exponential`` (``low`` = ``high`` = the mean).
    """

    kind: str
    low: float
    high: float

    @property
    def mean(self) -> float:
        """The expected value."""
        return (self.low + self.high) / 2.0 if self.kind == "uniform" else self.low

    def sample(self, rng: random.Random) -> float:
        """One draw (``rng`` makes runs repeatable)."""
        if self.kind == "fixed":
            return self.low
        if self.kind == "uniform":
            return rng.uniform(self.low, self.high)
        return rng.expovariate(1.0 / self.low) if self.low > 0 else 0.0

    def to_dict(self) -> dict[str, object]:
        """The scenario-file form."""
        if self.kind == "fixed":
            return {"distribution": "fixed", "value": self.low}
        if self.kind == "uniform":
            return {"distribution": "uniform", "min": self.low, "max": self.high}
        return {"distribution": "exponential", "mean": self.low}


@dataclass(frozen=True, slots=True)
class Workload:
    """``[workload]``: what each agent does.

    A cycle is StartCallRecording, a hold drawn from ``hold_s``, StopCallRecording;
    a share ``pause_share`` of cycles also pause after a third of the hold and
    resume after two thirds. Closed: each user runs cycles back to back with a
    ``think_time_s`` wait after each stop. Open: cycles start at the stage's
    ``rate_per_s`` across all users (``arrivals`` constant or poisson), whatever
    the answers take; each operation keeps its intended start time.
    """

    model: str = "closed"
    hold_s: Distribution = Distribution("fixed", 5.0, 5.0)
    think_time_s: Distribution = Distribution("fixed", 1.0, 1.0)
    pause_share: float = 0.0
    arrivals: str = "constant"

    @property
    def ops_per_cycle(self) -> float:
        """Mean operations per cycle (2, plus 2 for each pausing cycle)."""
        return 2.0 + 2.0 * self.pause_share

    def cycles_per_user_per_s(self) -> float | None:
        """Closed workload: the most cycles one user can run per second; None when open."""
        if self.model != "closed":
            return None
        cycle = self.hold_s.mean + self.think_time_s.mean
        return None if cycle <= 0 else 1.0 / cycle


@dataclass(frozen=True, slots=True)
class Scenario:
    """A validated scenario. Build with :func:`load_scenario` / :func:`parse_scenario`."""

    name: str
    description: str
    source: str
    target: Target | None
    simulator: SimulatorSettings | None
    client: Client
    workload: Workload
    stages: tuple[Stage, ...]
    warmup_s: float | None
    slo: tuple[Slo, ...]
    #: the run fails when fewer of its agents operate in the measured period
    min_active_share: float = DEFAULT_MIN_ACTIVE_SHARE
    #: ``[report] latency_bands_ms``: increasing band edges for the report's band table
    latency_bands_ms: tuple[float, ...] = DEFAULT_LATENCY_BANDS_MS
    #: ``ramp_down_s``: the agents' sign-off spread over this long after the last stage;
    #: None = the default (the last stage's ``users / spawn_rate``)
    ramp_down_s: float | None = None

    @property
    def embedded_simulator(self) -> bool:
        """True when no ``[target]`` is given: the run starts the simulator."""
        return self.target is None

    @property
    def duration_s(self) -> float:
        """Planned run length (sum of the stage durations)."""
        return total_duration_s(self.stages)

    @property
    def effective_ramp_down_s(self) -> float:
        """``ramp_down_s`` if given, else the last stage's users leaving at its spawn rate."""
        if self.ramp_down_s is not None:
            return self.ramp_down_s
        return default_ramp_down_s(self.stages)

    @property
    def peak_users(self) -> int:
        """The highest user count of any stage."""
        return max(stage.users for stage in self.stages)

    @property
    def effective_warmup_s(self) -> float:
        """``warmup_s`` if given, else the first stage's ramp time rounded up to a second."""
        if self.warmup_s is not None:
            return self.warmup_s
        return float(math.ceil(ramp_time_s(self.stages) - 1e-9))

    def simulator_argv(self) -> list[str]:
        """The embedded simulator's options (agents = peak users unless the table sets it)."""
        settings = self.simulator or SimulatorSettings()
        return settings.to_argv(agents=max(1, self.peak_users))

    def with_overrides(
        self, *, users: int | None = None, run_time_s: float | None = None
    ) -> Scenario:
        """A new scenario with the command line's overrides applied.

        ``users``: one stage gets that many users; several stages are scaled so the
        peak is ``users``. ``run_time_s``: the stages are cut at that time, or the
        last stage is extended to reach it.
        """
        stages = list(self.stages)
        if users is not None:
            if users < 1:
                raise ConfigError(f"--users must be an int >= 1, got {users}")
            peak = self.peak_users
            if len(stages) == 1 or peak == 0:
                stages = [dataclasses.replace(s, users=users) for s in stages]
            else:
                stages = [
                    dataclasses.replace(s, users=round(s.users * users / peak)) for s in stages
                ]
        if run_time_s is not None:
            if not run_time_s > 0:
                raise ConfigError(f"--run-time must be > 0 seconds, got {run_time_s:g}")
            stages = _fit_run_time(stages, run_time_s)
        result = dataclasses.replace(self, stages=tuple(stages))
        check_agents(result)
        return result

    def to_dict(self) -> dict[str, object]:
        """The resolved scenario (defaults filled in) for the manifest, JSON-able."""
        workload: dict[str, object] = {
            "model": self.workload.model,
            "hold_s": self.workload.hold_s.to_dict(),
            "pause_share": self.workload.pause_share,
        }
        if self.workload.model == "closed":
            workload["think_time_s"] = self.workload.think_time_s.to_dict()
        else:
            workload["arrivals"] = self.workload.arrivals
        stages = []
        for stage in self.stages:
            entry: dict[str, object] = {
                "duration_s": stage.duration_s,
                "users": stage.users,
                "spawn_rate": stage.spawn_rate,
            }
            if stage.rate_per_s is not None:
                entry["rate_per_s"] = stage.rate_per_s
            stages.append(entry)
        out: dict[str, object] = {
            "name": self.name,
            "description": self.description,
            "warmup_s": self.warmup_s,
            "ramp_down_s": self.effective_ramp_down_s,
            "min_active_share": self.min_active_share,
            "client": dataclasses.asdict(self.client),
            "workload": workload,
            "stages": stages,
            "slo": [slo.to_dict() for slo in self.slo],
            "report": {"latency_bands_ms": list(self.latency_bands_ms)},
        }
        if self.target is not None:
            out["target"] = dataclasses.asdict(self.target)
        else:
            settings = dict((self.simulator or SimulatorSettings()).values)
            settings["agents"] = settings.get("agents") or max(1, self.peak_users)
            out["simulator"] = settings
        return out


def _fit_run_time(stages: list[Stage], run_time_s: float) -> list[Stage]:
    fitted: list[Stage] = []
    start = 0.0
    for stage in stages:
        if start + stage.duration_s >= run_time_s:
            fitted.append(dataclasses.replace(stage, duration_s=run_time_s - start))
            return fitted
        fitted.append(stage)
        start += stage.duration_s
    last = fitted[-1]
    fitted[-1] = dataclasses.replace(last, duration_s=last.duration_s + run_time_s - start)
    return fitted


def check_agents(scenario: Scenario) -> None:
    """Refuse a simulator with fewer agents than the peak user count."""
    agents = scenario.simulator.agents if scenario.simulator is not None else None
    if agents is not None and agents < scenario.peak_users:
        raise ConfigError(
            f"{scenario.source}: simulator.agents must be >= the peak users "
            f"({scenario.peak_users}), got {agents}"
        )
