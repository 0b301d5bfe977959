"""Target outages, from the agents' ``target_unreachable`` incident spans: one line
each for the report, e.g. ``target unreachable 09:52:00-09:52:06 UTC (6.1 s, 20
agents); 20 agents re-logged in; first operation 0.4 s after it returned``.

Each agent writes one span per outage: from its first request that got no answer
to its first that got one (docs/run-folder.md). Spans that overlap (or follow each
other within :data:`JOIN_GAP_S`) are one outage. It began with the earliest span;
the target was back when the first agent got an answer (the others may still have
been backing off). Re-logins are counted from ``relogin`` incidents between the
outage's start and :data:`RELOGIN_WITHIN_S` after its end; the first operation is
the first ``ok`` row sent after the target was back.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gwsload.analysis.digest_plan import JOIN_GAP_S, outage_spans, span_ends_s
from gwsload.analysis.load import RunFolder
from gwsload.contract import numbers

__all__ = ["JOIN_GAP_S", "RELOGIN_WITHIN_S", "Outage", "outages"]

#: re-logins this long after the target was back are still the outage's
RELOGIN_WITHIN_S = 60.0


@dataclass(frozen=True, slots=True)
class Outage:
    """One outage; times in seconds since the run's t0."""

    start_s: float
    back_s: float
    agents: int
    relogins: int
    #: the first ok operation after ``back_s``, seconds after it (None: none came)
    first_operation_after_s: float | None
    t0: float

    def line(self) -> str:
        def clock(t_s: float) -> str:
            return time.strftime("%H:%M:%S", time.gmtime(self.t0 + t_s))

        first = (
            "no operation after it returned"
            if self.first_operation_after_s is None
            else f"first operation {numbers.duration_s(self.first_operation_after_s)} "
            "after it returned"
        )
        return (
            f"target unreachable {clock(self.start_s)}-{clock(self.back_s)} UTC "
            f"({numbers.duration_s(self.back_s - self.start_s)}, {self.agents} agents); "
            f"{self.relogins} agents re-logged in; {first}"
        )


def outages(run: RunFolder) -> list[Outage]:
    """The run's outages, oldest first (see module doc)."""
    incidents = run.incidents
    spans, groups = outage_spans(incidents)
    if spans.empty:
        return []
    starts, ends = spans["t_s"].to_numpy(dtype=float), span_ends_s(spans)
    relogin = incidents[incidents["kind"] == "relogin"]
    # the first ok operation at or after each return, found while the events streamed
    first_ok = dict(zip(run.digest.plan.first_ok_after_s, run.digest.first_ok_after, strict=True))
    found = []
    agents = spans["agent"].to_numpy()
    for members in groups:
        start, back = float(starts[members].min()), float(ends[members].min())
        window = relogin[(relogin["t_s"] >= start) & (relogin["t_s"] <= back + RELOGIN_WITHIN_S)]
        after = first_ok.get(back, np.inf)
        found.append(
            Outage(
                start_s=start,
                back_s=back,
                agents=len(set(agents[members])),
                relogins=int(pd.Series(window["agent"]).nunique()),
                first_operation_after_s=float(after - back) if np.isfinite(after) else None,
                t0=run.t0,
            )
        )
    return found
