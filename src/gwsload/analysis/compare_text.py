"""What ``gwsload compare`` says in words: which builds, and one sentence per operation.

The sentences are for a release manager: what got worse or better and by how much,
what could not be judged and why, in one line per operation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from gwsload.analysis.load import RunFolder
from gwsload.analysis.metrics import ALL, number
from gwsload.contract import numbers
from gwsload.contract.labels import labels_of

__all__ = [
    "METRIC_NAMES",
    "format_change",
    "labels_line",
    "operation_sentences",
    "where_worse",
]

METRIC_NAMES = {
    "notify_ms": "notification latency",
    "response_ms": "HTTP response time",
    "server_notify_ms": "server-side notification latency",
    "delivery_ms": "notification delivery",
    "throughput": "throughput",
    "error_ratio": "errors",
    "lost_ratio": "lost notifications",
}


def format_change(value: float, kind: str) -> str:
    if not math.isfinite(value):
        return numbers.MISSING
    if kind == "absolute":
        return numbers.signed(value * 100, "pp")
    return numbers.signed(value * 100, "%")


def _side_labels(runs: Sequence[RunFolder]) -> dict[str, str]:
    values: dict[str, list[str]] = {}
    for run in runs:
        for key, value in labels_of(run.manifest).items():
            values.setdefault(key, [])
            if value not in values[key]:
                values[key].append(value)
    return {key: "|".join(found) for key, found in values.items()}


def labels_line(baseline: Sequence[RunFolder], candidate: Sequence[RunFolder]) -> str:
    """``baseline gws_build=A vs candidate gws_build=B (both environment=staging)``."""
    a, b = _side_labels(baseline), _side_labels(candidate)
    keys = list(dict.fromkeys([*a, *b]))
    differ = [k for k in keys if a.get(k) != b.get(k)]
    same = [k for k in keys if a.get(k) == b.get(k)]

    def side(labels: dict[str, str], runs: Sequence[RunFolder]) -> str:
        shown = " ".join(f"{k}={labels.get(k, '(none)')}" for k in differ)
        count = f"{len(runs)} runs" if len(runs) > 1 else runs[0].run_id
        return f"{shown} ({count})" if shown else count

    line = f"baseline {side(a, baseline)} vs candidate {side(b, candidate)}"
    if same:
        line += " (both " + " ".join(f"{k}={a[k]}" for k in same) + ")"
    elif not keys:
        line += " (no labels: gwsload run --label KEY=VALUE names what ran)"
    return line


def _value(value: float, metric: str, kind: str) -> str:
    if not math.isfinite(value):
        return numbers.MISSING
    if kind == "absolute":
        return numbers.percent(value)
    return numbers.rate(value) if metric == "throughput" else numbers.latency_ms(value)


def _item(row: pd.Series) -> str:
    metric, stat, kind = str(row["metric"]), str(row["stat"]), str(row["change_kind"])
    name = METRIC_NAMES.get(metric, metric)
    if stat not in ("ratio", "ops_per_s"):
        name += f" {stat}"
    before = _value(number(row["baseline"]), metric, kind)
    after = _value(number(row["candidate"]), metric, kind)
    return f"{name} {format_change(number(row['change']), kind)} ({before} -> {after})"


def _names(rows: pd.DataFrame) -> str:
    """``notification latency p95/p99, throughput``: metrics with their stats."""
    stats: dict[str, list[str]] = {}
    for _, r in rows.iterrows():
        name = METRIC_NAMES.get(str(r["metric"]), str(r["metric"]))
        stats.setdefault(name, [])
        if r["stat"] not in ("ratio", "ops_per_s"):
            stats[name].append(str(r["stat"]))
    return ", ".join(f"{name} {'/'.join(s)}".strip() for name, s in stats.items())


def _part(rows: pd.DataFrame, metric: str, stat: str) -> pd.Series | None:
    found = rows[(rows["metric"] == metric) & (rows["stat"] == stat)]
    return None if found.empty else found.iloc[0]


def where_worse(rows: pd.DataFrame, stat: str) -> str | None:
    """Where one operation's worse notification latency ``stat`` came from, split at the
    server's timestamp: ``on the server side``, ``in delivery``, both, or neither part
    alone; with each part's change in ms and verdict. None without the split (the
    target sends no server timestamp)."""
    server = _part(rows, "server_notify_ms", stat)
    delivery = _part(rows, "delivery_ms", stat)
    if server is None or delivery is None:
        return None
    server_worse, delivery_worse = server["verdict"] == "worse", delivery["verdict"] == "worse"
    where = {
        (True, True): "both on the server side and in delivery",
        (True, False): "on the server side",
        (False, True): "in delivery",
        (False, False): "neither part alone beyond the tolerance",
    }[(bool(server_worse), bool(delivery_worse))]
    parts = ", ".join(
        f"{name} {stat} "
        f"{numbers.signed(number(r['candidate']) - number(r['baseline']), 'ms')} ({r['verdict']})"
        for name, r in (("server-side", server), ("delivery", delivery))
    )
    return f"notification latency {stat} worse {where}: {parts}"


def operation_sentences(table: pd.DataFrame) -> list[str]:
    """One sentence per operation (all operations first)."""
    sentences = []
    for operation, rows in table.groupby("operation", sort=False):
        name = "All operations" if operation == ALL else str(operation)
        worse = rows[rows["verdict"] == "worse"]
        better = rows[rows["verdict"] == "better"]
        unsure = rows[rows["verdict"] == "inconclusive"]
        parts = []
        if len(worse):
            parts.append("WORSE: " + ", ".join(_item(r) for _, r in worse.iterrows()))
            for stat in worse.loc[worse["metric"] == "notify_ms", "stat"]:
                where = where_worse(rows, str(stat))
                if where is not None:
                    parts.append(where)
        if len(better):
            parts.append("better: " + ", ".join(_item(r) for _, r in better.iterrows()))
        if len(unsure):
            parts.append("inconclusive (the measuring side differed): " + _names(unsure))
        few = rows[rows["verdict"] == "too few"]
        if len(few):
            parts.append("too few values to judge " + _names(few))
        rest = "nothing else changed beyond the tolerance"
        if not parts:
            rest = "no change beyond the tolerance"
        sentences.append(f"{name}: " + "; ".join([*parts, rest]) + ".")
    return sentences
