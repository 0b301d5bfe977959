"""Tests run the project's own executables (``sys.executable -m gwsload``), never
``gwsload`` from PATH: a fresh clone has none there."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]


_STARTERS = {"run", "Popen", "check_output", "check_call", "call"}


def _starts_gwsload(call: ast.Call) -> bool:
    """``subprocess.run(["gwsload", ...])`` and the like (the argv's first word)."""
    name = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")
    if name not in _STARTERS or not call.args:
        return False
    argv = call.args[0]
    first = argv.elts[0] if isinstance(argv, ast.List | ast.Tuple) and argv.elts else argv
    return isinstance(first, ast.Constant) and str(first.value).split(" ")[0] == "gwsload"


def _argv_literals_starting_with_gwsload() -> list[str]:
    found = []
    for path in sorted(TESTS.rglob("*.py")):
        if "node_modules" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and _starts_gwsload(node):
                found.append(f"{path.relative_to(TESTS)}:{node.lineno}")
    return found


def test_no_test_starts_gwsload_by_name() -> None:
    assert not _argv_literals_starting_with_gwsload()


@pytest.mark.skipif(
    not os.environ.get("GWSLOAD_PATH_TRAP"), reason="only under make test (PATH trap)"
)
def test_the_path_trap_is_first_on_path() -> None:
    found = shutil.which("gwsload")
    assert found == str(TESTS / "path_trap" / "gwsload")
    trapped = [found, "--version"]  # what a test that ran gwsload from PATH would run
    done = subprocess.run(trapped, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 127 and "sys.executable -m gwsload" in done.stderr


def test_python_m_gwsload_is_the_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gwsload", "--version"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0 and done.stdout.startswith("gwsload ")
