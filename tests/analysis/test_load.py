from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from gwsload.analysis.load import load_run, warmup_seconds
from gwsload.errors import ConfigError


@pytest.fixture
def copy(runs: dict[str, Path], tmp_path: Path) -> Path:
    return Path(shutil.copytree(runs["faulty"], tmp_path / "run"))


def _edit_manifest(path: Path, **changes: object) -> None:
    manifest = json.loads((path / "manifest.json").read_text())
    manifest.update(changes)
    (path / "manifest.json").write_text(json.dumps(manifest))


def test_reads_every_part_of_a_run_folder(runs: dict[str, Path]) -> None:
    run = load_run(runs["faulty"], keep_events=True)
    table = pq.read_table(runs["faulty"] / "events").to_pandas()
    assert len(run.events) == len(table)
    assert set(run.events["operation"].cat.categories) == {
        "StartCallRecording",
        "StopCallRecording",
    }
    assert run.warmup_s == 10.0
    assert run.hdr is not None and {h.metric for h in run.hdr} == {
        "response",
        "notify",
        "notify_from_intended",
    }
    assert list(run.incidents["kind"]) == ["rehandshake", "reconnect"]
    assert run.incidents["t_s"].tolist() == [50.0, 80.0]
    assert (run.anomalies["kind"] == "unexpected").sum() == 3
    assert set(run.examples["outcome"]) <= {"http_error", "api_error", "lost"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format": 3}, r"run-folder format 3 is not supported"),
        ({"t0": "soon"}, r"'t0' must be a number"),
    ],
)
def test_bad_manifest_values_are_one_line_errors(
    copy: Path, change: dict[str, object], message: str
) -> None:
    _edit_manifest(copy, **change)
    with pytest.raises(ConfigError, match=message) as info:
        load_run(copy)
    assert "\n" not in str(info.value)


def test_missing_or_broken_files(copy: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a run folder"):
        load_run(tmp_path / "nowhere")
    (copy / "manifest.json").write_text("{not json")
    with pytest.raises(ConfigError, match=r"manifest\.json: not valid JSON"):
        load_run(copy)
    (copy / "manifest.json").unlink()
    with pytest.raises(ConfigError, match=r"manifest\.json: missing"):
        load_run(copy)


def test_events_are_required_with_their_columns(copy: Path) -> None:
    first = sorted((copy / "events").glob("*.parquet"))[0]
    table = pq.read_table(first)
    pq.write_table(table.drop_columns(["notify_ms"]), first)
    with pytest.raises(ConfigError, match=r"missing columns \['notify_ms'\]"):
        load_run(copy)


def test_a_run_without_operations_still_loads(copy: Path) -> None:
    # a run that made no operation (dead target) is reported, not refused
    shutil.rmtree(copy / "events")
    run = load_run(copy)
    assert run.digest.rows == 0 and run.end_s > run.warmup_s


def test_a_warm_up_covering_the_whole_run_leaves_an_empty_measured_period(copy: Path) -> None:
    _edit_manifest(copy, warmup_s=10_000)
    run = load_run(copy)
    assert run.warmup_s == 10_000 and run.measure_end_s <= run.warmup_s


def test_other_files_in_events_are_ignored_and_a_partial_last_incident_is_skipped(
    copy: Path,
) -> None:
    (copy / "events" / "part-local-999999.parquet.tmp").write_bytes(b"half a segment")
    with (copy / "incidents.jsonl").open("a") as out:
        out.write('{"ts": 17959521')
    run = load_run(copy)
    assert len(run.incidents) == 2


def test_a_broken_incident_line_in_the_middle_is_an_error(copy: Path) -> None:
    lines = (copy / "incidents.jsonl").read_text().splitlines()
    (copy / "incidents.jsonl").write_text("\n".join([lines[0], "oops", lines[1]]) + "\n")
    with pytest.raises(ConfigError, match=r"incidents.jsonl:2: not a JSON object"):
        load_run(copy)


def test_warmup_rule() -> None:
    assert warmup_seconds({"warmup_s": 7.5}) == 7.5
    stages = [{"users": 25, "spawn_rate": 10}, {"users": 50, "spawn_rate": 1}]
    assert warmup_seconds({"warmup_s": None, "stages": stages}) == 3.0
    assert warmup_seconds({"stages": []}) == 0.0


def test_events_keep_one_copy_of_what_repeats(runs: dict[str, Path]) -> None:
    """A closed workload stores neither its notification from schedule (its notification
    latency) nor its start lag (0): 16 bytes a row; an open one keeps both."""
    closed = load_run(runs["clean"], keep_events=True).events
    assert np.shares_memory(
        closed["notify_from_intended_ms"].to_numpy(), closed["notify_ms"].to_numpy()
    )
    assert not closed["start_lag_ms"].to_numpy().any()
    assert set(closed["http_status"].cat.categories) <= {200, 503}
    per_row = sum(
        closed[c].cat.codes.to_numpy().itemsize
        if closed[c].dtype == "category"
        else closed[c].to_numpy().itemsize
        for c in ("t_s", "operation", "outcome", "http_status", "status_code", "response_ms")
    )
    assert per_row + closed["notify_ms"].to_numpy().itemsize == 16
    opened = load_run(runs["open"], keep_events=True).events
    intended, notify = opened["notify_from_intended_ms"].to_numpy(), opened["notify_ms"].to_numpy()
    assert not np.shares_memory(intended, notify)
    lag = opened["start_lag_ms"].to_numpy()
    assert lag.mean() == pytest.approx(40.0, rel=0.1)  # the generated mean start lag
