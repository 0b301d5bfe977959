"""Which lost notifications a measuring process of the run may have caused itself.

A notification is ``lost`` when it has not arrived ``notification_timeout_s`` after
its request was sent. A measuring process (a load-generator worker, the embedded
simulator) whose event loop stalled while the operation waited can make it so on
its own: the request was answered, the notification published or read, seconds late.
The target is then not to blame, and the run's verdict must say so next to the count.

The rule: a loss is put down to a process when one of its health samples shows a
worst event-loop lag of at least :data:`STALL_SHARE` of the notification timeout (1 s
of a 10 s timeout: a wake-up that late is a stall of the same order as the loss, not
the milliseconds of a busy machine) and that stall may have overlapped the wait (from
the request's send to its deadline). A sample at ``ts`` reports the worst lag ``L``
seen in the interval before it, and a lag is seen only when the stall ends, so the
stall lay within ``[ts - interval - L, ts]``: a stalled process's sampler may write
its row up to an interval after the stall, long after the deadline. The loss still
fails the run; the line names the process, its worst lag and how long it waited for
a core.

:func:`attribute_losses` is pure (the samples and send times passed in);
:func:`loss_causes_in` applies it to a run folder (``generator.csv``,
``simulator.csv``, ``events/``) for the run's verdict and the report alike.
"""

from __future__ import annotations

import bisect
import csv
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from gwsload.contract import numbers
from gwsload.contract.saturation import SIMULATOR_HEALTH_FILE
from gwsload.contract.segments import segment_paths

__all__ = [
    "SAMPLE_INTERVAL_S",
    "STALL_SHARE",
    "HealthPoint",
    "LossCauses",
    "attribute_losses",
    "loss_causes_in",
    "read_health_points",
    "read_lost_sent_ts",
]

#: a sample whose worst event-loop lag is at least this share of the notification
#: timeout counts as a stall that can lose a notification by itself
STALL_SHARE = 0.1
#: how often the load processes and the embedded simulator sample their health (s)
SAMPLE_INTERVAL_S = 2.0


@dataclass(frozen=True, slots=True)
class HealthPoint:
    """One health sample of a measuring process: its time (UNIX s), the worst
    event-loop lag of its interval (ms) and the % of it spent waiting for a core."""

    ts: float
    loop_lag_ms: float
    cpu_wait_percent: float = math.nan


@dataclass(frozen=True, slots=True)
class LossCauses:
    """How many of ``lost`` losses waited through a stall of a measuring process, and
    for each such process its share and its worst figures while they waited."""

    lost: int
    explained: int
    #: process -> (losses it stalled, worst lag ms, mean CPU wait % of those samples)
    processes: dict[str, tuple[int, float, float]]

    def line(self) -> str | None:
        """One line for the verdict (None when no loss waited through a stall)."""
        if not self.explained:
            return None
        parts = []
        for name, (count, worst_ms, wait) in sorted(
            self.processes.items(), key=lambda item: -item[1][0]
        ):
            waited = (
                ""
                if math.isnan(wait)
                else f", waiting for a CPU {numbers.significant(wait, 2)} % of the time"
            )
            parts.append(
                f"{name}: {numbers.count(count)}, event-loop lag up to "
                f"{numbers.latency_ms(worst_ms)}{waited}"
            )
        return (
            f"{numbers.count(self.explained)} of the {numbers.count(self.lost)} lost waited "
            f"while a measuring process stalled ({'; '.join(parts)}): lost by the test "
            "set-up, not evidence against the target"
        )


def attribute_losses(
    lost_sent_ts: Sequence[float],
    samples: Mapping[str, Sequence[HealthPoint]],
    *,
    notification_timeout_s: float,
    sample_interval_s: float,
) -> LossCauses:
    """The rule of the module doc over the lost operations' send times (UNIX s)."""
    stall_ms = STALL_SHARE * notification_timeout_s * 1000.0
    ordered = {name: sorted(points, key=lambda p: p.ts) for name, points in samples.items()}
    times = {name: [p.ts for p in points] for name, points in ordered.items()}
    found: dict[str, list[HealthPoint]] = {}
    counts: dict[str, int] = {}
    explained = 0
    longest_s = {
        name: max((p.loop_lag_ms for p in points), default=0.0) / 1000.0
        for name, points in ordered.items()
    }
    for sent in lost_sent_ts:
        deadline = sent + notification_timeout_s
        blamed = False
        for name, points in ordered.items():
            lo = bisect.bisect_left(times[name], sent)
            hi = bisect.bisect_right(times[name], deadline + sample_interval_s + longest_s[name])
            stalls = [
                p
                for p in points[lo:hi]
                if p.loop_lag_ms >= stall_ms
                and p.ts - sample_interval_s - p.loop_lag_ms / 1000.0 <= deadline
            ]
            if stalls:
                blamed = True
                counts[name] = counts.get(name, 0) + 1
                found.setdefault(name, []).extend(stalls)
        explained += blamed
    processes = {}
    for name, stalls in found.items():
        waits = [p.cpu_wait_percent for p in stalls if not math.isnan(p.cpu_wait_percent)]
        processes[name] = (
            counts[name],
            max(p.loop_lag_ms for p in stalls),
            sum(waits) / len(waits) if waits else math.nan,
        )
    return LossCauses(len(lost_sent_ts), explained, processes)


def read_lost_sent_ts(run_dir: str | os.PathLike[str]) -> list[float]:
    """When each lost operation of the run was sent (UNIX s), from ``events/``;
    unreadable segments are skipped (the verdict already counts the losses)."""
    sent: list[float] = []
    for file in segment_paths(run_dir, "events"):
        try:
            table = pq.read_table(file, columns=["ts", "outcome"])
        except (pa.ArrowInvalid, OSError, KeyError):
            continue
        lost = table.filter(pc.equal(pc.cast(table["outcome"], pa.string()), "lost"))
        sent.extend(float(ts) for ts in lost["ts"].to_pylist() if ts is not None)
    return sent


def read_health_points(run_dir: str | os.PathLike[str]) -> dict[str, list[HealthPoint]]:
    """The measuring processes' health samples of a run folder: one series per load
    process (``generator.csv``, "load process <worker>") and the embedded simulator's
    (``simulator.csv``); a file absent (external target) or unreadable gives none."""
    samples: dict[str, list[HealthPoint]] = {}
    for name, named in (("generator.csv", True), (SIMULATOR_HEALTH_FILE, False)):
        try:
            with open(os.path.join(run_dir, name), encoding="utf-8", newline="") as file:
                for row in csv.DictReader(file):
                    key = f"load process {row.get('worker')}" if named else "embedded simulator"
                    samples.setdefault(key, []).append(
                        HealthPoint(
                            float(row["ts"]),
                            float(row.get("loop_lag_ms") or "nan"),
                            float(row.get("cpu_wait_percent") or "nan"),
                        )
                    )
        except (OSError, KeyError, ValueError):
            continue
    return samples


def loss_causes_in(run_dir: str | os.PathLike[str], *, notification_timeout_s: float) -> LossCauses:
    """The rule of the module doc applied to a run folder's lost operations."""
    return attribute_losses(
        read_lost_sent_ts(run_dir),
        read_health_points(run_dir),
        notification_timeout_s=notification_timeout_s,
        sample_interval_s=SAMPLE_INTERVAL_S,
    )
