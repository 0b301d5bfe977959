"""The events of a synthetic run, one time span at a time, vectorised.

Every column is drawn with numpy and handed to Arrow as numbers or as dictionary
codes (operation, outcome, agent, worker, error): no per-row Python object, so a
100-million-operation folder is written in minutes, one segment per span. The HDR
interval log is counted from the same values with ``np.bincount`` into the
canonical buckets (:func:`gwsload.analysis.hdr.index_of_values`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TextIO

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq
from hdrh.histogram import HdrHistogram

from gwsload.analysis.hdr import (
    COUNTS_LEN,
    HIGHEST_US,
    LOWEST_US,
    SIGNIFICANT_DIGITS,
    index_of_values,
)
from gwsload.contract.operations import RECORDING_OPERATIONS

if TYPE_CHECKING:
    from pathlib import Path

    from gwsload.analysis.synthetic_spec import Stage, SyntheticRun

__all__ = ["OPERATIONS", "T0", "EventWriter", "hlog_line"]

#: the synthetic runs start and stop recording (expected states: the contract's)
OPERATIONS = {op: RECORDING_OPERATIONS[op] for op in ("StartCallRecording", "StopCallRecording")}
T0 = 1_795_952_117.0
#: outcome codes of the generated rows, in this order
_OUTCOMES = ("ok", "api_error", "http_error", "lost")
_OK, _API_ERROR, _HTTP_ERROR, _LOST = range(4)


def hlog_line(tag: str, start: float, length: float, counts: npt.NDArray[np.int64]) -> str:
    """One interval line of ``latency.hlog`` holding ``counts`` (canonical layout)."""
    hist = HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)
    np.ctypeslib.as_array(hist.counts)[:] = counts[:COUNTS_LEN]
    nonzero = np.flatnonzero(counts)
    if len(nonzero):
        hist.set_internal_tacking_values(int(nonzero[0]), int(nonzero[-1]), int(counts.sum()))
    max_ms = hist.get_max_value() / 1000.0
    return f"Tag={tag},{start:.3f},{length:.3f},{max_ms:.3f},{hist.encode().decode()}\n"


def _dictionary(codes: npt.NDArray[Any], values: list[str] | pa.Array) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), values)


class EventWriter:
    """Generates and writes one span at a time (``events/part-local-<span>.parquet``)."""

    def __init__(self, spec: SyntheticRun, path: Path) -> None:
        self.spec, self.path = spec, path
        self.rng = np.random.default_rng(spec.seed)
        self.seq = 0
        self.spans = 0
        users = max(s.users for s in spec.stages)
        self.agents = pa.array([f"agent{i:04d}" for i in range(users)])
        self.ops = list(spec.notify_median_ms)
        self.anomaly_rows: list[dict[str, Any]] = []

    def span(self, start: float, end: float, stage: Stage, hlog: TextIO | None) -> None:
        spec, rng = self.spec, self.rng
        offered = (
            stage.rate_per_s
            if stage.rate_per_s is not None
            else stage.users * (spec.ops_per_user_s)
        )
        achieved = min(offered, spec.capacity_ops_s) if spec.capacity_ops_s else offered
        overload = offered / spec.capacity_ops_s if spec.capacity_ops_s else 0.0
        n = round(achieved * (end - start))
        t_s = np.sort(rng.uniform(start, end, n))
        op_index = rng.integers(0, len(self.ops), n)
        median = np.array([spec.notify_median_ms[o] for o in self.ops])[op_index]
        factor = spec.latency_factor * (1.0 + 8.0 * max(0.0, overload - 1.0) ** 2)
        notify = median * np.exp(spec.notify_sigma * rng.standard_normal(n)) * factor
        notify += spec.drift_ms_per_hour * t_s / 3600.0
        # planted regressions in one part of the split: the server's share then the rest
        server_part = notify * (spec.server_fraction or 0.0) + spec.server_extra_ms
        notify += spec.server_extra_ms + spec.delivery_extra_ms
        response = (
            spec.response_median_ms * factor * np.exp(spec.response_sigma * rng.standard_normal(n))
        )
        start_lag = (
            rng.exponential(spec.start_lag_mean_ms, n) if spec.open_workload else np.zeros(n)
        )
        draw = rng.uniform(0, 1, n)
        outcome = np.zeros(n, np.int8)
        http_status = np.full(n, 200, dtype=np.int32)
        status_code = np.zeros(n, dtype=np.int32)
        errors = draw < spec.error_ratio
        http_err = errors & (rng.uniform(0, 1, n) < 0.5)
        outcome[errors] = _API_ERROR
        status_code[errors] = 2
        outcome[http_err] = _HTTP_ERROR
        http_status[http_err] = 503
        status_code[http_err] = -1
        lost = (~errors) & (draw < spec.error_ratio + spec.lost_ratio)
        outcome[lost] = _LOST
        not_ok = outcome != _OK
        notify[not_ok] = np.nan
        server_part[not_ok] = np.nan
        agent_idx = rng.integers(0, stage.users, n).astype(np.int32)
        agents = pa.DictionaryArray.from_arrays(pa.array(agent_idx), self.agents)
        table = pa.table(
            {
                "ts": T0 + t_s,
                "worker": _dictionary(np.zeros(n, np.int32), ["local"]),
                "agent": agents,
                "call_id": agents,
                "operation": _dictionary(op_index, self.ops),
                "expected_state": _dictionary(op_index, [OPERATIONS.get(o, "") for o in self.ops]),
                "outcome": _dictionary(outcome, list(_OUTCOMES)),
                "http_status": http_status,
                "status_code": status_code,
                "error": _dictionary(outcome, ["", *_OUTCOMES[1:]]),
                "response_ms": response,
                "notify_ms": notify,
                "notify_after_response_ms": notify - response,
                "notify_from_intended_ms": notify + start_lag,
                "start_lag_ms": start_lag,
                "publish_lag_ms": (
                    np.full(n, np.nan) if spec.server_fraction is None else notify - server_part
                ),
                "server_seq": np.arange(self.seq, self.seq + n),
                # the server's timestamp (its clock, whole ms) minus the send time
                "server_ms": (
                    np.full(n, np.nan)
                    if spec.server_fraction is None
                    else np.round(server_part + spec.server_clock_offset_ms)
                ),
            }
        )
        pq.write_table(table, self.path / "events" / f"part-local-{self.spans:06d}.parquet")
        del table
        self.spans += 1
        self.seq += n
        self._anomalies(t_s, op_index, lost, not_ok)
        if hlog is not None:
            metrics = {
                "response": response,
                "notify": notify,
                "notify_from_intended": notify + start_lag,
            }
            self._hlog(hlog, (start, end), t_s, op_index, metrics)

    def _anomalies(
        self,
        t_s: npt.NDArray[np.float64],
        op_index: npt.NDArray[np.int64],
        lost: npt.NDArray[np.bool_],
        not_ok: npt.NDArray[np.bool_],
    ) -> None:
        spec, rng = self.spec, self.rng
        ops = np.array(self.ops, dtype=object)
        lost_t, lost_op = t_s[lost], op_index[lost]
        late = rng.uniform(0, 1, len(lost_t)) < spec.late_per_lost
        for t, op in zip(lost_t[late], ops[lost_op[late]], strict=True):
            self.anomaly_rows.append(
                {"ts": T0 + t + 12.0, "kind": "late", "operation": op, "age_ms": 12_000.0}
            )
        ok_t, ok_op = t_s[~not_ok], op_index[~not_ok]
        duplicate = rng.uniform(0, 1, len(ok_t)) < spec.duplicate_ratio
        for t, op in zip(ok_t[duplicate], ops[ok_op[duplicate]], strict=True):
            self.anomaly_rows.append(
                {"ts": T0 + t + 0.2, "kind": "duplicate", "operation": op, "age_ms": 200.0}
            )

    def _hlog(
        self,
        hlog: TextIO,
        span: tuple[float, float],
        t_s: npt.NDArray[np.float64],
        op_index: npt.NDArray[np.int64],
        metrics: dict[str, npt.NDArray[np.float64]],
    ) -> None:
        """Interval lines of the span: (interval, operation) counts by one bincount."""
        start, end = span
        step = self.spec.hlog_interval_s
        edges = np.arange(start, end + 1e-9, step)
        intervals, n_ops = len(edges) - 1, len(self.ops)
        if intervals < 1:
            return
        interval = np.searchsorted(edges, t_s, side="right") - 1
        inside = (interval >= 0) & (interval < intervals)
        key = (interval * n_ops + op_index)[inside]
        counts = {}
        for metric, values in metrics.items():
            v = values[inside]
            finite = np.isfinite(v)
            index = index_of_values(np.round(v[finite] * 1000.0).astype(np.int64))
            flat = np.bincount(
                key[finite] * COUNTS_LEN + index, minlength=intervals * n_ops * COUNTS_LEN
            )
            counts[metric] = flat.reshape(intervals, n_ops, COUNTS_LEN)
        for i, lo in enumerate(edges[:-1]):
            for j, op in enumerate(self.ops):
                for metric, matrix in counts.items():
                    if matrix[i, j].any():
                        line = hlog_line(f"{metric}.{op}", T0 + lo, step, matrix[i, j])
                        hlog.write(line)
