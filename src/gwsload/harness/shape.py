"""The Locust load shape of a scenario: its ``[[stages]]`` played back to back, then
the sign-off spread over the ramp-down.

The maths is :func:`gwsload.stages.load_at`; this is only the Locust binding, plus
the per-process share of an open workload's rate (any process can compute it from
the run's start time, so workers need no message per stage).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from locust import LoadTestShape

from gwsload.launcher.runconfig import StageSpec
from gwsload.stages import Stage, load_at, stage_at, total_duration_s

__all__ = ["ScenarioShape", "rate_share", "spawn_share", "to_stages"]


def to_stages(specs: Sequence[StageSpec]) -> list[Stage]:
    return [Stage(s.duration_s, s.users, s.spawn_rate, s.rate_per_s) for s in specs]


def rate_share(stages: Sequence[Stage], t0: float, processes: int) -> float | None:
    """This process's share of the open-workload cycle rate now (wall clock vs ``t0``)."""
    at = stage_at(stages, time.time() - t0)
    if at is None or at.rate_per_s is None:
        return None
    return at.rate_per_s / max(processes, 1)


def spawn_share(stages: Sequence[Stage], t0: float, processes: int) -> float:
    """This process's share of the spawn rate now (the last stage's after the stages):
    the rate its logins are paced at."""
    at = stage_at(stages, time.time() - t0)
    rate = at.spawn_rate if at is not None else stages[-1].spawn_rate
    return rate / max(processes, 1)


class ScenarioShape(LoadTestShape):
    """Users and spawn rate of the stage in force, then zero users at the sign-off rate
    for ``ramp_down_s``; None after that ends the run."""

    #: the unbound base is not a shape Locust should pick up; ``for_stages`` classes are
    abstract = True
    stages: list[Stage] = []
    ramp_down_s: float = 0.0

    @classmethod
    def for_stages(cls, stages: Sequence[Stage], ramp_down_s: float = 0.0) -> type[ScenarioShape]:
        """A shape class bound to these stages (Locust instantiates the class itself)."""
        members = {"stages": list(stages), "ramp_down_s": ramp_down_s, "abstract": False}
        return type("ScenarioShape", (cls,), members)

    @property
    def duration_s(self) -> float:
        """The stages and the ramp-down."""
        return total_duration_s(self.stages) + self.ramp_down_s

    def tick(self) -> tuple[int, float] | None:
        t = float(self.get_run_time())  # type: ignore[no-untyped-call]
        load = load_at(self.stages, self.ramp_down_s, t)
        signing_off = load is not None and stage_at(self.stages, t) is None
        if signing_off and self.runner is not None and self.runner.user_count == 0:
            return None  # everyone left before the ramp-down's end: the run is over
        return load
