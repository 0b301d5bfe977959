"""Test-suite guards shared by every folder.

The simulator, the pure core and the analysis must work in a process that never
imported gevent (the simulator runs on asyncio; the reports run on machines
without the load generator). Their tests run in one pytest process and the
gevent-based tests in another; this hook fails a process that mixes them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import settings

# CI runs the property tests on a fixed seed, so a submission's verdict does not
# depend on the draw; local runs keep exploring new examples.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

_GEVENT_FREE = ("unit", "simulator", "analysis")
_TESTS = Path(__file__).resolve().parent


def pytest_collection_finish(session: pytest.Session) -> None:
    folders = set()
    for item in session.items:
        try:
            folders.add(Path(str(item.path)).resolve().relative_to(_TESTS).parts[0])
        except ValueError:
            continue
    gevent_free = folders.intersection(_GEVENT_FREE)
    if gevent_free and "gevent" in sys.modules:
        raise pytest.UsageError(
            f"gevent was imported while collecting tests/{sorted(gevent_free)}: those tests "
            "must not import gevent or locust (run tests/integration and tests/interop "
            "in a separate pytest process)"
        )
