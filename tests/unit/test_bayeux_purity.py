"""The Bayeux core stays sans-IO: stdlib only, no sockets, no clocks, no event loops."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import gwsload.bayeux

CORE = Path(gwsload.bayeux.__file__).parent
# what the core may import: data handling only
ALLOWED = {
    "__future__",
    "collections",
    "dataclasses",
    "enum",
    "heapq",
    "itertools",
    "json",
    "math",
    "random",
    "re",
    "secrets",
    "typing",
    "gwsload",
}
IO_MODULES = {
    "socket",
    "ssl",
    "select",
    "selectors",
    "asyncio",
    "threading",
    "gevent",
    "aiohttp",
    "websocket",
    "geventhttpclient",
    "locust",
    "time",
}


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_core_modules_import_only_data_handling_stdlib() -> None:
    modules = sorted(CORE.glob("*.py"))
    assert len(modules) >= 8
    for path in modules:
        extra = _imports(path) - ALLOWED
        assert not extra, f"{path.name} imports {sorted(extra)}"


def test_core_never_reads_a_clock() -> None:
    for path in CORE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                assert node.value.id not in {"time", "datetime"}, f"{path.name}: {node.value.id}"


def test_importing_the_core_loads_no_io_module() -> None:
    code = "import sys, gwsload.bayeux; print(' '.join(sorted(sys.modules)))"
    loaded = set(subprocess.check_output([sys.executable, "-c", code], text=True).split())
    assert "gwsload.bayeux._server" in loaded and "gwsload.bayeux._client" in loaded
    # threading and time are loaded by the import machinery itself; the AST checks cover them
    assert not {m.split(".")[0] for m in loaded} & (IO_MODULES - {"time", "threading"})
