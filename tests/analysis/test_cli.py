"""The three commands end to end: files written, exit codes, one-line errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from gwsload.cli import main

SUMMARY_KEYS = {
    "schema",
    "run_id",
    "scenario",
    "status",
    "workload",
    "transport",
    "verdict",
    "failed_run",
    "measured",
    "latency_source",
    "all",
    "operations",
    "notification_order",
    "outcomes",
    "slo",
    "validity",
    "capacity",
    "drift",
    "harness_drift",
    "latency_split",
    "nodes",
    "throttled",
    "outages",
}


@pytest.fixture
def faulty(runs: dict[str, Path], tmp_path: Path) -> Path:
    return Path(shutil.copytree(runs["faulty"], tmp_path / "faulty"))


def test_report_writes_three_files_with_the_documented_keys(
    faulty: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(faulty)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("FAIL: 2 of 4 SLOs breached")
    summary = json.loads((faulty / "summary.json").read_text())
    assert set(summary) == SUMMARY_KEYS
    assert summary["schema"] == "gwsload.summary/1"
    assert summary["slo"]["verdict"] == "fail"
    assert set(summary["all"]["latency_ms"]["notify_ms"]) == {
        "min",
        "p50",
        "p90",
        "p95",
        "p99",
        "p99.9",
        "max",
        "mean",
    }
    assert set(summary["operations"]) == {"StartCallRecording", "StopCallRecording"}
    assert summary["measured"] == {
        "warmup_s": 10.0,
        "from_s": 10.0,
        "to_s": 120.0,
        "seconds": 110.0,
    }
    markdown = (faulty / "summary.md").read_text()
    assert "**FAIL: 2 of 4 SLOs breached" in markdown
    assert "| lost notifications, all operations \u2264 0.01 % |" in markdown
    html = (faulty / "report.html").read_text()
    # profile, time series (one figure), 2 spectra, 2 histograms, notification order
    assert html.count('<img alt="') >= 7
    assert 'src="http' not in html and "<script" not in html  # self-contained
    # the environment fingerprint, from generator.csv when environment.json is absent
    assert "<h2>Environment</h2>" in html
    assert "<th>generator loop lag p50 / p99</th><td>1 ms / 1 ms</td>" in html


def test_report_of_a_step_load_states_the_capacity(runs: dict[str, Path], tmp_path: Path) -> None:
    assert main(["report", str(runs["capacity"]), "--out", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["capacity"]["capacity_step"] == 4
    assert summary["capacity"]["sentence"].startswith("Capacity: 50 agents")
    assert "Capacity: 50 agents" in (tmp_path / "report.html").read_text()


def test_check_passes_fails_and_writes_junit(
    runs: dict[str, Path], faulty: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", str(faulty)]) == 1
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("lost notifications"))
    assert line.startswith("lost notifications, all operations \u2264 0.01 %")
    assert line.endswith("FAIL")
    junit = ET.parse(faulty / "check.junit.xml").getroot()
    assert junit.get("tests") == "5" and junit.get("failures") == "2"
    clean_junit = tmp_path / "clean.xml"
    assert main(["check", str(runs["clean"]), "--junit", str(clean_junit)]) == 0
    assert "gws_build=8.5.2.41" in capsys.readouterr().out.splitlines()[0]
    clean = ET.parse(clean_junit).getroot()
    assert clean.get("failures") == "0"
    properties = {p.get("name"): p.get("value") for p in clean.iter("property")}
    assert properties == {"gws_build": "8.5.2.41"}
    slo = tmp_path / "strict.toml"
    slo.write_text('[[slo]]\nmetric = "notify_ms"\nstat = "p50"\noperation = "*"\nmax = 1\n')
    assert (
        main(
            [
                "check",
                str(runs["clean"]),
                "--slo",
                str(slo),
                "--junit",
                str(tmp_path / "strict.xml"),
            ]
        )
        == 1
    )


def test_check_bad_input_exits_2_with_one_line(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", str(runs["baseline"]), "--junit", str(tmp_path / "x.xml")]) == 2
    assert "no SLOs to check" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text('[[slo]]\nmetric = "speed"\nmax = 1\n')
    assert main(["check", str(runs["clean"]), "--slo", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "slo[0].metric must be one of" in err
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert "not a run folder" in capsys.readouterr().err


def test_compare_exit_codes(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cmp"
    assert main(["compare", str(runs["baseline"]), str(runs["slower"]), "--out", str(out)]) == 1
    assert "REGRESSION" in capsys.readouterr().out
    document = json.loads((out / "compare.json").read_text())
    assert document["regression"] is True and document["schema"] == "gwsload.compare/1"
    assert (out / "compare.html").read_text().count("<img") == 4
    assert main(["compare", str(runs["baseline"]), str(runs["same"]), "--out", str(out)]) == 0
    assert "NO REGRESSION" in capsys.readouterr().out
    assert main(["compare", str(runs["baseline"]), str(runs["capacity"]), "--out", str(out)]) == 2
    assert "use --force" in capsys.readouterr().err
    assert (
        main(
            [
                "compare",
                str(runs["baseline"]),
                str(runs["slower"]),
                "--force",
                "--tolerance",
                "50%",
                "--out",
                str(out),
            ]
        )
        == 0
    )


def test_the_report_commands_never_import_gevent_or_locust(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    code = (
        "import sys; from gwsload.cli import main; "
        f"main(['report', {str(runs['clean'])!r}, '--out', {str(tmp_path)!r}]); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('gevent', 'locust')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip().splitlines()[-1] == "[]"


def _edit_manifest(folder: Path, **changes: object) -> None:
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest.update(changes)
    path.write_text(json.dumps(manifest))


def test_a_run_where_too_few_agents_operated_fails_check_and_report(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the clean run's 10 agents all operated; say it was planned for 20
    folder = Path(shutil.copytree(runs["clean"], tmp_path / "half"))
    stages = json.loads((folder / "manifest.json").read_text())["stages"]
    _edit_manifest(folder, stages=[{**s, "users": 20} for s in stages])
    assert main(["check", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "FAIL: the run did not test: only 10 of 20 agents made an operation" in out
    junit = ET.parse(folder / "check.junit.xml").getroot()
    assert junit.find(".//failure[@type='RunDidNotTest']") is not None
    assert main(["report", str(folder)]) == 0
    assert capsys.readouterr().out.startswith("FAIL: the run did not test: only 10 of 20")
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["failed_run"] and summary["verdict"].startswith("FAIL")
    # the scenario may accept fewer: 10 of 20 is enough at min_active_share 0.5
    _edit_manifest(folder, min_active_share=0.5)
    assert main(["check", str(folder)]) == 0


def test_a_run_without_operations_is_reported_as_a_failure(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = Path(shutil.copytree(runs["baseline"], tmp_path / "empty"))
    shutil.rmtree(folder / "events")
    (folder / "latency.hlog").unlink()
    # no SLOs in this run: check still fails it, with the reason
    assert main(["check", str(folder)]) == 1
    assert "no operation was made in the measured period" in capsys.readouterr().out
    assert main(["report", str(folder)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("FAIL: the run did not test: no operation was made")
    assert (folder / "report.html").stat().st_size > 0
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["all"]["operations"] == 0
    assert summary["failed_run"] == ["no operation was made in the measured period"]


def test_compare_with_a_run_that_did_not_test_fails(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the same run, planned for twice the agents it had: 10 of 20 operated
    half = Path(shutil.copytree(runs["same"], tmp_path / "half"))
    stages = json.loads((half / "manifest.json").read_text())["stages"]
    _edit_manifest(half, stages=[{**s, "users": 20} for s in stages])
    out = tmp_path / "cmp"
    assert main(["compare", str(runs["baseline"]), str(half), "--out", str(out)]) == 1
    text = capsys.readouterr().out
    assert "FAIL: candidate run" in text and "did not test: only 10 of 20 agents" in text
