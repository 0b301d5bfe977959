from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pyarrow.parquet as pq

from gwsload.analysis.accounting import compute_outcomes
from gwsload.analysis.load import load_run
from gwsload.analysis.metrics import compute_headline
from gwsload.analysis.validity import assess_validity


def _texts(runs: dict[str, Path], name: str) -> list[str]:
    run = load_run(runs[name])
    return [f"{f.severity}: {f.text}" for f in assess_validity(run, compute_headline(run))]


def test_a_saturated_generator_is_called_out(runs: dict[str, Path]) -> None:
    texts = _texts(runs, "saturated")
    # the wording of gwsload run's verdict (manifest "generator"): one rule, one sentence
    assert "warning: Harness: worker local CPU >= 90 % for 100 % of the run" in texts
    assert (
        "warning: Harness: worker local event-loop lag > 10 ms in 100 % of samples (worst 45 ms)"
        in texts
    )
    assert not any("CPU >=" in t for t in _texts(runs, "clean"))
    clean = _texts(runs, "clean")
    assert not any("saturated" in t for t in clean)
    healthy = "note: The load generator was healthy: CPU peaked at 35 % of a core"
    assert any(t.startswith(healthy) for t in clean)


def test_one_stall_is_a_note_and_never_contradicted() -> None:
    # the harness fixture: one sample of 17 lagged 12.9 ms, and its manifest (an older
    # rule) called that saturated; the report states one rule, once
    run = load_run(Path(__file__).parent / "data" / "faulty-smoke")
    texts = [f"{f.severity}: {f.text}" for f in assess_validity(run, compute_headline(run))]
    assert texts[0] == (
        "note: The load generator stalled briefly (event-loop lag over 10 ms in 1 of 17 "
        "samples, worst 12.9 ms): too rare to call it saturated, but latencies in those "
        "moments include up to that delay."
    )
    assert not any("saturated during" in t or "was saturated" in t for t in texts)
    assert not any(t.startswith("warning: Harness") for t in texts)


def test_coordinated_omission_in_an_open_workload(runs: dict[str, Path]) -> None:
    texts = _texts(runs, "open")
    warning = next(t for t in texts if "Coordinated omission" in t)
    assert warning.startswith("warning:")
    # start lag is exponential with mean 40 ms: exp(-10/40) = 78% start over 10 ms late
    assert re.search(r"Coordinated omission: 7[78](\.\d)? % of operations", warning)
    assert any("Closed workload" in t for t in _texts(runs, "clean"))


def test_warmup_and_missing_hlog_are_explained(runs: dict[str, Path]) -> None:
    texts = _texts(runs, "no_hlog")
    assert any("latency.hlog is absent" in t for t in texts)
    assert any("first 10 s are left out" in t for t in texts)


def test_outcome_accounting_by_status_with_examples(runs: dict[str, Path]) -> None:
    run = load_run(runs["faulty"])
    table = compute_outcomes(run).set_index(["outcome", "detail"])
    truth = pq.read_table(runs["faulty"] / "events").to_pandas()
    truth = truth[truth["ts"] - run.t0 >= run.warmup_s]
    counts = truth["outcome"].value_counts()
    assert table.loc[("http_error", "HTTP 503"), "count"] == counts["http_error"]
    api = ("api_error", "statusCode 2 (parameter not valid for the current state)")
    assert table.loc[api, "count"] == counts["api_error"]
    assert table.loc[("lost", ""), "count"] == counts["lost"]
    assert table.loc[("unexpected", "notification"), "count"] == 3
    examples = [str(e) for e in table.loc[("http_error", "HTTP 503"), "examples"]]  # type: ignore[union-attr]
    assert 1 <= len(examples) <= 3 and examples[0].startswith("t=")
    assert "'http_error'" in examples[0]
    assert list(table.index.get_level_values("outcome"))[:2] == ["ok", "http_error"]


def test_a_run_that_did_not_complete_says_why_in_its_status_note(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    folder = tmp_path / "overran"
    shutil.copytree(runs["clean"], folder)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    reason = "the run passed its deadline of 150 s (stages 60 s + margin 90 s): Locust was stopped"
    manifest.update(status="failed", end_reason=reason)
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    run = load_run(folder)
    texts = [f.text for f in assess_validity(run, compute_headline(run))]
    assert f"The run's status is 'failed', not 'completed' ({reason}): its last" in texts[0]
