"""The harness's row tuples follow the run folder's column schema (one home:
gwsload.contract.segments), and survive a segment round trip with their types."""

from __future__ import annotations

import math
from pathlib import Path

import pyarrow.parquet as pq

from gwsload.contract.segments import ANOMALY_COLUMNS, EVENT_COLUMNS, SegmentWriter, segment_paths
from gwsload.gws.outcomes import Anomaly, Outcome
from gwsload.metrics.rows import RowBuffer

OUTCOME = Outcome(
    kind="ok",
    agent="agent0007",
    call_id="c-1",
    operation="StartCallRecording",
    notification_type="CallRecordingStateChange",
    expected_state="Recording",
    t_intended=99.5,
    t_sent=100.0,
    t_response=100.012,
    t_notified=100.030,
    http_status=200,
    status_code=0,
    error="",
    server_ts=1_700_000_100.025,
    server_seq=41,
    wall_offset=1_700_000_000.0,
)
ANOMALY = Anomaly(
    kind="late",
    agent="agent0007",
    call_id="c-1",
    notification_type="CallRecordingStateChange",
    recording_state="Stopped",
    operation="StopCallRecording",
    t_received=112.0,
    t_sent=101.0,
    server_ts=None,
    server_seq=42,
    wall_offset=1_700_000_000.0,
)


def test_an_outcome_fills_each_event_column_with_its_own_value() -> None:
    row = dict(zip([c[0] for c in EVENT_COLUMNS], OUTCOME.event_values("w1"), strict=True))
    assert row["ts"] == OUTCOME.ts and row["worker"] == "w1" and row["agent"] == "agent0007"
    assert row["operation"] == "StartCallRecording" and row["expected_state"] == "Recording"
    assert row["outcome"] == "ok" and row["http_status"] == 200 and row["status_code"] == 0
    assert math.isclose(float(row["response_ms"]), 12.0)  # type: ignore[arg-type]
    assert math.isclose(float(row["notify_ms"]), 30.0)  # type: ignore[arg-type]
    assert math.isclose(float(row["notify_after_response_ms"]), 18.0)  # type: ignore[arg-type]
    assert math.isclose(float(row["notify_from_intended_ms"]), 530.0)  # type: ignore[arg-type]
    assert math.isclose(float(row["start_lag_ms"]), 500.0)  # type: ignore[arg-type]
    assert math.isclose(float(row["publish_lag_ms"]), 5.0, abs_tol=1e-3)  # type: ignore[arg-type]
    assert row["server_seq"] == 41


def test_an_anomaly_fills_each_anomaly_column_with_its_own_value() -> None:
    row = dict(zip([c[0] for c in ANOMALY_COLUMNS], ANOMALY.anomaly_values("w1"), strict=True))
    assert row["kind"] == "late" and row["recording_state"] == "Stopped"
    assert row["operation"] == "StopCallRecording" and row["server_seq"] == 42
    assert math.isclose(float(row["age_ms"]), 11_000.0)  # type: ignore[arg-type]


def test_rows_round_trip_through_a_segment(tmp_path: Path) -> None:
    events, anomalies = RowBuffer(EVENT_COLUMNS), RowBuffer(ANOMALY_COLUMNS)
    events.append(OUTCOME.event_values("w1"))
    anomalies.append(ANOMALY.anomaly_values("w1"))
    for name, buffer in (("events", events), ("anomalies", anomalies)):
        writer = SegmentWriter(tmp_path, name)
        writer.add("w1", buffer.drain())
        writer.flush()
    table = pq.read_table(segment_paths(tmp_path, "events")[0]).to_pylist()[0]
    assert table["call_id"] == "c-1" and table["server_seq"] == 41
    anomaly = pq.read_table(segment_paths(tmp_path, "anomalies")[0]).to_pylist()[0]
    assert anomaly["kind"] == "late"
