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
from typing import Any

from locust.stats import RequestStats, StatsError

__all__ = ["log_apart", "sample_ms"]


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
