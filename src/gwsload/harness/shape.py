"""The Locust load shape of a scenario: its ``[[stages]]`` played back to back.

The maths is :func:`gwsload.stages.stage_at`; this is only the Locust binding, plus
the per-process share of an open workload's rate (any process can compute it from
the run's start time, so workers need no message per stage).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from locust import LoadTestShape

from gwsload.launcher.runconfig import StageSpec
from gwsload.stages import Stage, stage_at, total_duration_s

__all__ = ["ScenarioShape", "rate_share", "to_stages"]


def to_stages(specs: Sequence[StageSpec]) -> list[Stage]:
    return [Stage(s.duration_s, s.users, s.spawn_rate, s.rate_per_s) for s in specs]


def rate_share(stages: Sequence[Stage], t0: float, processes: int) -> float | None:
    """This process's share of the open-workload cycle rate now (wall clock vs ``t0``)."""
    at = stage_at(stages, time.time() - t0)
    if at is None or at.rate_per_s is None:
        return None
    return at.rate_per_s / max(processes, 1)


class ScenarioShape(LoadTestShape):
    """Users and spawn rate of the stage in force; None after the last stage ends the run."""

    #: the unbound base is not a shape Locust should pick up; ``for_stages`` classes are
    abstract = True
    stages: list[Stage] = []

    @classmethod
    def for_stages(cls, stages: Sequence[Stage]) -> type[ScenarioShape]:
        """A shape class bound to these stages (Locust instantiates the class itself)."""
        return type("ScenarioShape", (cls,), {"stages": list(stages), "abstract": False})

    @property
    def duration_s(self) -> float:
        return total_duration_s(self.stages)

    def tick(self) -> tuple[int, float] | None:
        at = stage_at(self.stages, float(self.get_run_time()))  # type: ignore[no-untyped-call]
        return None if at is None else (at.users, at.spawn_rate)
