"""``gwsload run --workers 2``: a Locust master and two workers on this machine.

The agents are synthetic (known latencies, every 50th operation of an agent lost), so
the run needs no server and the numbers can be checked exactly: every row of both
workers reaches the master's run folder, the counts add up, and the percentiles of
the merged ``latency.hlog`` are those of one histogram fed every row's latency.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hdrh.histogram import HdrHistogram

from gwsload.metrics.hlog import read_hlog
from gwsload.metrics.latency import new_histogram
from gwsload.metrics.logs import GENERATOR_FIELDS

pytestmark = pytest.mark.gevent

SCENARIO = """
name = "merge"
description = "synthetic agents for the distributed merge check"
[workload]
model = "closed"
hold_s = 0.05
think_time_s = 0.05
[[stages]]
duration_s = 6
users = 6
spawn_rate = 6
"""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("distributed")
    scenario = folder / "merge.toml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    out = folder / "run"
    done = subprocess.run(
        [sys.executable, "-m", "gwsload.cli", "run", str(scenario), "--synthetic",
         "--workers", "2", "--out", str(out), "--progress-every", "0"],
        capture_output=True, text=True, timeout=100, check=False,
    )  # fmt: skip
    # every 50th synthetic operation is lost: the run fails its criteria (exit 1)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "failed:" in done.stdout and "lost" in done.stdout
    return out


def _events(run_dir: Path) -> dict[str, list[object]]:
    return pq.read_table(run_dir / "events").to_pydict()  # type: ignore[no-any-return]


def _merged(run_dir: Path, metric: str) -> HdrHistogram:
    merged = new_histogram()
    for entry in read_hlog(run_dir / "latency.hlog"):
        if entry.tag.startswith(metric + "."):
            merged.add(entry.histogram)
    return merged


def test_both_workers_deliver_their_rows_and_agents_are_unique(run_dir: Path) -> None:
    events = _events(run_dir)
    assert set(events["worker"]) == {"w1", "w2"}
    segments = sorted(p.name for p in (run_dir / "events").iterdir())
    assert any(name.startswith("part-w1-") for name in segments)
    assert any(name.startswith("part-w2-") for name in segments)
    workers_of_agent: dict[object, set[object]] = {}
    for agent, worker in zip(events["agent"], events["worker"], strict=True):
        workers_of_agent.setdefault(agent, set()).add(worker)
    assert len(workers_of_agent) == 6
    assert all(len(workers) == 1 for workers in workers_of_agent.values())


def test_counts_add_up_exactly(run_dir: Path) -> None:
    events = _events(run_dir)
    outcomes = Counter(events["outcome"])
    rows = len(events["outcome"])
    assert outcomes["lost"] > 0 and outcomes["ok"] > 0
    assert rows == outcomes["ok"] + outcomes["lost"]
    # every row has a response; only ok rows have a notification latency
    assert _merged(run_dir, "response").get_total_count() == rows
    assert _merged(run_dir, "notify").get_total_count() == outcomes["ok"]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "completed" and manifest["exit_code"] == 1
    assert manifest["workers"] == 2


def test_merged_percentiles_equal_those_of_all_rows(run_dir: Path) -> None:
    events = _events(run_dir)
    from_rows = new_histogram()
    for outcome, value in zip(events["outcome"], events["notify_ms"], strict=True):
        if outcome == "ok":
            from_rows.record_value(int(float(value) * 1000.0 + 0.5))  # type: ignore[arg-type]
    merged = _merged(run_dir, "notify")
    for percentile in (50.0, 90.0, 99.0, 99.9, 100.0):
        assert merged.get_value_at_percentile(percentile) == from_rows.get_value_at_percentile(
            percentile
        ), percentile
    assert merged.get_min_value() == from_rows.get_min_value()
    assert merged.get_max_value() == from_rows.get_max_value()


def test_generator_samples_come_from_every_worker(run_dir: Path) -> None:
    lines = (run_dir / "generator.csv").read_text().splitlines()
    assert lines[0] == ",".join(GENERATOR_FIELDS)
    assert {line.split(",")[1] for line in lines[1:]} == {"w1", "w2"}
    assert (run_dir / "locust" / "stats.csv").is_file()
    assert (run_dir / "locust" / "report.html").is_file()
