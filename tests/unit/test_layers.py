"""The import graph: packages on floors, imports only point down, no circles.

Floors, lowest first (a package imports only from floors below its own): plain
helpers (the lifeline between a launcher and its children among them), the
run-folder contract, the Bayeux core, the simulator and the CometD client, the
scenario model, measurement, the GWS client, the launcher and the
analysis, the code inside Locust, the command line. The launcher never
imports gevent or Locust (it starts processes that do); the contract is stdlib and
pyarrow only.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import gwsload
from gwsload.gws import GwsApiError, GwsError, GwsTransportError
from gwsload.gws.config import AgentError

SRC = Path(gwsload.__file__).parent

FLOORS: tuple[frozenset[str], ...] = (
    frozenset({"gwsload", "errors", "stages", "cookies", "lifeline", "collection"}),
    frozenset({"contract"}),
    frozenset({"bayeux"}),
    frozenset({"simulator", "cometd"}),
    frozenset({"scenario"}),  # its [simulator] table is the simulator's declaration
    frozenset({"metrics"}),
    frozenset({"gws"}),
    frozenset({"launcher", "analysis"}),
    frozenset({"harness"}),
    frozenset({"cli"}),
    frozenset({"__main__"}),
)
STDLIB = sys.stdlib_module_names


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(("gwsload", *parts))


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "gwsload"


def _imports(path: Path) -> set[str]:
    """Absolute module names imported anywhere in the file (functions included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # ``from gwsload.x import y`` may name a module y
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in SRC.rglob("*.py")}
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        graph[name] |= {m for m in _imports(path) if m in modules and m != name}
    return graph


def _floor(room: str) -> int:
    for number, rooms in enumerate(FLOORS):
        if room in rooms:
            return number
    raise AssertionError(f"gwsload.{room} is on no floor: add it to FLOORS in {__file__}")


def test_imports_only_point_down() -> None:
    upward = []
    for module, targets in _graph().items():
        for target in targets:
            here, there = _room(module), _room(target)
            if here != there and _floor(there) >= _floor(here):
                upward.append(f"{module} -> {target}")
    assert not upward, "imports across or up a floor:\n" + "\n".join(sorted(upward))


def test_no_import_circles() -> None:
    graph = _graph()
    state: dict[str, int] = {}
    circles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                circles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    # a package's __init__ re-exporting its modules is not a circle of the code
    circles = [
        c for c in circles if not any(c[i].startswith(c[i + 1] + ".") for i in range(len(c) - 1))
    ]
    assert not circles, "\n".join(" -> ".join(c) for c in circles)


def test_the_contract_is_stdlib_and_pyarrow_only() -> None:
    for path in sorted((SRC / "contract").glob("*.py")):
        outside = {
            m
            for m in _imports(path)
            if m.split(".")[0] not in STDLIB
            and m.split(".")[0] != "pyarrow"
            and not m.startswith(("gwsload.contract", "gwsload.errors"))
            and m != "gwsload"
        }
        assert not outside, f"{path.name} imports {sorted(outside)}"


def test_the_launcher_never_loads_gevent_or_locust() -> None:
    modules = sorted(_module_name(p) for p in (SRC / "launcher").glob("*.py"))
    assert "gwsload.launcher.orchestrate" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'gevent', 'locust', 'zmq'}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"


def test_outside_bayeux_only_its_public_api_is_imported() -> None:
    private = sorted(
        f"{_module_name(path)} -> {name}"
        for path in SRC.rglob("*.py")
        if "bayeux" not in path.relative_to(SRC).parts
        for name in _imports(path)
        if name.startswith("gwsload.bayeux._")
    )
    assert not private, "import gwsload.bayeux instead:\n" + "\n".join(private)


def test_every_gws_client_error_has_one_root() -> None:
    for error in (GwsApiError, GwsTransportError, AgentError):
        assert issubclass(error, GwsError), error


def test_the_harness_keeps_no_run_state_in_module_globals() -> None:
    """Users reach their process's state through Locust's environment (run_state), as
    Locust's own runner is reached: a module-level instance would outlive a test."""
    found = []
    for path in sorted((SRC / "harness").glob("*.py")):
        classes = {
            node.name
            for node in ast.parse(path.read_text(encoding="utf-8")).body
            if isinstance(node, ast.ClassDef)
        }
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if (
                isinstance(node, ast.Assign | ast.AnnAssign)
                and isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Name)
                and node.value.func.id in classes
            ):
                found.append(f"{path.name}:{node.lineno}")
    assert not found
