"""Latency, errors and losses per server node, when the target names its nodes.

A cluster of the simulator (``gwsload simulate --nodes``) names the node that answered
each request (``X-Gwsload-Node``, run-folder column ``node``). An operation belongs to
the node that answered its HTTP request; one without a response (transport error)
belongs to no node (``-``). Only the measured period counts. With fewer than two
nodes named there is nothing to break down (``None``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from gwsload.errors import ConfigError

__all__ = ["per_node"]

_COLUMNS = ["ts", "outcome", "response_ms", "notify_ms", "node"]
_ERRORS = ("http_error", "api_error", "transport_error", "async_error")


def per_node(path: Path, *, t0: float, from_s: float, to_s: float) -> pd.DataFrame | None:
    """One row per node: node, operations, ok, errors, lost, notify p50/p99 (ok rows),
    response p99; None when the run names fewer than two nodes."""
    frames = []
    for file in sorted((path / "events").glob("*.parquet")):
        try:
            if "node" not in pq.read_schema(file).names:
                continue
            frame = pq.read_table(file, columns=_COLUMNS).to_pandas()
        except (pa.ArrowInvalid, OSError) as exc:
            raise ConfigError(f"{file}: unreadable events segment ({exc})") from None
        t_s = frame["ts"].to_numpy() - t0
        frames.append(frame[(t_s >= from_s) & (t_s < to_s)])
    if not frames:
        return None
    events = pd.concat(frames, ignore_index=True)
    events["node"] = events["node"].fillna("").replace("", "-")
    if events.loc[events["node"] != "-", "node"].nunique() < 2:
        return None
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
                "notify_p50_ms": float(np.percentile(notify, 50)) if len(notify) else np.nan,
                "notify_p99_ms": float(np.percentile(notify, 99)) if len(notify) else np.nan,
                "response_p99_ms": float(np.percentile(response, 99)) if len(response) else np.nan,
            }
        )
    return pd.DataFrame(rows)
