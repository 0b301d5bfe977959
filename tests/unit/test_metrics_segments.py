"""Event and anomaly rows: buffers, Parquet segments with the documented schema, kill safety."""

from __future__ import annotations

import math
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import msgpack
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gwsload.metrics import (
    ANOMALY_COLUMNS,
    EVENT_COLUMNS,
    RowBuffer,
    SegmentWriter,
    arrow_schema,
    empty_columns,
    merge_columns,
)

REPO = Path(__file__).resolve().parents[2]

EVENT = (
    1795952118.25,
    "local",
    "agent0001",
    "0700026b58a3a2e1",
    "StartCallRecording",
    "Recording",
    "ok",
    200,
    0,
    "",
    3.5,
    12.25,
    8.75,
    12.25,
    0.0,
    0.5,
    17,
    11.75,
    "node2",
)


def documented_columns(section: str) -> list[tuple[str, str]]:
    """(name, type) rows of a column table in docs/run-folder.md, in order."""
    text = (REPO / "docs" / "run-folder.md").read_text(encoding="utf-8")
    body = text.split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    columns = []
    for line in body.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2 or not cells[0].startswith("`"):
            continue
        for name in re.findall(r"`([a-z_]+)`", cells[0]):
            columns.append((name, cells[1]))
    return columns


@pytest.mark.parametrize(("table", "section"), [("events", "events/"), ("anomalies", "anomalies/")])
def test_schema_is_exactly_the_documented_one(table: str, section: str) -> None:
    documented = documented_columns(section)
    assert len(documented) >= 10
    schema = arrow_schema(table)
    assert [(f.name, str(f.type)) for f in schema] == [
        (name, {"float64": "double"}.get(kind, kind)) for name, kind in documented
    ]


def test_row_buffer_drains_columns_and_empties() -> None:
    events = RowBuffer(EVENT_COLUMNS)
    events.append(EVENT)
    events.append_values(
        ts=2.0, worker="local", agent="agent0002", outcome="lost", operation="StopCallRecording"
    )
    assert len(events) == 2
    columns = events.drain()
    assert len(events) == 0
    assert list(columns) == [name for name, _, _ in EVENT_COLUMNS]
    assert columns["agent"] == ["agent0001", "agent0002"]
    # absent values take the documented "none" value
    assert columns["http_status"][1] == 0
    assert columns["status_code"][1] == -1
    assert columns["server_seq"][1] == -1
    assert math.isnan(columns["notify_ms"][1])  # type: ignore[arg-type]
    assert events.drain() == empty_columns(EVENT_COLUMNS)


def test_drained_columns_survive_msgpack() -> None:
    events = RowBuffer(EVENT_COLUMNS)
    events.append(EVENT)
    columns = events.drain()
    assert msgpack.unpackb(msgpack.packb(columns), raw=False) == columns


def test_row_buffer_rejects_bad_rows() -> None:
    events = RowBuffer(EVENT_COLUMNS)
    with pytest.raises(TypeError, match=r"unknown column\(s\): \['latency'\]"):
        events.append_values(latency=3.0)
    events.append(EVENT[:-1])
    with pytest.raises(ValueError, match="row has 18 values, expected 19"):
        events.drain()


def test_merge_columns_concatenates_in_order() -> None:
    a = {"x": [1, 2], "y": ["a", "b"]}
    b = {"x": [3], "y": ["c"]}
    assert merge_columns([a, b]) == {"x": [1, 2, 3], "y": ["a", "b", "c"]}
    with pytest.raises(ValueError, match="column batches differ"):
        merge_columns([a, {"y": ["c"], "x": [3]}])


def test_segments_are_numbered_per_worker_and_typed(tmp_path: Path) -> None:
    writer = SegmentWriter(tmp_path, "events")
    events = RowBuffer(EVENT_COLUMNS)
    for worker in ("w1", "w2", "w1"):
        events.append((EVENT[0], worker, *EVENT[2:]))
        writer.add(worker, events.drain())
    writer.add("w2", events.drain())  # no rows: nothing written for it
    first = writer.flush()
    assert [p.name for p in first] == ["part-w1-000001.parquet", "part-w2-000001.parquet"]
    events.append(EVENT)
    assert writer.write("w1", events.drain()) == tmp_path / "events" / "part-w1-000002.parquet"
    assert writer.flush() == []
    table = pq.read_table(tmp_path / "events" / "part-w1-000001.parquet")
    assert table.schema.equals(arrow_schema("events"))
    assert table.num_rows == 2
    row = table.slice(0, 1).to_pylist()[0]
    names = [name for name, _, _ in EVENT_COLUMNS]
    assert row == dict(zip(names, (EVENT[0], "w1", *EVENT[2:]), strict=True))


def test_anomalies_segments(tmp_path: Path) -> None:
    writer = SegmentWriter(tmp_path, "anomalies")
    anomalies = RowBuffer(ANOMALY_COLUMNS)
    anomalies.append_values(
        ts=5.0,
        worker="local",
        agent="agent0001",
        call_id="c1",
        kind="unexpected",
        notification_type="CallRecordingStateChange",
        recording_state="Paused",
    )
    path = writer.write("local", anomalies.drain())
    assert path is not None and path.name == "part-local-000001.parquet"
    table = pq.read_table(path)
    assert table.column("operation").to_pylist() == [""]
    assert table.column("server_seq").type == pa.int64()


def test_bad_input_to_the_segment_writer(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="table must be one of"):
        SegmentWriter(tmp_path, "notifications")
    writer = SegmentWriter(tmp_path, "events")
    with pytest.raises(ValueError, match="worker id must match"):
        writer.add("../w1", {"ts": [1.0]})


KILLED_WRITER = textwrap.dedent(
    """
    import sys
    from gwsload.metrics import EVENT_COLUMNS, RowBuffer, SegmentWriter
    row = {row!r}
    writer = SegmentWriter(sys.argv[1], "events")
    events = RowBuffer(EVENT_COLUMNS)
    for segment in range(100_000):
        for _ in range(2000):
            events.append(row)
        writer.add("w1", events.drain())
        writer.flush()
        print(segment + 1, flush=True)
    """
)


def test_a_killed_writer_loses_at_most_the_segment_in_progress(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER.format(row=EVENT), str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        reported = 0
        while reported < 4:
            line = process.stdout.readline()
            assert line, "the writer died before writing four segments"
            reported = int(line)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL

    segments = sorted((tmp_path / "events").glob("*.parquet"))
    # every segment reported as flushed is there; at most one more got renamed in time
    assert reported <= len(segments) <= reported + 1
    assert [p.name for p in segments[:4]] == [f"part-w1-{n:06d}.parquet" for n in range(1, 5)]
    for path in segments:
        table = pq.read_table(path)
        assert table.num_rows == 2000
        assert table.schema.equals(arrow_schema("events"))
    # the whole folder reads as one table too: a half-written file is hidden
    assert pq.read_table(tmp_path / "events").num_rows == 2000 * len(segments)
