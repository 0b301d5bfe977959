"""The Locust load shape of a scenario: its ``[[stages]]`` played back to back, then
the sign-off spread over the ramp-down.

The maths is :func:`gwsload.stages.load_at`; this is only the Locust binding, plus
the per-process share of an open workload's rate (any process can compute it from
the run's start time, so workers need no message per stage). During the sign-off
the load processes ask their agents to leave (:mod:`gwsload.harness.signoff`); the
shape ends the run once nobody is left, or at :func:`gwsload.stages.sign_off_end_s`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from locust import LoadTestShape

from gwsload.launcher.runconfig import StageSpec
from gwsload.stages import Stage, load_at, sign_off_end_s, stage_at

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
    """Users and spawn rate of the stage in force; during the sign-off the last stage's
    (the load processes ask their agents to leave) until nobody is left, for at most
    the ramp-down and one stop timeout; None then ends the run."""

    #: the unbound base is not a shape Locust should pick up; ``for_stages`` classes are
    abstract = True
    stages: list[Stage] = []
    ramp_down_s: float = 0.0
    stop_timeout_s: float = 0.0
    #: users still in, as the run knows them (set by the run's wiring: a master counts
    #: its workers' users from their batches); None: the runner's own count
    users_in: Callable[[], int] | None = None

    @classmethod
    def for_stages(
        cls, stages: Sequence[Stage], ramp_down_s: float = 0.0, stop_timeout_s: float = 0.0
    ) -> type[ScenarioShape]:
        """A shape class bound to these stages (Locust instantiates the class itself)."""
        members = {
            "stages": list(stages),
            "ramp_down_s": ramp_down_s,
            "stop_timeout_s": stop_timeout_s,
            "abstract": False,
        }
        return type("ScenarioShape", (cls,), members)

    @property
    def duration_s(self) -> float:
        """The longest the shape runs: stages, ramp-down, one stop timeout."""
        return sign_off_end_s(self.stages, self.ramp_down_s, self.stop_timeout_s)

    def _users_left(self) -> int | None:
        if self.users_in is not None:
            return self.users_in()
        return self.runner.user_count if self.runner is not None else None

    def tick(self) -> tuple[int, float] | None:
        t = float(self.get_run_time())  # type: ignore[no-untyped-call]
        load = load_at(self.stages, self.ramp_down_s, t, stop_timeout_s=self.stop_timeout_s)
        signing_off = load is not None and stage_at(self.stages, t) is None
        if signing_off and self._users_left() == 0:
            return None  # everyone left: the run is over
        return load
