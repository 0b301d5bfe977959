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
break down (``None``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from gwsload.errors import ConfigError

__all__ = ["per_node"]

_COLUMNS = ["ts", "agent", "outcome", "response_ms", "notify_ms", "node"]
#: an anomaly's operation is the agent's event sent at (arrival - age): the same clock
#: reading, so only float rounding separates them (microseconds)
_SAME_SEND_US = 1000
_ERRORS = ("http_error", "api_error", "transport_error", "async_error")


def per_node(
    path: Path,
    *,
    t0: float,
    from_s: float,
    to_s: float,
    anomalies: pd.DataFrame | None = None,
) -> pd.DataFrame | None:
    """One row per node: node, operations, ok, errors, lost, late, duplicate, notify
    p50/p99 (ok rows), response p99; None when the run names fewer than two nodes.
    ``anomalies``: RunFolder.anomalies (t_s, kind, node)."""
    frames, sent = [], []
    for file in sorted((path / "events").glob("*.parquet")):
        try:
            if "node" not in pq.read_schema(file).names:
                continue
            frame = pq.read_table(file, columns=_COLUMNS).to_pandas()
        except (pa.ArrowInvalid, OSError) as exc:
            raise ConfigError(f"{file}: unreadable events segment ({exc})") from None
        t_s = frame["ts"].to_numpy() - t0
        frames.append(frame[(t_s >= from_s) & (t_s < to_s)])
        sent.append(frame[["ts", "agent", "node"]])
    if not frames:
        return None
    events = pd.concat(frames, ignore_index=True)
    events["node"] = events["node"].fillna("").replace("", "-")
    if events.loc[events["node"] != "-", "node"].nunique() < 2:
        return None
    strays = _late_and_duplicate(anomalies, from_s, to_s, t0, sent)
    rows = []
    for node, group in events.groupby("node", sort=True):
        ok = group[group["outcome"] == "ok"]
        notify = ok["notify_ms"].to_numpy(np.float64)
        response = group["response_ms"].dropna().to_numpy(np.float64)
        rows.append(
            {
                "node": str(node),
                "operations": len(group),
                "ok": len(ok),
                "errors": int(group["outcome"].isin(_ERRORS).sum()),
                "lost": int((group["outcome"] == "lost").sum()),
                "late": strays.get((str(node), "late"), 0),
                "duplicate": strays.get((str(node), "duplicate"), 0),
                "notify_p50_ms": float(np.percentile(notify, 50)) if len(notify) else np.nan,
                "notify_p99_ms": float(np.percentile(notify, 99)) if len(notify) else np.nan,
                "response_p99_ms": float(np.percentile(response, 99)) if len(response) else np.nan,
            }
        )
    return pd.DataFrame(rows)


def _late_and_duplicate(
    anomalies: pd.DataFrame | None,
    from_s: float,
    to_s: float,
    t0: float,
    sent: list[pd.DataFrame],
) -> dict[tuple[str, str], int]:
    """(node, kind) -> late / duplicate notifications that arrived in [from_s, to_s)."""
    if anomalies is None or not len(anomalies):
        return {}
    t_s = anomalies["t_s"].to_numpy()
    kept = anomalies[
        (t_s >= from_s) & (t_s < to_s) & anomalies["kind"].isin(("late", "duplicate")).to_numpy()
    ]
    named = (
        kept["node"].fillna("").astype(str).to_numpy()
        if "node" in kept
        else np.full(len(kept), "", dtype=object)
    )
    nodes = np.where(named == "", _node_of_operation(kept, t0, sent), named)
    counts: dict[tuple[str, str], int] = {}
    for node, kind in zip(nodes, kept["kind"].astype(str), strict=True):
        counts[str(node), kind] = counts.get((str(node), kind), 0) + 1
    return counts


def _node_of_operation(
    anomalies: pd.DataFrame, t0: float, sent: list[pd.DataFrame]
) -> npt.NDArray[np.object_]:
    """Per anomaly, the node of the agent's event sent at its arrival minus its age
    (``-`` when none is found)."""
    if not len(anomalies) or "agent" not in anomalies or "age_ms" not in anomalies:
        return np.full(len(anomalies), "-", dtype=object)
    events = pd.concat(sent, ignore_index=True)
    events = pd.DataFrame(
        {
            "us": np.round(events["ts"].to_numpy() * 1e6).astype(np.int64),
            "agent": events["agent"].astype(str).to_numpy(),
            "node": events["node"].fillna("").to_numpy(),
        }
    )
    send_s = anomalies["t_s"].to_numpy() + t0 - anomalies["age_ms"].to_numpy() / 1000.0
    known = np.isfinite(send_s)
    wanted = pd.DataFrame(
        {
            "us": np.round(send_s[known] * 1e6).astype(np.int64),
            "agent": anomalies["agent"].astype(str).to_numpy()[known],
            "order": np.flatnonzero(known),
        }
    )
    found = pd.merge_asof(
        wanted.sort_values("us"),
        events.sort_values("us"),
        on="us",
        by="agent",
        tolerance=_SAME_SEND_US,
        direction="nearest",
    )
    nodes = np.full(len(anomalies), "-", dtype=object)
    hit = found["node"].notna() & (found["node"] != "")
    nodes[found.loc[hit, "order"].to_numpy()] = found.loc[hit, "node"].to_numpy()
    return nodes
