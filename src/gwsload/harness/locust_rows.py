"""Rows of Locust's statistics that are not HTTP requests.

The notification latency (``NOTIFY <type> <state>``) and the notification anomalies
(``ANOMALY <kind>``) get rows of their own in the Locust UI and CSVs, but they are
logged straight into their entries instead of through the ``request`` event: Locust
adds every request event into its ``Aggregated`` total, which drives the RPS header,
the Aggregated row and the charts, and those must count HTTP requests only. Entries,
errors and totals still travel from workers to the master by Locust's own report
(the total simply does not contain these rows).

A row without a measurement (a lost notification) is logged with
``response_time=None``: Locust counts the request (and its failure) without a
latency sample, so it does not pull the row's minimum or median down.
"""

from __future__ import annotations

import math
import re
from typing import Any

from locust.stats import RequestStats, StatsError

__all__ = ["PER_SECOND_KEPT_S", "log_apart", "row_error", "sample_ms", "trim_per_second"]

#: seconds of Locust's per-second counters kept: its current RPS reads the last 12
PER_SECOND_KEPT_S = 30
#: ids in error texts (call ids, connection ids, hex addresses): a new row each
_ID = re.compile(r"\b(?=[0-9A-Za-z-]*\d)[0-9A-Fa-f][0-9A-Za-z-]{7,}\b|\b\d{5,}\b")


def sample_ms(value_ms: float) -> float | None:
    """A latency for Locust, or None for no sample (NaN)."""
    return None if math.isnan(value_ms) else value_ms


def log_apart(
    stats: RequestStats,
    method: str,
    name: str,
    response_time_ms: float | None,
    error: Exception | None = None,
) -> None:
    """Log one row entry outside the Aggregated total (see module doc)."""
    entry: Any = stats.get(name, method)
    entry.log(response_time_ms, 0)
    if error is None:
        return
    entry.log_error(error)
    key = StatsError.create_key(method, name, error)
    found = stats.errors.get(key)
    if found is None:
        found = stats.errors[key] = StatsError(method, name, error)
    found.occurred()


def row_error(text: str) -> Exception:
    """The error Locust files a failure under, with ids taken out: Locust keeps one
    entry per distinct text for the whole run, so a text carrying a call id would add
    an entry per failure. The run folder's rows keep the full text."""
    return RuntimeError(_ID.sub("…", text))


def trim_per_second(stats: RequestStats, now_s: float) -> None:
    """Drop Locust's per-second request and failure counters older than
    ``PER_SECOND_KEPT_S``: each row keeps one key per second of the run otherwise
    (its current RPS reads only the last 12; totals are counted apart)."""
    oldest = int(now_s) - PER_SECOND_KEPT_S
    for entry in (*stats.entries.values(), stats.total):
        for counts in (entry.num_reqs_per_sec, entry.num_fail_per_sec):
            stale = [second for second in counts if second < oldest]
            for second in stale:
                del counts[second]
