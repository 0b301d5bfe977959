"""A run's hard deadline, and the one line that says a run passed it.

A Locust process of a run stops by itself (exit code 124) at its hard deadline: the
stages, the ramp-down, one stop timeout of waiting for agents still leaving after it
(:func:`gwsload.stages.sign_off_end_s`), one more for Locust's stop of any left, and
a margin after the start of its test; ``gwsload run`` stops Locust itself a little
later if it is still there. Either way the run did not complete: the console's end
line and the manifest's ``end_reason`` (for the report to read) say so with
:func:`deadline_passed`. Pure:
stdlib only.
"""

from __future__ import annotations

from gwsload.contract import numbers

__all__ = ["DEADLINE_MARGIN_S", "deadline_passed", "hard_deadline_s"]

#: beyond the stages and the agents' leave time: the master's wait for the workers'
#: final batches (stop timeout + 30 s) and the closing of the run folder
DEADLINE_MARGIN_S = 90.0


def hard_deadline_s(duration_s: float, stop_timeout_s: float) -> float:
    """How long after the start of its test a Locust process of the run may live
    (``duration_s``: the stages and the ramp-down; then the wait for agents still
    leaving and Locust's stop, a stop timeout each): past this it stops by itself,
    whatever happened to its launcher or its master."""
    return duration_s + 2 * stop_timeout_s + DEADLINE_MARGIN_S


def deadline_passed(
    deadline_s: float, *, stages_s: float, ramp_down_s: float, stop_timeout_s: float
) -> str:
    """The run was stopped at ``deadline_s`` after its start: one line, with its parts."""
    margin_s = deadline_s - stages_s - ramp_down_s - 2 * stop_timeout_s
    parts = " + ".join(
        f"{name} {numbers.duration_s(value)}"
        for name, value in (
            ("stages", stages_s),
            ("ramp-down", ramp_down_s),
            ("sign-off wait", stop_timeout_s),
            ("stop timeout", stop_timeout_s),
            ("margin", margin_s),
        )
    )
    return (
        f"the run passed its deadline of {numbers.duration_s(deadline_s)} ({parts}): "
        "Locust was stopped"
    )
