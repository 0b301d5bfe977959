"""A run folder written by `gwsload run` itself, checked against independent sources.

``data/faulty-smoke`` is a 40-s run of ``data/faulty-smoke.toml`` (the smoke
scenario with the simulator dropping, duplicating and failing 3 % of recording
operations and expiring sessions every 15 s). The numbers of the reports are
checked against the simulator's own record (simulator-truth.csv), a direct read
of the Parquet segments, and the ``hdrh`` package's own histogram arithmetic.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from hdrh.histogram import HdrHistogram

from gwsload.analysis.hdr import round_sig
from gwsload.analysis.load import load_run
from gwsload.analysis.metrics import compute_headline, compute_time_series
from gwsload.cli import main

RUN = Path(__file__).parent / "data" / "faulty-smoke"


@pytest.fixture(scope="module")
def headline() -> pd.DataFrame:
    return compute_headline(load_run(RUN))


def test_losses_and_errors_match_what_the_simulator_did() -> None:
    run = load_run(RUN)
    truth = pd.read_csv(RUN / "simulator-truth.csv")["action"].value_counts()
    series = compute_time_series(run, 5.0)
    pooled = series[series["operation"] == "*"]
    # over the whole run (warm-up included): every dropped notification is one lost operation
    assert pooled["lost"].sum() == truth["dropped"] == 14
    # every duplicated notification shows up as a duplicate, or as late when its
    # operation had already been declared lost
    kinds = run.anomalies["kind"].value_counts()
    assert kinds["duplicate"] + kinds["late"] == truth["duplicated"]
    assert pooled["errors"].sum() == 19


def test_headline_counts_are_the_measured_rows(headline: pd.DataFrame) -> None:
    events = pq.read_table(RUN / "events").to_pandas()
    manifest = json.loads((RUN / "manifest.json").read_text())
    t = events["ts"] - manifest["t0"]
    # measured: after the warm-up and before the last stage ends (then the agents sign off)
    end = min(manifest["duration_s"], max(stage["end_s"] for stage in manifest["stages"]))
    measured = events[(t >= manifest["warmup_s"]) & (t < end)]
    assert 0 < len(measured) < len(events[t >= manifest["warmup_s"]])
    counts = measured.groupby("operation")["outcome"].value_counts().unstack(fill_value=0)
    for operation, row in counts.iterrows():
        assert headline.loc[operation, "operations"] == row.sum()
        assert headline.loc[operation, "lost"] == row.get("lost", 0)
        assert headline.loc[operation, "api_error"] == row.get("api_error", 0)
    pooled = headline.loc["*"]
    assert pooled["ops_per_s"] == pytest.approx(len(measured) / (end - manifest["warmup_s"]))


def test_headline_percentiles_agree_with_the_hdrh_package(headline: pd.DataFrame) -> None:
    manifest = json.loads((RUN / "manifest.json").read_text())
    lines = (RUN / "latency.hlog").read_text().splitlines()
    base_line = next(line for line in lines if line.startswith("#[BaseTime:"))
    base = float(base_line.split()[1])
    merged: dict[str, HdrHistogram] = {}
    for line in lines:
        if not line.startswith("Tag="):
            continue
        tag, start, length, _max, payload = line[4:].split(",", 4)
        middle = base + float(start) + float(length) / 2 - manifest["t0"]
        end = max(stage["end_s"] for stage in manifest["stages"])
        if not manifest["warmup_s"] <= middle < end:
            continue
        histogram = HdrHistogram.decode(payload)
        if tag in merged:
            merged[tag].add(histogram)
        else:
            merged[tag] = histogram
    assert merged
    for tag, histogram in merged.items():
        metric, operation = tag.split(".")
        column = {
            "notify": "notify_ms",
            "response": "response_ms",
            "notify_from_intended": "notify_from_intended_ms",
        }[metric]
        for stat, p in (("p50", 50.0), ("p90", 90.0), ("p99", 99.0)):
            expected = round_sig(histogram.get_value_at_percentile(p) / 1000.0)
            assert headline.loc[operation, f"{column}_{stat}"] == expected, (tag, stat)
        assert headline.loc[operation, f"{column}_max"] == round_sig(
            histogram.get_max_value() / 1000.0
        )


def test_commands_on_the_harness_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = Path(shutil.copytree(RUN, tmp_path / "run"))
    assert main(["report", str(run)]) == 0
    assert capsys.readouterr().out.startswith("FAIL: 2 of 5 SLOs breached")
    summary = json.loads((run / "summary.json").read_text())
    failed = {r["metric"] for r in summary["slo"]["results"] if not r["passed"]}
    assert failed == {"lost_ratio", "error_ratio"}
    details = {(o["outcome"], o["detail"]) for o in summary["outcomes"]}
    assert ("api_error", "statusCode 4 (internal error, HTTP 503)") in details
    # one generator stall in 17 samples: a note, not a saturation warning
    assert any("stalled briefly" in v["text"] for v in summary["validity"])
    assert not any(v["severity"] == "warning" for v in summary["validity"])
    html = (run / "report.html").read_text()
    assert "rehandshake" in html  # incidents listed (and drawn on the time axes)
    assert main(["check", str(run)]) == 1
