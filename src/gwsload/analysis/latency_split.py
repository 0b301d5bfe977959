"""Server time vs delivery: each notification latency split at the server's own timestamp.

GWS stamps each notification with ``serverGenerationTimestamp`` (its clock, whole
milliseconds); the harness keeps ``server_ms`` = that stamp minus the send time
(generator clock). With ``notify_ms`` = arrival minus send (generator clock)::

    server time    = sent -> generated  = server_ms - offset
    delivery time  = generated -> arrived = notify_ms - server_ms + offset

where ``offset`` is the server clock minus the generator clock. Neither clock is
trusted: the offset is bounded from both sides by the run itself. Every server time
and every delivery time is >= 0, so over the measured period::

    -min(notify_ms - server_ms) - res  <=  offset  <=  min(server_ms) + res

(``res`` = 1 ms, the stamp's resolution). The split uses the middle of that
interval and reports its half-width as the uncertainty of every server and
delivery figure. Narrow when some notification was generated soon after its
request and some other delivered soon after it was generated; never invented:
without the field the split is "not available from this target".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from gwsload.contract import numbers
from gwsload.errors import ConfigError

__all__ = [
    "NOT_AVAILABLE",
    "RESOLUTION_MS",
    "SPLIT_STATS",
    "LatencySplit",
    "least_offset_ms",
    "offset_bounds_ms",
    "split_latency",
    "split_over_time",
    "window_split",
]

#: resolution of serverGenerationTimestamp (integer milliseconds in GWS)
RESOLUTION_MS = 1.0
NOT_AVAILABLE = "not available from this target"
_COLUMNS = ["ts", "operation", "outcome", "notify_ms", "server_ms"]
#: the per-window figures of :func:`window_split`, in this order
SPLIT_STATS = ("server_p50_ms", "server_p99_ms", "delivery_p50_ms", "delivery_p99_ms")


@dataclass(frozen=True)
class LatencySplit:
    """The split of the measured period's ok notifications (ms)."""

    available: bool
    #: why not available, or how the offset was bounded
    reason: str
    samples: int = 0
    #: server clock minus generator clock: bounds and the estimate used
    offset_low_ms: float = float("nan")
    offset_high_ms: float = float("nan")
    #: half the width of the offset interval: +- on every server / delivery figure
    uncertainty_ms: float = float("nan")
    #: operation, count, server_p50_ms, server_p99_ms, delivery_p50_ms, delivery_p99_ms
    per_operation: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def offset_ms(self) -> float:
        return (self.offset_low_ms + self.offset_high_ms) / 2.0

    @property
    def sentence(self) -> str:
        if not self.available:
            return f"Server time vs delivery: {self.reason}."
        return (
            f"Server time vs delivery over {numbers.count(self.samples)} notifications: "
            f"every figure ± {numbers.latency_ms(self.uncertainty_ms)} (server clock minus "
            f"generator clock bounded to [{numbers.signed(self.offset_low_ms, 'ms')}, "
            f"{numbers.signed(self.offset_high_ms, 'ms')}] by the run itself)."
        )

    def to_json(self) -> dict[str, object]:
        return {
            "available": self.available,
            "reason": self.reason,
            "samples": self.samples,
            "offset_low_ms": self.offset_low_ms,
            "offset_high_ms": self.offset_high_ms,
            "uncertainty_ms": self.uncertainty_ms,
            "operations": self.per_operation.to_dict(orient="records"),
        }


def offset_bounds_ms(
    notify_ms: npt.NDArray[np.float64], server_ms: npt.NDArray[np.float64]
) -> tuple[float, float]:
    """The bounds (low, high) on the server clock minus the generator clock that the
    ok notifications (``notify_ms`` and raw ``server_ms`` of the same rows) allow; NaN
    when no row has both. See the module docstring."""
    keep = np.isfinite(notify_ms) & np.isfinite(server_ms)
    if not keep.any():
        return float("nan"), float("nan")
    low = -float((notify_ms[keep] - server_ms[keep]).min()) - RESOLUTION_MS
    high = float(server_ms[keep].min()) + RESOLUTION_MS
    return low, high


def least_offset_ms(
    notify_ms: npt.NDArray[np.float64], server_ms: npt.NDArray[np.float64]
) -> float:
    """The smallest clock offset these rows demand: 0 when the bounds hold it (clocks
    that agree as far as the run can tell: the parts taken as stamped), else the nearer
    bound (NaN when the bounds contradict each other or no row has both values). What
    ``compare`` corrects both parts by: unlike the middle of the bounds it does not
    move with a change in the server's floor between two runs, as long as the clocks
    agree."""
    low, high = offset_bounds_ms(notify_ms, server_ms)
    if not low <= high:
        return float("nan")
    return float(min(max(0.0, low), high))


def split_latency(path: Path, *, t0: float, from_s: float, to_s: float) -> LatencySplit:
    """The split of the ok operations sent in [from_s, to_s) (seconds since ``t0``) of
    the run folder at ``path``. Reads only the five columns it needs."""
    frames = []
    for file in sorted((path / "events").glob("*.parquet")):
        try:
            names = pq.read_schema(file).names
            if "server_ms" not in names:  # format 1, or written without the field
                continue
            table = pq.read_table(file, columns=_COLUMNS)
        except (pa.ArrowInvalid, OSError) as exc:
            raise ConfigError(f"{file}: unreadable events segment ({exc})") from None
        frame = table.to_pandas()
        t_s = frame["ts"].to_numpy() - t0
        keep = (
            (frame["outcome"].to_numpy() == "ok")
            & (t_s >= from_s)
            & (t_s < to_s)
            & np.isfinite(frame["server_ms"].to_numpy())
            & np.isfinite(frame["notify_ms"].to_numpy())
        )
        if keep.any():
            frames.append(frame.loc[keep, ["operation", "notify_ms", "server_ms"]])
    if not frames:
        return LatencySplit(
            False,
            f"{NOT_AVAILABLE} (its notifications carry no "
            "metrics.eventProcessing.serverGenerationTimestamp)",
        )
    events = pd.concat(frames, ignore_index=True)
    server_raw = events["server_ms"].to_numpy(np.float64)
    delivery_raw = events["notify_ms"].to_numpy(np.float64) - server_raw
    low, high = offset_bounds_ms(events["notify_ms"].to_numpy(np.float64), server_raw)
    if low > high:
        return LatencySplit(
            False,
            f"{NOT_AVAILABLE}: the bounds on the clock offset contradict each other "
            f"(low {numbers.signed(low, 'ms')} above high {numbers.signed(high, 'ms')}; "
            "a clock was stepped during the run?)",
            samples=len(events),
        )
    offset = (low + high) / 2.0
    events["server"] = server_raw - offset
    events["delivery"] = delivery_raw + offset
    rows = []
    for operation, group in [("*", events), *events.groupby("operation", sort=True)]:
        rows.append(
            {
                "operation": str(operation),
                "count": len(group),
                "server_p50_ms": float(np.percentile(group["server"], 50)),
                "server_p99_ms": float(np.percentile(group["server"], 99)),
                "delivery_p50_ms": float(np.percentile(group["delivery"], 50)),
                "delivery_p99_ms": float(np.percentile(group["delivery"], 99)),
            }
        )
    return LatencySplit(
        True,
        "clock offset bounded by the minima of generated - sent and arrived - generated",
        samples=len(events),
        offset_low_ms=low,
        offset_high_ms=high,
        uncertainty_ms=(high - low) / 2.0,
        per_operation=pd.DataFrame(rows),
    )


def window_split(
    notify_ms: npt.NDArray[np.float64], server_ms: npt.NDArray[np.float64], offset_ms: float
) -> dict[str, float]:
    """Server and delivery p50/p99 of one window's ok notifications (``notify_ms`` and the
    raw ``server_ms`` of the same rows), split at the run's clock offset: the per-window
    step of :func:`split_over_time`, kept apart so a streaming pass can call it."""
    keep = np.isfinite(notify_ms) & np.isfinite(server_ms)
    if not keep.any():
        return {"count": 0.0, **dict.fromkeys(SPLIT_STATS, float("nan"))}
    server = server_ms[keep] - offset_ms
    delivery = notify_ms[keep] - server_ms[keep] + offset_ms
    server_p50, server_p99 = np.percentile(server, [50, 99])
    delivery_p50, delivery_p99 = np.percentile(delivery, [50, 99])
    return {
        "count": float(keep.sum()),
        "server_p50_ms": float(server_p50),
        "server_p99_ms": float(server_p99),
        "delivery_p50_ms": float(delivery_p50),
        "delivery_p99_ms": float(delivery_p99),
    }


def split_over_time(
    events: pd.DataFrame, split: LatencySplit, *, window_s: float
) -> pd.DataFrame | None:
    """Server and delivery p50/p99 per window (warm-up included, all operations pooled)
    of the ok rows of ``events`` (``RunFolder.events``: t_s, outcome, notify_ms,
    server_notify_ms), split at ``split``'s offset; None when the split is not available.
    Columns: window_s (start), count, :data:`SPLIT_STATS`."""
    if not split.available or "server_notify_ms" not in events:
        return None
    ok = (events["outcome"] == "ok").to_numpy()
    t_s = events["t_s"].to_numpy()[ok]
    notify = events["notify_ms"].to_numpy(np.float64)[ok]
    server = events["server_notify_ms"].to_numpy(np.float64)[ok]
    window = np.floor(t_s / window_s).astype(np.int64)
    order = np.argsort(window, kind="stable")
    starts = [int(i) for i in np.flatnonzero(np.diff(window[order]) != 0) + 1]
    rows = []
    for start, stop in zip([0, *starts], [*starts, len(order)], strict=True):
        rows_of_window = order[start:stop]
        if not len(rows_of_window):
            continue
        figures = window_split(notify[rows_of_window], server[rows_of_window], split.offset_ms)
        if figures["count"]:
            rows.append({"window_s": window[rows_of_window[0]] * window_s, **figures})
    return pd.DataFrame(rows, columns=["window_s", "count", *SPLIT_STATS])
