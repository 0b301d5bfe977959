"""Agents of one process on shared keep-alive connections: about one socket per agent
(its held /meta/connect) instead of three, every operation still matched, and each
agent's identity (Basic auth, JSESSIONID, CSRF token) kept apart on pooled sockets."""

from __future__ import annotations

import os
import resource
from collections import Counter
from collections.abc import Iterator

import gevent
import psutil
import pytest

from gwsload.cometd import SharedConnections
from gwsload.cometd.transports.shared import ServerKey
from gwsload.contract.agents import generated_agent_name
from gwsload.gws.agent import Agent, AgentConfig
from gwsload.gws.outcomes import Outcome
from gwsload.simulator.process import SimulatorProcess

pytestmark = pytest.mark.gevent

AGENTS = 60


@pytest.fixture(scope="module")
def sim() -> Iterator[str]:
    args = ["--agents", str(2 * AGENTS), "--latency-ms", "1", "--answer-delay-ms", "20", "--csrf"]
    with SimulatorProcess(args) as s:
        yield s.url


def _log_in_and_cycle(
    url: str, first: int, connections: SharedConnections | None, outcomes: list[Outcome]
) -> tuple[list[Agent], int]:
    """Log AGENTS agents in, one recording cycle each; returns them (still logged in)
    and the process's open file descriptors with all of them holding their connects."""
    before = psutil.Process().num_fds()
    agents = [
        Agent(
            AgentConfig(
                base_url=url, user=generated_agent_name(first + i, 2 * AGENTS), password="gwsload"
            ),
            on_outcome=outcomes.append,
            connections=connections,
        )
        for i in range(AGENTS)
    ]

    def life(agent: Agent) -> None:
        agent.login()
        agent.establish_call()
        agent.record("StartCallRecording")
        agent.record("StopCallRecording")

    workers = [gevent.spawn(life, a) for a in agents]
    gevent.joinall(workers, timeout=60, raise_error=True)
    assert all(w.successful() for w in workers)
    return agents, psutil.Process().num_fds() - before


def _sign_off(agents: list[Agent]) -> None:
    gevent.joinall([gevent.spawn(a.logout) for a in agents], timeout=30)


def test_shared_connections_use_about_one_socket_per_agent(sim: str) -> None:
    shared_outcomes: list[Outcome] = []
    # a small pool, so the agents logging in all at once must take turns on it
    connections = SharedConnections(limit=8)
    agents, shared_fds = _log_in_and_cycle(sim, 1, connections, shared_outcomes)
    _sign_off(agents)
    connections.close()

    own_outcomes: list[Outcome] = []
    agents, own_fds = _log_in_and_cycle(sim, AGENTS + 1, None, own_outcomes)
    _sign_off(agents)

    # every operation matched on both: pooled sockets never mix up agents' sessions
    assert Counter(o.kind for o in shared_outcomes) == Counter(ok=2 * AGENTS)
    assert Counter(o.kind for o in own_outcomes) == Counter(ok=2 * AGENTS)
    assert {o.agent for o in shared_outcomes} == {
        generated_agent_name(i + 1, 2 * AGENTS) for i in range(AGENTS)
    }
    # the held connect is each agent's own; the rest shares a pool of a few sockets
    assert shared_fds < 1.5 * AGENTS, (shared_fds, own_fds)
    assert own_fds >= 2.5 * AGENTS, (shared_fds, own_fds)


def _time_waits_to(port: int) -> int:
    """Connections to ``port`` this machine closed first and still remembers (TIME_WAIT):
    one per keep-alive connection given up."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                if fields[3] == "06" and int(fields[2].rsplit(":", 1)[1], 16) == port:
                    count += 1
    return count


def test_a_pooled_socket_past_descriptor_1023_is_reused(sim: str) -> None:
    # select() cannot take a descriptor >= 1024; a liveness check built on it took every
    # such idle socket for dead and opened a new connection for each request
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip(f"needs an open-file limit >= 1200, have {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    fillers = []
    try:
        while not fillers or fillers[-1] < 1030:
            fillers.append(os.open(os.devnull, os.O_RDONLY))
        connections = SharedConnections(limit=1)
        port = int(sim.rsplit(":", 1)[1])
        key = ServerKey("127.0.0.1", port, False, True, None, 5.0, 5.0)
        client = connections.client(key)
        with client.slot() as http:
            http.get("/api/v2/me").read()  # the pool's one socket, past descriptor 1023
        before = _time_waits_to(port)
        for _ in range(10):
            with client.slot() as http:
                response = http.get("/api/v2/me")
                response.read()
                assert response.status_code == 401  # (no credentials: any answer will do)
        assert _time_waits_to(port) == before
        connections.close()
    finally:
        for fd in fillers:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
