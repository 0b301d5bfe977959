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

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from gwsload.analysis.digest import EventDigest, SignedHistogram
from gwsload.analysis.hdr import signed_percentile_us
from gwsload.contract import numbers

__all__ = [
    "NOT_AVAILABLE",
    "RESOLUTION_MS",
    "SPLIT_STATS",
    "LatencySplit",
    "digest_offset_bounds_ms",
    "least_offset_ms",
    "least_offset_of_bounds_ms",
    "offset_bounds_ms",
    "split_latency",
    "split_over_time",
    "window_split",
]

#: resolution of serverGenerationTimestamp (integer milliseconds in GWS)
RESOLUTION_MS = 1.0
NOT_AVAILABLE = "not available from this target"
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
    return least_offset_of_bounds_ms(*offset_bounds_ms(notify_ms, server_ms))


def least_offset_of_bounds_ms(low: float, high: float) -> float:
    """:func:`least_offset_ms` from the offset's bounds (NaN when they contradict)."""
    if not low <= high:
        return float("nan")
    return float(min(max(0.0, low), high))


def digest_offset_bounds_ms(digest: EventDigest) -> tuple[float, float]:
    """:func:`offset_bounds_ms` of a run's ok rows, from the exact minima its digest
    recorded (NaN when no ok row has both values)."""
    windows = digest.split_windows
    if windows is None or not math.isfinite(windows.server_min_ms):
        return float("nan"), float("nan")
    return -windows.delivery_min_ms - RESOLUTION_MS, windows.server_min_ms + RESOLUTION_MS


def split_latency(digest: EventDigest) -> LatencySplit:
    """The split of the ok operations of the measured period, from the run's digest
    (HDR histograms per operation: the offset bounds are exact minima; the
    percentiles within 0.1 %)."""
    measured = digest.split_measured
    server: dict[str, SignedHistogram] = {}
    delivery: dict[str, SignedHistogram] = {}
    if measured is not None:
        server = {digest.operations[c]: h for c, h in measured.server.items() if h.count}
        delivery = {digest.operations[c]: h for c, h in measured.delivery.items() if h.count}
    samples = sum(h.count for h in server.values())
    if not samples:
        return LatencySplit(
            False,
            f"{NOT_AVAILABLE} (its notifications carry no "
            "metrics.eventProcessing.serverGenerationTimestamp)",
        )
    low = -min(h.minimum for h in delivery.values()) - RESOLUTION_MS
    high = min(h.minimum for h in server.values()) + RESOLUTION_MS
    if low > high:
        return LatencySplit(
            False,
            f"{NOT_AVAILABLE}: the bounds on the clock offset contradict each other "
            f"(low {numbers.signed(low, 'ms')} above high {numbers.signed(high, 'ms')}; "
            "a clock was stepped during the run?)",
            samples=samples,
        )
    offset = (low + high) / 2.0
    rows = []
    for operation in ["*", *sorted(server)]:
        parts = sorted(server) if operation == "*" else [operation]
        # a shift moves every percentile by the same amount: shifted after the buckets
        server_p = _percentiles_ms([server[o] for o in parts]) - offset
        delivery_p = _percentiles_ms([delivery[o] for o in parts]) + offset
        rows.append(
            {
                "operation": operation,
                "count": sum(server[o].count for o in parts),
                "server_p50_ms": float(server_p[0]),
                "server_p99_ms": float(server_p[1]),
                "delivery_p50_ms": float(delivery_p[0]),
                "delivery_p99_ms": float(delivery_p[1]),
            }
        )
    return LatencySplit(
        True,
        "clock offset bounded by the minima of generated - sent and arrived - generated",
        samples=samples,
        offset_low_ms=low,
        offset_high_ms=high,
        uncertainty_ms=(high - low) / 2.0,
        per_operation=pd.DataFrame(rows),
    )


def _percentiles_ms(histograms: list[SignedHistogram]) -> npt.NDArray[np.float64]:
    """p50 and p99 (ms) of the histograms added together."""
    negative = np.sum([h.negative for h in histograms], axis=0)
    positive = np.sum([h.positive for h in histograms], axis=0)
    result: npt.NDArray[np.float64] = signed_percentile_us(negative, positive, [50, 99]) / 1000.0
    return result


def window_split(
    notify_ms: npt.NDArray[np.float64], server_ms: npt.NDArray[np.float64], offset_ms: float
) -> dict[str, float]:
    """Server and delivery p50/p99 of one window's ok notifications (``notify_ms`` and the
    raw ``server_ms`` of the same rows), split at the run's clock offset, with exact
    (interpolated) percentiles; :func:`split_over_time` gives the same from HDR buckets."""
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
    digest: EventDigest, split: LatencySplit, *, window_s: float
) -> pd.DataFrame | None:
    """Server and delivery p50/p99 per window (warm-up included, all operations pooled)
    of the ok rows with a server stamp, from the digest's per-window HDR histograms of
    the raw parts (:attr:`EventDigest.split_windows`), split at ``split``'s offset (a
    shift moves every percentile by the same amount); None when the split is not
    available. Columns: window_s (start), count, :data:`SPLIT_STATS`."""
    if not split.available or digest.split_windows is None:
        return None
    if window_s != digest.plan.window_s:
        raise ValueError(f"the digest's windows are {digest.plan.window_s} s, not {window_s} s")
    windows = digest.split_windows
    rows = []
    for window in np.flatnonzero(windows.count).tolist():
        server = _window_percentiles_ms(windows.server, window)
        delivery = _window_percentiles_ms(windows.delivery, window)
        rows.append(
            {
                "window_s": window * window_s,
                "count": float(windows.count[window]),
                "server_p50_ms": float(server[0]) - split.offset_ms,
                "server_p99_ms": float(server[1]) - split.offset_ms,
                "delivery_p50_ms": float(delivery[0]) + split.offset_ms,
                "delivery_p99_ms": float(delivery[1]) + split.offset_ms,
            }
        )
    return pd.DataFrame(rows, columns=["window_s", "count", *SPLIT_STATS])


def _window_percentiles_ms(table: npt.NDArray[np.int64], window: int) -> npt.NDArray[np.float64]:
    """p50 and p99 (ms) of one window of a (sign, window, bucket) table."""
    result: npt.NDArray[np.float64] = (
        signed_percentile_us(table[0, window], table[1, window], [50, 99]) / 1000.0
    )
    return result
