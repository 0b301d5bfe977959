"""What a Locust process of a run needs to know, as one JSON document.

``gwsload run`` resolves the scenario and the command line into a :class:`RunConfig`,
writes it to a file and names it in the ``GWSLOAD_RUN_CONFIG`` environment variable of
the Locust master (or single process). The master sends it to every worker over
Locust's messaging, so workers on other hosts need no copy of the scenario or the
agents file. No gevent here: the ``gwsload run`` process must stay free of it.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gwsload.scenario import Distribution
from gwsload.stages import Stage, sign_off_end_s

__all__ = [
    "CONFIG_ENV",
    "RunConfig",
    "StageSpec",
    "WorkloadSpec",
    "leave_time_s",
]

#: environment variable naming the JSON file of the run configuration
CONFIG_ENV = "GWSLOAD_RUN_CONFIG"


@dataclass(frozen=True, slots=True)
class StageSpec:
    duration_s: float
    users: int
    spawn_rate: float
    rate_per_s: float | None = None


@dataclass(frozen=True, slots=True)
class WorkloadSpec:
    """What each agent does (the scenario's ``[workload]``, see gwsload.scenario.Workload)."""

    #: ``closed`` (users with think time) or ``open`` (cycles at the stages' ``rate_per_s``)
    model: str = "closed"
    hold_s: Distribution = field(default_factory=lambda: Distribution("fixed", 1.0, 1.0))
    #: closed workload: the wait after each cycle
    think_time_s: Distribution = field(default_factory=lambda: Distribution("fixed", 0.5, 0.5))
    #: share of cycles that pause and resume the recording while it is held
    pause_share: float = 0.0
    #: open workload: ``constant`` or ``poisson`` gaps between cycle starts
    arrivals: str = "constant"


def leave_time_s(notification_timeout_s: float, request_timeout_s: float) -> float:
    """How long an agent may take to leave: its operation's notification, then stop,
    hangup and logout requests, plus slack."""
    return notification_timeout_s + 3 * request_timeout_s + 5.0


@dataclass(frozen=True, slots=True)
class RunConfig:
    """One run, as the Locust processes see it."""

    target_url: str
    agents: dict[str, Any]
    stages: tuple[StageSpec, ...]
    workload: WorkloadSpec = field(default_factory=WorkloadSpec)
    transport: str = "long-polling"
    verify_tls: bool = True
    #: an extra CA bundle to trust while verifying (a lab CA, ``gwsload simulate --tls``)
    ca_file: str | None = None
    origin: str | None = None
    notification_timeout_s: float = 10.0
    request_timeout_s: float = 10.0
    dial_destination: str = "5000"
    #: the Locust user: ``recording`` (GWS agents) or ``synthetic`` (no server; self-check)
    agent: str = "recording"
    #: where the master writes the run folder; None: no run folder (plain ``locust -f``)
    run_dir: str | None = None
    #: where the master writes progress every few seconds (read by ``gwsload run``)
    progress_file: str | None = None
    #: worker processes expected (0: single process)
    workers: int = 0
    #: serve live metrics (Prometheus) from the master on this port; None: not served
    metrics_port: int | None = None
    #: the address the live-metrics endpoint listens on
    metrics_host: str = "127.0.0.1"

    @property
    def stop_timeout_s(self) -> float:
        """Time for an agent to finish its operation, stop recording, hang up and log out."""
        return leave_time_s(self.notification_timeout_s, self.request_timeout_s)

    @property
    def load_duration_s(self) -> float:
        """The stages and the ramp-down: how long the load shape is planned to run."""
        return sum((s.duration_s for s in self.stages), 0.0) + self.ramp_down_s

    @property
    def sign_off_end_s(self) -> float:
        """The longest the load shape runs: the stages, the ramp-down, then at most one
        stop timeout while agents are still leaving."""
        stages = [Stage(s.duration_s, s.users, s.spawn_rate) for s in self.stages]
        return sign_off_end_s(stages, self.ramp_down_s, self.stop_timeout_s)

    #: the start of the run left out of the summary's percentiles (manifest ``warmup_s``)
    warmup_s: float = 0.0
    #: after the last stage, the agents sign off over this long (users leave steadily)
    ramp_down_s: float = 0.0
    #: how often workers ship rows and histograms, and the hlog interval, seconds
    ship_interval_s: float = 2.0
    #: how often generator health is sampled, seconds
    sample_interval_s: float = 2.0

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        workload = dict(data.get("workload") or {})
        for name in ("hold_s", "think_time_s"):
            if isinstance(workload.get(name), dict):
                workload[name] = Distribution(**workload[name])
        values = dict(data)
        values["workload"] = WorkloadSpec(**workload)
        values["stages"] = tuple(StageSpec(**s) for s in data.get("stages") or ())
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> RunConfig:
        return cls.from_dict(json.loads(text))

    def write(self, path: Path) -> None:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(self.to_json(), encoding="utf-8")
        os.chmod(tmp, 0o600)  # agents' passwords may be in it
        os.replace(tmp, path)

    @classmethod
    def from_environment(cls) -> RunConfig | None:
        """The configuration named by ``GWSLOAD_RUN_CONFIG``, or None when unset."""
        name = os.environ.get(CONFIG_ENV)
        if not name:
            return None
        return cls.from_json(Path(name).read_text(encoding="utf-8"))
