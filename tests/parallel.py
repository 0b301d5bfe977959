"""Run the test suites as several pytest processes at once: ``python -m tests.parallel``.

Most integration tests wait (a run's stages, a simulator's hold, a restart) rather
than compute, so one pytest process leaves the machine idle most of the time. This
runner starts, at once:

- the gevent-free suites (tests/unit, tests/simulator, tests/analysis) as one process,
- the gevent suites (tests/integration, tests/interop) as ``--shards`` processes, their
  files dealt out by the seconds each took last time (``tests/suite_times.json``; a
  file not listed counts as the median),

then, alone on the machine, the files named in ``SERIAL`` (tests whose verdict is a
comparison of two runs' timings, which a neighbour's CPU would skew). Each process
writes its own log; a line says when each ends, and the log of every process that
failed is printed in full. Exit status: 0 when every process passed, else 1.

``--record`` rewrites ``tests/suite_times.json`` from this run's JUnit files.
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIMES = ROOT / "tests" / "suite_times.json"
GEVENT_FREE = ("tests/unit", "tests/simulator", "tests/analysis")
GEVENT = ("tests/integration", "tests/interop")
#: a run compared with another run of the same test: they must have the machine alone
SERIAL = ("tests/integration/test_compare_real_runs.py",)


@dataclass
class Suite:
    """One pytest process: its name, arguments and (once started) its process and log."""

    name: str
    args: list[str]
    log: Path = field(default_factory=Path)
    started: float = 0.0
    process: subprocess.Popen[bytes] | None = None
    code: int | None = None
    junit: Path = field(default_factory=Path)


def deal(files: list[str], times: dict[str, float], shards: int) -> list[list[str]]:
    """Longest first, each to the shard with the least seconds so far."""
    known = [t for f, t in times.items() if f in files]
    default = statistics.median(known) if known else 10.0
    loads = [0.0] * shards
    dealt: list[list[str]] = [[] for _ in range(shards)]
    for path in sorted(files, key=lambda f: (-times.get(f, default), f)):
        lightest = loads.index(min(loads))
        dealt[lightest].append(path)
        loads[lightest] += times.get(path, default)
    return [sorted(shard) for shard in dealt if shard]


def test_files(folders: tuple[str, ...]) -> list[str]:
    return sorted(
        str(p.relative_to(ROOT)) for folder in folders for p in (ROOT / folder).rglob("test_*.py")
    )


def _pytest(*args: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]


def plan(shards: int, extra: list[str]) -> tuple[list[Suite], list[Suite]]:
    """(the suites that run at once, the suites that run alone afterwards)."""
    times = json.loads(TIMES.read_text("utf-8")) if TIMES.exists() else {}
    gevent_files = [f for f in test_files(GEVENT) if f not in SERIAL]
    together = [Suite("unit, simulator, analysis", _pytest(*extra, *GEVENT_FREE))]
    dealt = deal(gevent_files, times, shards)
    for i, files in enumerate(dealt):
        name = f"gevent {i + 1}/{len(dealt)}"
        together.append(Suite(name, _pytest("-p", "tests.gevent_first", *extra, *files)))
    alone = [Suite("gevent, alone", _pytest("-p", "tests.gevent_first", *extra, *SERIAL))]
    return together, alone


def start(suite: Suite, logs: Path, index: int) -> None:
    suite.log = logs / f"suite-{index}.log"
    suite.junit = logs / f"suite-{index}.xml"
    suite.started = time.monotonic()
    with suite.log.open("wb") as log:
        suite.process = subprocess.Popen(
            [*suite.args, f"--junitxml={suite.junit}"],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    files = sum(1 for a in suite.args if a.endswith(".py") and a.startswith("tests/"))
    what = f"{files} test files" if files else " ".join(a for a in suite.args if a in GEVENT_FREE)
    print(f"[{suite.name}] started: {what}; log {suite.log}", flush=True)


def _last_line(log: Path) -> str:
    lines = [line for line in log.read_text("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1].strip("= ") if lines else "(no output)"


def wait_all(suites: list[Suite]) -> None:
    running = list(suites)
    while running:
        time.sleep(0.5)
        for suite in list(running):
            assert suite.process is not None
            code = suite.process.poll()
            if code is None:
                continue
            suite.code = code
            running.remove(suite)
            took = time.monotonic() - suite.started
            verdict = "passed" if code == 0 else f"FAILED (exit {code})"
            print(
                f"[{suite.name}] {verdict} after {took:.0f} s: {_last_line(suite.log)}", flush=True
            )


def file_times(junits: list[Path]) -> dict[str, float]:
    """Seconds per test file, summed over its test cases in the JUnit files."""
    seconds: dict[str, float] = {}
    for junit in junits:
        if not junit.exists():
            continue
        for case in ET.parse(junit).getroot().iter("testcase"):
            classname = case.get("classname", "")
            parts = classname.split(".")
            # "tests.integration.test_x" or "tests.integration.test_x.TestClass"
            module = next(
                (".".join(parts[:i]) for i in range(len(parts), 0, -1)
                 if (ROOT / ("/".join(parts[:i]) + ".py")).exists()),
                "",
            )  # fmt: skip
            if module:
                path = module.replace(".", "/") + ".py"
                seconds[path] = seconds.get(path, 0.0) + float(case.get("time", 0) or 0)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.parallel", description=__doc__)
    parser.add_argument("--shards", type=int, default=2, help="gevent processes (default 2)")
    parser.add_argument("--record", action="store_true", help="rewrite tests/suite_times.json")
    parser.add_argument("pytest_args", nargs="*", help="more pytest arguments, after --")
    args = parser.parse_args()
    if args.shards < 1:
        print(f"--shards must be at least 1, got {args.shards}", file=sys.stderr)
        return 2
    together, alone = plan(args.shards, args.pytest_args)
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="gwsload-tests-") as tmp:
        logs = Path(tmp)
        for i, suite in enumerate(together):
            start(suite, logs, i)
        try:
            wait_all(together)
            for j, suite in enumerate(alone):
                start(suite, logs, len(together) + j)
                wait_all([suite])
        finally:
            for suite in [*together, *alone]:
                if suite.process is not None and suite.process.poll() is None:
                    # interrupted: on SIGINT pytest tears its fixtures (and processes) down
                    suite.process.send_signal(signal.SIGINT)
                    try:
                        suite.process.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        suite.process.kill()
        suites = [*together, *alone]
        for suite in suites:
            if suite.code != 0:
                print(f"\n===== log of [{suite.name}] =====", flush=True)
                sys.stdout.write(suite.log.read_text("utf-8", "replace"))
        if args.record:
            TIMES.write_text(
                json.dumps(dict(sorted(file_times([s.junit for s in suites]).items())), indent=1)
                + "\n",
                encoding="utf-8",
            )
            print(f"wrote {TIMES}")
    failed = [s.name for s in suites if s.code != 0]
    took = time.monotonic() - began
    print(f"{len(suites) - len(failed)} of {len(suites)} test processes passed in {took:.0f} s")
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
