"""The one module that writes files: report, summaries, JUnit XML, comparison page.

Each file is written to a temporary name in the same folder and renamed, so a
reader never sees half a file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from gwsload.analysis.render import render_report
from gwsload.analysis.summary import RunAnalysis, summary_json, summary_markdown
from gwsload.errors import ConfigError

__all__ = ["write_compare", "write_junit", "write_report", "write_text"]


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` atomically; ConfigError (one line) if the folder is not writable."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write ({exc.strerror})") from None
    return path


def write_report(analysis: RunAnalysis, out_dir: Path) -> list[Path]:
    """``report.html``, ``summary.json`` and ``summary.md`` in ``out_dir``."""
    document = summary_json(analysis)
    locust = analysis.run.path / "locust" / "report.html"
    href = os.path.relpath(locust, out_dir) if locust.is_file() else None
    return [
        write_text(out_dir / "summary.json", json.dumps(document, indent=2) + "\n"),
        write_text(out_dir / "summary.md", summary_markdown(analysis)),
        write_text(out_dir / "report.html", render_report(analysis, locust_href=href)),
    ]


def write_junit(xml: str, path: Path) -> Path:
    return write_text(path, xml)


def write_compare(html: str, document: dict[str, Any], out_dir: Path) -> list[Path]:
    """``compare.html`` and ``compare.json`` in ``out_dir``."""
    return [
        write_text(out_dir / "compare.json", json.dumps(document, indent=2) + "\n"),
        write_text(out_dir / "compare.html", html),
    ]
