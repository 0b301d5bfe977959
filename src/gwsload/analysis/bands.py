"""Latency bands: how many operations completed under each edge, Gatling style.

The edges come from the scenario's ``[report] latency_bands_ms`` (kept in the
manifest), else ``DEFAULT_LATENCY_BANDS_MS`` (800 and 1200 ms). The banded quantity
is the notification latency: an operation is complete when its notification
arrives. Operations without one (errors, lost) are counted as ``failed``. Counts
come from the events of the measured period (exact values, not HDR buckets).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from gwsload.analysis.digest_plan import band_edges_ms
from gwsload.analysis.load import RunFolder
from gwsload.analysis.metrics import ALL
from gwsload.contract import numbers

__all__ = ["band_edges_ms", "band_labels", "compute_bands"]

#: rows per pass: bounds the temporaries


def _ms(value: float) -> str:
    return numbers.latency_ms(value)


def band_labels(edges_ms: tuple[float, ...]) -> list[str]:
    """``t < 800 ms``, ``800 ms <= t < 1200 ms``, ``t >= 1200 ms``."""
    labels = [f"t < {_ms(edges_ms[0])}"]
    labels += [f"{_ms(a)} <= t < {_ms(b)}" for a, b in itertools.pairwise(edges_ms)]
    return [*labels, f"t >= {_ms(edges_ms[-1])}"]


def compute_bands(run: RunFolder, headline: pd.DataFrame) -> pd.DataFrame:
    """Per operation (and ``*``): operations, then the count in each band and ``failed``.

    From the events of the measured period, so the bands and ``failed`` add up to
    the headline's operations.
    """
    edges = band_edges_ms(run.manifest)
    labels = band_labels(edges)
    digest = run.digest
    names = digest.operations
    # counted while the events streamed (the plan's edges are this run's)
    counts = np.zeros((len(names) + 1, len(labels)), np.int64)
    seen = digest.bands[: len(names)]
    counts[: len(seen)] = seen
    counts[-1] = counts[:-1].sum(axis=0)
    index = {name: i for i, name in enumerate(names)} | {ALL: len(names)}
    rows_out = []
    for operation, row in headline.iterrows():
        banded = counts[index[str(operation)]] if str(operation) in index else counts[-1] * 0
        operations = int(row["operations"])
        rows_out.append(
            {
                "operation": str(operation),
                "operations": operations,
                **dict(zip(labels, banded.tolist(), strict=True)),
                "failed": operations - int(row["ok"]),
            }
        )
    return pd.DataFrame(rows_out)
