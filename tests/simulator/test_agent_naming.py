"""One naming rule for generated agents: the harness logs in as the names the
simulator created, past 9,999 agents too."""

from __future__ import annotations

import pytest
from simhelpers import StartSim

from gwsload.contract.agents import AgentDirectory

pytestmark = pytest.mark.asyncio

AGENTS = 10_001


async def test_harness_names_log_in_to_the_simulator_past_9999(start_sim: StartSim) -> None:
    sim = await start_sim(agents=AGENTS)
    directory = AgentDirectory(generated=AGENTS, password="gwsload")
    names = []
    for slot in (0, 9_998, 9_999, AGENTS - 1):  # agents 1, 9,999, 10,000 and 10,001
        credentials = directory[slot]
        names.append(credentials.username)
        agent = sim.agent(credentials.username, credentials.password)
        status, me, _ = await agent.request("GET", "/api/v2/me")
        assert status == 200 and me["user"]["userName"] == credentials.username
        await agent.login()
        await agent.close()
    assert names == ["agent00001", "agent09999", "agent10000", "agent10001"]
