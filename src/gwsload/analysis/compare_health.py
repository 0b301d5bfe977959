"""Compare never blames the target for the generator: inconclusive verdicts.

When the measuring side of the two runs differed materially
(gwsload.contract.environment.health_differences: e.g. the generator's event-loop
lag p99 or the CPU steal differing by more than a factor and a floor), a difference
in what the generator measured end to end may be the machine's. Then:

- the tails (p95, p99, p99.9) of notification and HTTP latency and of the
  notification's delivery time (``delivery_ms``, it ends at the generator) are
  *inconclusive*:
  generator lag lands first and fully in the tails;
- their medians are inconclusive when they moved by no more than the gap in generator
  (or simulator) lag p99: a gap that large could have moved them;
- in a closed workload, throughput is inconclusive (it follows the latencies);
- the server-side part of the notification latency (``server_notify_ms``: request
  sent until the server's publish timestamp) is judged as usual: generator lag does
  not make a server publish later. Unless the server is the embedded simulator on
  the same machine: then it is inconclusive when the simulator's own health differed,
  or, when its health was not recorded, when the generator's did (the same machine
  noise reached both);
- error and lost ratios are judged as usual.

Whatever the materiality rule says, a latency verdict (end to end, or the embedded
simulator's server-side part) is inconclusive when the latency moved by no more than
the gap between the two sides' event-loop lag p99 (gwsload.contract.environment.lag_gap):
on a quiet machine a 4 ms lag gap is under the floor, yet it can double a 2 ms
response time.

The exit code follows only conclusive verdicts (:func:`exit_code`).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from gwsload.analysis.environment import health_of
from gwsload.analysis.load import RunFolder
from gwsload.contract import numbers
from gwsload.contract.environment import HealthDifference, health_differences, lag_gap
from gwsload.errors import EXIT_FAILED, EXIT_INCONCLUSIVE, EXIT_OK

__all__ = [
    "DELIVERY_METRIC",
    "END_TO_END_METRICS",
    "SERVER_METRIC",
    "TAIL_STATS",
    "exit_code",
    "judge_health",
]

#: the server's publish timestamp until the notification arrived (gwsload.analysis.compare)
DELIVERY_METRIC = "delivery_ms"
#: ended by the generator (a response or a notification arriving): its lag lands in them
END_TO_END_METRICS = ("notify_ms", "response_ms", DELIVERY_METRIC)
TAIL_STATS = ("p95", "p99", "p99.9")
#: request sent until the server's publish timestamp (gwsload.analysis.load)
SERVER_METRIC = "server_notify_ms"


def _why(differences: Sequence[HealthDifference]) -> str:
    return "; ".join(d.reason for d in differences)


def judge_health(
    table: pd.DataFrame, baseline: Sequence[RunFolder], candidate: Sequence[RunFolder]
) -> pd.DataFrame:
    """``table`` with verdicts the measuring side may explain made ``inconclusive`` and a
    ``reason`` column (empty when conclusive); the differences go in attrs."""
    healths = ([health_of(run) for run in baseline], [health_of(run) for run in candidate])
    differences = health_differences(*healths)
    out = table.copy()
    if "reason" not in out:
        out["reason"] = ""
    out.attrs = dict(table.attrs)
    out.attrs["health_differences"] = [d.reason for d in differences]
    _within_lag_gap(out, *lag_gap(*healths), baseline, candidate)
    if not differences:
        return out
    why = _why(differences)
    lag_gap_ms = max(
        (abs(d.baseline - d.candidate) for d in differences if d.measure.unit == "ms"),
        default=0.0,
    )
    closed = all(run.workload_model == "closed" for run in (*baseline, *candidate))
    end_to_end = out["metric"].isin(END_TO_END_METRICS)
    tails = end_to_end & out["stat"].isin(TAIL_STATS)
    moved_ms = (out["candidate"] - out["baseline"]).abs()
    medians = end_to_end & (out["stat"] == "p50") & (moved_ms <= lag_gap_ms)
    throughput = (out["metric"] == "throughput") & closed
    runs = (*baseline, *candidate)
    embedded = all(
        (run.manifest.get("target") or {}).get("kind") == "embedded-simulator" for run in runs
    )
    simulator_measured = all("simulator" in health_of(run) for run in runs)
    simulator_differs = [d for d in differences if d.measure.section == "simulator"]
    server = (out["metric"] == SERVER_METRIC) & (
        bool(simulator_differs) or (embedded and not simulator_measured)
    )
    for mask, because in (
        (
            server,
            "the embedded simulator shares the generator's machine: "
            + _why(simulator_differs or differences),
        ),
        (tails, f"tail latency measured by a generator whose health differed: {why}"),
        (
            medians,
            f"moved by no more than the {numbers.latency_ms(lag_gap_ms)} gap in event-loop "
            f"lag: {why}",
        ),
        (throughput, f"closed workload: throughput follows the latencies; {why}"),
    ):
        hit = mask & out["verdict"].isin(("worse", "better", "same"))
        out.loc[hit, "reason"] = because
        out.loc[hit, "verdict"] = "inconclusive"
    return out


def _within_lag_gap(
    out: pd.DataFrame,
    gap_ms: float,
    why: str,
    baseline: Sequence[RunFolder],
    candidate: Sequence[RunFolder],
) -> None:
    """Latency verdicts whose move fits in the two sides' lag gap become inconclusive."""
    if gap_ms <= 0:
        return
    runs = (*baseline, *candidate)
    embedded = all(
        (run.manifest.get("target") or {}).get("kind") == "embedded-simulator" for run in runs
    )
    latency = out["metric"].isin(END_TO_END_METRICS) | ((out["metric"] == SERVER_METRIC) & embedded)
    moved_ms = (out["candidate"] - out["baseline"]).abs()
    hit = latency & out["verdict"].isin(("worse", "better")) & (moved_ms <= gap_ms)
    reason = f"moved by no more than the {numbers.latency_ms(gap_ms)} gap in event-loop lag: {why}"
    out.loc[hit, "reason"] = reason
    out.loc[hit, "verdict"] = "inconclusive"
    if hit.any():
        out.attrs["lag_gap"] = reason


def exit_code(table: pd.DataFrame) -> int:
    """1: a conclusive *worse*; 3: nothing conclusively worse but some verdict
    inconclusive (re-run on a quieter machine or with more runs); 0: otherwise."""
    verdicts = set(table["verdict"])
    if "worse" in verdicts:
        return EXIT_FAILED
    if "inconclusive" in verdicts:
        return EXIT_INCONCLUSIVE
    return EXIT_OK
