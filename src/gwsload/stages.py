"""Load stages: pure maths over the scenario's ``[[stages]]``.

A run is a sequence of stages played back to back. Each stage holds a user target
(reached at ``spawn_rate`` users per second, as Locust spawns) for ``duration_s``
seconds and, in an open workload, a target rate of recording cycles per second.
The usual shapes are sequences of stages:

- constant: one stage;
- ramp: a stage whose ``spawn_rate`` is ``users / duration_s`` (the target is reached
  at the end of the stage);
- step (capacity search): stages of increasing ``users`` (or ``rate_per_s``);
- spike: base, short high stage with a high ``spawn_rate``, base again.

After the last stage the agents sign off over ``ramp_down_s`` seconds: each load
process asks its agents to leave one by one at a steady rate (:func:`sign_offs_due`,
:func:`sign_off_rate`) instead of all at once, so the generator keeps renewing the
CometD connects of the agents still in while the others log out. Locust keeps the
last stage's users meanwhile (:func:`load_at`): its own ramp-down would wait for each
second's batch of leaving users before asking the next, at 30-50 a second when
100 were asked. The sign-off may run up to one stop timeout past the ramp-down while
agents are still leaving (:func:`sign_off_end_s`). The default ramp-down
(:func:`default_ramp_down_s`) takes as long as the last stage's users took to spawn.

Nothing here reads a clock: ``t`` is seconds since the run started (``manifest.t0``).
The Locust ``LoadTestShape`` is a thin wrapper over :func:`load_at`::

    def tick(self):
        return load_at(stages, ramp_down_s, self.get_run_time(), stop_timeout_s=...)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "Stage",
    "StageAt",
    "StageWindow",
    "default_ramp_down_s",
    "load_at",
    "offered_ops_per_s",
    "ramp_time_s",
    "sign_off_end_s",
    "sign_off_rate",
    "sign_offs_due",
    "stage_at",
    "stage_windows",
    "total_duration_s",
]


@dataclass(frozen=True, slots=True)
class Stage:
    """One load stage, as written in the scenario file (already validated)."""

    #: how long the stage lasts, seconds (> 0)
    duration_s: float
    #: user (agent) target of the stage
    users: int
    #: users started (or stopped) per second while moving to ``users`` (> 0)
    spawn_rate: float
    #: open workload: recording cycles started per second across all users; None when closed
    rate_per_s: float | None = None


@dataclass(frozen=True, slots=True)
class StageAt:
    """What the load should be at one instant: the answer of :func:`stage_at`."""

    index: int
    users: int
    spawn_rate: float
    rate_per_s: float | None


@dataclass(frozen=True, slots=True)
class StageWindow:
    """A stage placed on the run's time axis (the manifest ``stages`` entries)."""

    index: int
    start_s: float
    end_s: float
    users: int
    spawn_rate: float
    rate_per_s: float | None

    def to_dict(self) -> dict[str, object]:
        """The manifest form (keys index, start_s, end_s, users, spawn_rate, rate_per_s)."""
        return {
            "index": self.index,
            "start_s": self.start_s,
            "end_s": self.end_s,
            "users": self.users,
            "spawn_rate": self.spawn_rate,
            "rate_per_s": self.rate_per_s,
        }


def total_duration_s(stages: Sequence[Stage]) -> float:
    """Length of the whole run in seconds (the sum of the stage durations)."""
    # added in order, exactly as stage_at and stage_windows add them: a more exact
    # sum (math.fsum) can exceed their last end by an ulp and end the run early
    return sum((stage.duration_s for stage in stages), 0.0)


def stage_windows(stages: Sequence[Stage]) -> list[StageWindow]:
    """Each stage with its start and end on the run's time axis.

    Stage *i* covers ``[start_s, end_s)``; the last one also owns its end instant.
    """
    windows: list[StageWindow] = []
    start = 0.0
    for index, stage in enumerate(stages):
        end = start + stage.duration_s
        windows.append(
            StageWindow(index, start, end, stage.users, stage.spawn_rate, stage.rate_per_s)
        )
        start = end
    return windows


def stage_at(stages: Sequence[Stage], t: float) -> StageAt | None:
    """The stage in force ``t`` seconds after the start, or None once the run is over.

    Boundaries belong to the next stage (``t == end`` of stage 0 is stage 1); the
    run ends after the last stage's end instant. A negative ``t`` is the first stage.
    """
    start = 0.0
    last = len(stages) - 1
    for index, stage in enumerate(stages):
        end = start + stage.duration_s
        if t < end or (index == last and t <= end):
            return StageAt(index, stage.users, stage.spawn_rate, stage.rate_per_s)
        start = end
    return None


def default_ramp_down_s(stages: Sequence[Stage]) -> float:
    """The sign-off's default length: the last stage's users leave at its spawn rate
    (``users / spawn_rate`` of the last stage), rounded up to a second."""
    if not stages:
        return 0.0
    last = stages[-1]
    return float(math.ceil(last.users / last.spawn_rate - 1e-9))


def sign_off_rate(stages: Sequence[Stage], ramp_down_s: float) -> float:
    """Users leaving per second during the ramp-down: the last stage's users spread over
    ``ramp_down_s``."""
    if not stages or ramp_down_s <= 0:
        return 0.0
    return stages[-1].users / ramp_down_s


def sign_off_end_s(stages: Sequence[Stage], ramp_down_s: float, stop_timeout_s: float) -> float:
    """The latest the load shape runs: the stages, the ramp-down, then at most one stop
    timeout while agents are still leaving (it ends earlier once nobody is left)."""
    return total_duration_s(stages) + ramp_down_s + stop_timeout_s


def sign_offs_due(agents: int, ramp_down_s: float, since_s: float) -> int:
    """How many of the ``agents`` a process held when the sign-off began must have been
    asked to leave ``since_s`` seconds into it: the first at once, then one every
    ``ramp_down_s / agents`` seconds, all of them by the ramp-down's end."""
    if since_s < 0 or agents <= 0:
        return 0
    if ramp_down_s <= 0 or since_s >= ramp_down_s:
        return agents
    return min(agents, math.floor(since_s * agents / ramp_down_s) + 1)


def load_at(
    stages: Sequence[Stage], ramp_down_s: float, t: float, *, stop_timeout_s: float = 0.0
) -> tuple[int, float] | None:
    """Users and spawn rate ``t`` seconds after the start, or None once the run is over.

    During the stages: the stage in force. Then, while the agents sign off (the
    ramp-down and up to ``stop_timeout_s`` more), the last stage's: the load processes
    ask their agents to leave (:func:`sign_offs_due`), Locust does not. After that the
    run ends (Locust stops whoever is still in, each with its stop timeout). With no
    ramp-down, or nobody to sign off, the run ends with the last stage.
    """
    at = stage_at(stages, t)
    if at is not None:
        return at.users, at.spawn_rate
    if sign_off_rate(stages, ramp_down_s) > 0 and t <= sign_off_end_s(
        stages, ramp_down_s, stop_timeout_s
    ):
        last = stages[-1]
        return last.users, last.spawn_rate
    return None


def ramp_time_s(stages: Sequence[Stage]) -> float:
    """Seconds needed to spawn the first stage's users (``users / spawn_rate``)."""
    if not stages:
        return 0.0
    first = stages[0]
    return first.users / first.spawn_rate


def offered_ops_per_s(
    stages: Sequence[Stage], *, ops_per_cycle: float, cycles_per_user_per_s: float | None
) -> list[float | None]:
    """Operations per second each stage asks for, once its users are all running.

    Open workload (stage ``rate_per_s`` set): ``rate_per_s * ops_per_cycle``.
    Closed workload: ``users * cycles_per_user_per_s * ops_per_cycle``, where the
    caller gives the cycle rate of one user (1 / mean cycle time; None = unknown,
    then the entry is None). The closed figure is an upper bound: slow answers
    lengthen each cycle and lower what the users can offer.
    """
    offered: list[float | None] = []
    for stage in stages:
        if stage.rate_per_s is not None:
            offered.append(stage.rate_per_s * ops_per_cycle)
        elif cycles_per_user_per_s is None:
            offered.append(None)
        else:
            offered.append(stage.users * cycles_per_user_per_s * ops_per_cycle)
    return offered
