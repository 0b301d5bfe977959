"""Fixtures for the simulator tests: ``start_sim(**options)`` serves a real simulator on
loopback and stops it at teardown (see ``simhelpers`` for ``Sim`` and ``GwsAgent``).

Async test modules here set ``pytestmark = pytest.mark.asyncio`` (pytest-asyncio strict mode).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
from aiohttp.test_utils import TestServer
from simhelpers import Sim, StartSim

from gwsload.simulator.app import NODE, build_app
from gwsload.simulator.options import SimulatorOptions


@pytest_asyncio.fixture
async def start_sim() -> AsyncIterator[StartSim]:
    """``await start_sim(agents=5, latency_ms=1, endpoint=...)``; stopped at teardown."""
    started: list[Sim] = []

    async def start(*, endpoint: Any = None, **overrides: Any) -> Sim:
        overrides.setdefault("agents", 20)
        overrides.setdefault("answer_delay_ms", 20.0)
        options = SimulatorOptions(**overrides).check()
        app = build_app(options, endpoint=endpoint)
        server = TestServer(app, host="127.0.0.1", port=0)
        await server.start_server()
        sim = Sim(server, app[NODE])
        started.append(sim)
        return sim

    yield start
    for sim in started:
        await sim.close()
