"""The `gwsload` dispatcher: bad commands and options are one line and exit 2."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gwsload import __version__
from gwsload.cli import SUBCOMMANDS, main


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gwsload.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    out = capsys.readouterr().out
    assert all(name in out for name in SUBCOMMANDS)


def test_unknown_command_is_one_line_and_exit_2() -> None:
    done = run("frobnicate")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("gwsload: error: argument COMMAND")
    assert "Traceback" not in done.stderr


def test_unknown_option_of_a_command_is_one_line_and_exit_2() -> None:
    done = run("report", "--frob", "x")
    assert done.returncode == 2
    assert "unrecognized arguments: --frob" in done.stderr
    assert "Traceback" not in done.stderr


def test_version() -> None:
    done = run("--version")
    assert done.returncode == 0 and done.stdout.strip() == f"gwsload {__version__}"


def test_report_never_imports_gevent_or_locust() -> None:
    code = (
        "import sys; from gwsload.cli import main; main(['report', '/nonexistent']); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'gevent', 'locust'}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.stdout.strip() == "[]"
    assert "error:" in done.stderr
