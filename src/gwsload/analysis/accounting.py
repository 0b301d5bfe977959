"""Outcome accounting: every operation and every stray notification, by kind and cause.

Over the measured period: ``ok``; ``http_error`` by HTTP status; ``api_error`` by
GWS ``statusCode`` with its meaning; ``transport_error``; ``async_error`` by the
``ErrorMessage``'s ``errorCode``; ``lost``; and, from the
anomalies, ``late``, ``duplicate`` and ``unexpected``, each with its first examples.
"""

from __future__ import annotations

import math
from typing import cast

import pandas as pd

from gwsload.analysis.load import RunFolder
from gwsload.contract.operations import ANOMALY_KINDS, OUTCOME_KINDS
from gwsload.contract.status import status_meaning

__all__ = ["compute_outcomes"]

EXAMPLES = 3
OUTCOME_ORDER = (*OUTCOME_KINDS, *ANOMALY_KINDS)


def _detail(outcome: str, http_status: int, status_code: int) -> str:
    if outcome == "http_error":
        return f"HTTP {http_status}"
    if outcome == "api_error":
        meaning = status_meaning(status_code)
        http = f", HTTP {http_status}" if http_status and not 200 <= http_status < 300 else ""
        return f"statusCode {status_code} ({meaning}{http})"
    if outcome == "async_error":
        return f"ErrorMessage errorCode {status_code}"
    return ""


def _example_text(row: pd.Series) -> str:
    parts = [f"t={row['t_s']:.1f}s"]
    for key in ("agent", "call_id", "operation"):
        value = row.get(key)
        if isinstance(value, str) and value:
            parts.append(value)
    error = row.get("error")
    if isinstance(error, str) and error:
        parts.append(f"'{error}'")
    age = row.get("age_ms")
    if isinstance(age, float) and not math.isnan(age):
        parts.append(f"age {age:.0f} ms")
    state = row.get("recording_state")
    if isinstance(state, str) and state and row.get("kind") == "unexpected":
        parts.append(f"state {state}")
    return " ".join(parts)


def compute_outcomes(run: RunFolder) -> pd.DataFrame:
    """Rows: outcome, detail, count, share (of operations), examples (list of str)."""
    measured = run.digest.measured
    total = int(measured.counts.sum())
    outcomes = run.digest.outcomes
    ok_count = (
        int(measured.counts[:, outcomes.index("ok")].sum())
        if "ok" in outcomes and measured.counts.shape[1] > outcomes.index("ok")
        else 0
    )
    # the (few) other rows by status, counted while the events streamed; ok is one count
    kinds = [
        {"outcome": o, "http_status": h, "status_code": c, "count": n}
        for (o, h, c), n in sorted(run.digest.kinds.items())
    ]
    if ok_count:
        kinds.insert(0, {"outcome": "ok", "http_status": 200, "status_code": 0, "count": ok_count})
    grouped = pd.DataFrame(kinds, columns=["outcome", "http_status", "status_code", "count"])
    rows: list[dict[str, object]] = []
    grouped = grouped[grouped["count"] > 0]
    grouped["detail"] = [
        _detail(str(o), int(h), int(s))
        for o, h, s in zip(
            grouped["outcome"], grouped["http_status"], grouped["status_code"], strict=True
        )
    ]
    by_detail = grouped.groupby(["outcome", "detail"], observed=True)["count"].sum()
    examples = run.examples[
        run.examples["t_s"].between(run.warmup_s, run.measure_end_s, inclusive="left")
    ]
    if len(examples):
        examples = examples.assign(
            detail=[
                _detail(str(o), int(h), int(s))
                for o, h, s in zip(
                    examples["outcome"],
                    examples["http_status"],
                    examples["status_code"],
                    strict=True,
                )
            ]
        )
    for key, count in by_detail.items():
        outcome, detail = cast(tuple[str, str], key)
        sample = (
            examples[(examples["outcome"] == outcome) & (examples["detail"] == detail)]
            if len(examples)
            else examples
        )
        rows.append(
            {
                "outcome": outcome,
                "detail": detail,
                "count": int(count),
                "share": count / total if total else 0.0,
                "examples": [_example_text(r) for _, r in sample.head(EXAMPLES).iterrows()],
            }
        )
    anomalies = run.anomalies[
        run.anomalies["t_s"].between(run.warmup_s, run.measure_end_s, inclusive="left")
    ]
    for kind, group in anomalies.groupby("kind"):
        rows.append(
            {
                "outcome": str(kind),
                "detail": "notification",
                "count": len(group),
                "share": len(group) / total if total else 0.0,
                "examples": [_example_text(r) for _, r in group.head(EXAMPLES).iterrows()],
            }
        )
    table = pd.DataFrame(rows, columns=["outcome", "detail", "count", "share", "examples"])
    order = {name: i for i, name in enumerate(OUTCOME_ORDER)}
    table["_order"] = table["outcome"].map(lambda o: order.get(o, len(order)))
    return (
        table.sort_values(["_order", "count"], ascending=[True, False])
        .drop(columns="_order")
        .reset_index(drop=True)
    )
