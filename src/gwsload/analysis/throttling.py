"""Requests the target throttled: HTTP 429 or 503 with ``Retry-After`` (a Jetty
DoSFilter in front of GWS throttles per session or IP, any request).

Counted over the whole run, in both tables: recording operations (events/, an
``http_error``) and setup and session steps (sessions/: log-in, Dial, ...). A row is
throttled when its error text carries the server's Retry-After
(gwsload.contract.status.is_throttled): a 503 without it is an outage, not this.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from gwsload.analysis.load import RunFolder
from gwsload.contract.status import RETRY_AFTER, THROTTLE_HTTP_STATUSES, is_throttled
from gwsload.errors import ConfigError

__all__ = ["count_throttled"]


def count_throttled(run: RunFolder) -> dict[str, int]:
    """``{"operations": n, "session_steps": m}`` throttled over the whole run."""
    operations = 0
    for file in sorted((run.path / "events").glob("*.parquet")):
        try:
            table = pq.read_table(file, columns=["http_status", "error"])
        except (pa.ArrowInvalid, OSError) as exc:
            raise ConfigError(f"{file}: unreadable events segment ({exc})") from None
        status = pc.is_in(table["http_status"], pa.array(THROTTLE_HTTP_STATUSES, pa.int32()))
        marked = pc.match_substring(pc.cast(table["error"], pa.string()), f"; {RETRY_AFTER} ")
        operations += int(pc.sum(pc.and_(status, pc.fill_null(marked, False))).as_py() or 0)
    sessions = run.sessions
    steps = (
        sum(
            is_throttled(int(status), str(error))
            for status, error in zip(
                sessions["http_status"].fillna(0).to_numpy(np.int64),
                sessions["error"].astype(str),
                strict=True,
            )
        )
        if len(sessions)
        else 0
    )
    return {"operations": operations, "session_steps": int(steps)}
