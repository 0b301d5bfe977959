"""Run every ``bench/bench_*.py`` in turn: ``python -m bench [--full] [NAME ...]``.

Each benchmark is a script that prints its figures and writes a JSON record to
``bench/out/<name>.json``; by default they run in their short mode (``--quick``).
Benchmarks compare ratios measured within one run, because the machines they run
on are shared and noisy.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--full", action="store_true", help="run the long versions")
    parser.add_argument("names", nargs="*", help="benchmarks to run, e.g. analysis (default: all)")
    args = parser.parse_args()
    scripts = sorted(HERE.glob("bench_*.py"))
    if args.names:
        wanted = {f"bench_{n.removeprefix('bench_').removesuffix('.py')}.py" for n in args.names}
        unknown = wanted - {s.name for s in scripts}
        if unknown:
            print(f"unknown benchmark(s): {sorted(unknown)}; have {[s.name for s in scripts]}")
            return 2
        scripts = [s for s in scripts if s.name in wanted]
    failed = []
    for script in scripts:
        print(f"== {script.stem}", flush=True)
        started = time.perf_counter()
        command = [sys.executable, str(script)] + ([] if args.full else ["--quick"])
        code = subprocess.call(command, cwd=HERE.parent)
        print(f"== {script.stem}: exit {code} in {time.perf_counter() - started:.1f} s", flush=True)
        if code != 0:
            failed.append(script.stem)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
