"""Latency, errors, losses, late and duplicate notifications per server node, when the
target names its nodes.

A cluster of the simulator (``gwsload simulate --nodes``) names the node that answered
each request (``X-Gwsload-Node``, run-folder column ``node``). An operation belongs to
the node that answered its HTTP request; one without a response (transport error)
belongs to no node (``-``). A late or duplicate notification belongs to the node that
answered its operation's request: the anomalies/ column ``node`` or, where that is
empty (a copy that came before its operation's HTTP response, which names the node) or
absent (older folders), the node of the agent's event sent at the anomaly's arrival
minus its age. Only the measured period counts (operations by send time, notifications by
arrival, as in the headline). With fewer than two nodes named there is nothing to
break down (``None``). The segments are streamed batch by batch into counts and HDR
histograms per node (percentiles within 0.1 % of the exact values).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from gwsload.analysis.digest import add_counts, hdr_index_ms
from gwsload.analysis.hdr import COUNTS_LEN, percentile_us
from gwsload.analysis.load_events import BATCH_ROWS
from gwsload.contract.segments import segment_paths
from gwsload.errors import ConfigError

__all__ = ["per_node"]

_COLUMNS = ["ts", "agent", "outcome", "response_ms", "notify_ms", "node"]
#: an anomaly's operation is the agent's event sent at (arrival - age): the same clock
#: reading, so only float rounding separates them (microseconds)
_SAME_SEND_US = 1000
_ERRORS = ("http_error", "api_error", "transport_error", "async_error")


class _Node:
    """One node's counts and HDR histograms (notification: ok rows; response: all)."""

    def __init__(self) -> None:
        self.operations = self.ok = self.errors = self.lost = 0
        self.notify = np.zeros(COUNTS_LEN, np.int64)
        self.response = np.zeros(COUNTS_LEN, np.int64)

    def add(self, frame: pd.DataFrame) -> None:
        outcome = frame["outcome"].astype(str).to_numpy()
        ok = outcome == "ok"
        self.operations += len(frame)
        self.ok += int(ok.sum())
        self.errors += int(np.isin(outcome, _ERRORS).sum())
        self.lost += int((outcome == "lost").sum())
        notify = frame["notify_ms"].to_numpy(np.float64)[ok]
        response = frame["response_ms"].to_numpy(np.float64)
        add_counts(self.notify, hdr_index_ms(notify[np.isfinite(notify)]))
        add_counts(self.response, hdr_index_ms(response[np.isfinite(response)]))

    def row(self, node: str, strays: dict[tuple[str, str], int]) -> dict[str, object]:
        notify = percentile_us(self.notify, [50, 99]) / 1000.0
        response = percentile_us(self.response, [99]) / 1000.0
        return {
            "node": node,
            "operations": self.operations,
            "ok": self.ok,
            "errors": self.errors,
            "lost": self.lost,
            "late": strays.get((node, "late"), 0),
            "duplicate": strays.get((node, "duplicate"), 0),
            "notify_p50_ms": float(notify[0]),
            "notify_p99_ms": float(notify[1]),
            "response_p99_ms": float(response[0]),
        }


def per_node(
    path: Path,
    *,
    t0: float,
    from_s: float,
    to_s: float,
    anomalies: pd.DataFrame | None = None,
) -> pd.DataFrame | None:
    """One row per node: node, operations, ok, errors, lost, late, duplicate, notify
    p50/p99 (ok rows), response p99 (HDR buckets: within 0.1 %); None when the run names
    fewer than two nodes. ``anomalies``: RunFolder.anomalies (t_s, kind, node).
    Streams the columns it needs, batch by batch."""
    kept = _strays(anomalies, from_s, to_s)
    unnamed = _OperationFinder(kept, t0)
    nodes: dict[str, _Node] = {}
    for file in segment_paths(path, "events"):
        try:
            if "node" not in pq.read_schema(file).names:
                continue
            batches = pq.ParquetFile(file).iter_batches(batch_size=BATCH_ROWS, columns=_COLUMNS)
            for batch in batches:
                frame = batch.to_pandas()
                frame["node"] = frame["node"].fillna("").astype(str).replace("", "-")
                unnamed.look_in(frame)
                t_s = frame["ts"].to_numpy() - t0
                frame = frame[(t_s >= from_s) & (t_s < to_s)]
                names = frame["node"].to_numpy()
                for node in np.unique(names).tolist():
                    nodes.setdefault(node, _Node()).add(frame[names == node])
        except (pa.ArrowInvalid, OSError) as exc:
            raise ConfigError(f"{file}: unreadable events segment ({exc})") from None
    if len([n for n in nodes if n != "-"]) < 2:
        return None
    strays = _count_strays(kept, unnamed.nodes())
    return pd.DataFrame([nodes[n].row(n, strays) for n in sorted(nodes)])


def _strays(anomalies: pd.DataFrame | None, from_s: float, to_s: float) -> pd.DataFrame:
    """The late and duplicate notifications that arrived in [from_s, to_s)."""
    if anomalies is None or not len(anomalies):
        return pd.DataFrame({"t_s": [], "kind": []})
    t_s = anomalies["t_s"].to_numpy()
    kinds = anomalies["kind"].isin(("late", "duplicate")).to_numpy()
    return anomalies[(t_s >= from_s) & (t_s < to_s) & kinds].reset_index(drop=True)


def _count_strays(kept: pd.DataFrame, found: npt.NDArray[np.object_]) -> dict[tuple[str, str], int]:
    """(node, kind) -> count: the anomaly's own node, else the node of its operation."""
    named = (
        kept["node"].fillna("").astype(str).to_numpy()
        if "node" in kept
        else np.full(len(kept), "", dtype=object)
    )
    nodes = np.where(named == "", found, named)
    counts: dict[tuple[str, str], int] = {}
    for node, kind in zip(nodes, kept["kind"].astype(str), strict=True):
        counts[str(node), kind] = counts.get((str(node), kind), 0) + 1
    return counts


class _OperationFinder:
    """Per anomaly, the node of the agent's event sent at its arrival minus its age
    (``-`` when none is found), looked up batch by batch as the events stream by: the
    nearest send time within :data:`_SAME_SEND_US` wins."""

    def __init__(self, kept: pd.DataFrame, t0: float) -> None:
        self.found = np.full(len(kept), "-", dtype=object)
        self.best_us = np.full(len(kept), np.inf)
        usable = len(kept) and "agent" in kept and "age_ms" in kept
        send_s = (
            kept["t_s"].to_numpy() + t0 - kept["age_ms"].to_numpy() / 1000.0
            if usable
            else np.zeros(0)
        )
        known = np.isfinite(send_s)
        self.wanted = pd.DataFrame(
            {
                "us": np.round(send_s[known] * 1e6).astype(np.int64),
                "agent": kept["agent"].astype(str).to_numpy()[known] if usable else [],
                "order": np.flatnonzero(known),
            }
        ).sort_values("us")

    def look_in(self, frame: pd.DataFrame) -> None:
        if not len(self.wanted) or not len(frame):
            return
        events = pd.DataFrame(
            {
                "sent_us": np.round(frame["ts"].to_numpy() * 1e6).astype(np.int64),
                "agent": frame["agent"].astype(str).to_numpy(),
                "node": frame["node"].to_numpy(),
            }
        )
        events["us"] = events["sent_us"]
        found = pd.merge_asof(
            self.wanted,
            events.sort_values("us"),
            on="us",
            by="agent",
            tolerance=_SAME_SEND_US,
            direction="nearest",
        )
        hit = found["node"].notna() & (found["node"] != "-")
        order = found.loc[hit, "order"].to_numpy()
        distance = np.abs(found.loc[hit, "sent_us"].to_numpy() - found.loc[hit, "us"].to_numpy())
        better = distance < self.best_us[order]
        self.best_us[order[better]] = distance[better]
        self.found[order[better]] = found.loc[hit, "node"].to_numpy()[better]

    def nodes(self) -> npt.NDArray[np.object_]:
        return self.found
