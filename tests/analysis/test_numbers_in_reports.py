"""Reports, check output and sentences write 1,000-, 0.001- and 1e6-sized numbers as people do."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gwsload.analysis.drift import DriftResult
from gwsload.analysis.load import load_run
from gwsload.analysis.render import render_report
from gwsload.analysis.summary import analyze_run, summary_markdown
from gwsload.analysis.synthetic import SyntheticRun, write_run
from gwsload.cli import main
from gwsload.launcher.progress import format_progress, format_summary

E_NOTATION = re.compile(r"\d[eE][+-]?\d")
EXTREME_SLOS = (
    {"metric": "notify_ms", "stat": "p99.9", "operation": "*", "max": 1000},
    {"metric": "response_ms", "stat": "p50", "operation": "*", "max": 0.001},
    {"metric": "lost_ratio", "operation": "*", "max": 0.001},
    {"metric": "ops_per_s", "operation": "*", "min": 1_000_000},
    {"metric": "unexpected_count", "max": 1_000_000},
)


@pytest.fixture(scope="module")
def extreme(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = SyntheticRun(
        notify_median_ms={"StartCallRecording": 1_000_000.0, "StopCallRecording": 0.002},
        notify_sigma=0.01,
        response_median_ms=1000.0,
        response_sigma=0.01,
        lost_ratio=0.00001,
        slo=EXTREME_SLOS,
        scenario="extreme",
    )
    return write_run(tmp_path_factory.mktemp("extreme") / "run", spec)


def _text_only(html: str) -> str:
    html = re.sub(r"<style>.*?</style>", "", html, flags=re.S)
    return re.sub(r'src="data:image/png;base64,[^"]*"', "", html)


def test_report_and_summary_have_no_e_notation(extreme: Path) -> None:
    analysis = analyze_run(load_run(extreme))
    markdown = summary_markdown(analysis)
    page = _text_only(render_report(analysis))
    assert not E_NOTATION.search(markdown), E_NOTATION.findall(markdown)
    assert not E_NOTATION.search(page), E_NOTATION.findall(page)
    assert "\u2264 1,000 ms" in markdown
    assert "\u2264 0.001 ms" in markdown
    assert "\u2265 1,000,000 ops/s" in markdown
    assert "\u2264 1,000,000 |" in markdown  # unexpected notifications
    assert "\u2264 0.1 %" in markdown
    # 1e6 ms is written in seconds, the way a person would
    assert re.search(r"notification p99 1,0\d\d s", analysis.verdict_sentence)


def test_check_output_has_no_e_notation(
    extreme: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", str(extreme), "--junit", str(tmp_path / "j.xml")]) == 1
    out = capsys.readouterr().out
    assert not E_NOTATION.search(out), out
    assert "notification latency p99.9, all operations \u2264 1,000 ms" in out
    junit = (tmp_path / "j.xml").read_text()
    assert not E_NOTATION.search(junit)
    assert "[*] &gt;= 1,000,000" in junit


def test_sentences_and_console_lines() -> None:
    drift = DriftResult("generator memory (RSS)", "MB", 1_000_000.0, 0.001, 80.0, 2.4e-29, 40, True)
    assert drift.sentence == (
        "generator memory (RSS) grew 1,000,000 MB/hour (significant, Mann-Kendall "
        "p < 0.001; +0.001 MB over the run)"
    )
    line = format_progress(
        {"elapsed_s": 5, "duration_s": 10, "users": 1_000_000, "ops_per_s": 1_234_567.0,
         "notify_p50_ms": 0.001, "notify_p99_ms": 1000.0, "lost": 1_000_000, "errors": 0,
         "generator_cpu_percent": 0.001}
    )  # fmt: skip
    assert not E_NOTATION.search(line)
    assert "ops/s 1,234,567 | notify p50 0.001 ms p99 1,000 ms | lost 1,000,000" in line
    summary = format_summary(
        {
            "counts": {"ops": 1_000_000, "lost": 1000},
            "operations": {"Start": {"notify_p99_ms": 1e6, "response_p50_ms": 0.001}},
            "warmup_s": 1000.0,
        },
        duration_s=1000.0,
    )
    text = "\n".join(summary)
    assert not E_NOTATION.search(text)
    assert "operations 1,000,000 (1,000 ops/s): ok 0, lost 1,000" in text
    assert "after the 1,000 s warm-up" in text
