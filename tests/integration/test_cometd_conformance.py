"""One conformance suite for the CometD client, over every transport and server.

Backends: the real simulator (a subprocess) over long-polling and websocket, and
the in-memory transport over the same ``ServerEngine`` (both connection types).
Each backend gives a client factory and a way to make the server send this
client's user one event on ``/v2/me/devices`` (the simulator: a REST user-state
change; memory: an engine publish). The "lossy" backends lose sessions: the
memory server drops them on demand, the simulator expires them every 1.5 s.
"""

from __future__ import annotations

import base64
import gc
import itertools
import json
import time
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import gevent
import psutil
import pytest
from gevent import Greenlet
from geventhttpclient import HTTPClient

from gwsload.bayeux._client_events import Batch, Lane
from gwsload.cometd import CometdClient, CometdError, CometdSettingError, Incident
from gwsload.cometd.client import TransportName
from gwsload.cometd.transports.memory import MemoryServer, MemoryTransport
from gwsload.contract.operations import TRANSPORTS
from gwsload.cookies import CookieJar
from gwsload.simulator.process import SimulatorProcess

pytestmark = pytest.mark.gevent

EVENT_CHANNEL = "/v2/me/devices"
_agent_numbers = itertools.count(1)


@dataclass
class Backend:
    name: str
    make: Callable[[list[Incident]], CometdClient]
    #: make the server send one event on EVENT_CHANNEL to the last client made
    trigger: Callable[[], None]
    #: make the server lose the client's session (None: it happens by itself)
    drop: Callable[[], None] | None = None


class SimAgent:
    """One simulator agent's REST session (Basic auth, then JSESSIONID in the jar)."""

    def __init__(self, base_url: str, username: str) -> None:
        parts = urlsplit(base_url)
        assert parts.hostname is not None and parts.port is not None
        self.jar = CookieJar()
        token = base64.b64encode(f"{username}:gwsload".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}"}
        self._http = HTTPClient(parts.hostname, parts.port, network_timeout=10)
        self._ready = False

    def post(self, path: str, body: dict[str, Any]) -> None:
        headers = {**self.headers, "Content-Type": "application/json"}
        if self.jar.header():
            headers["Cookie"] = self.jar.header()
        response = self._http.post(path, body=json.dumps(body), headers=headers)
        text = response.read()
        self.jar.update(response.info().getlist("set-cookie"))
        assert response.status_code == 200, (path, response.status_code, text)

    def start(self) -> SimAgent:
        self.post(
            "/api/v2/me", {"operationName": "StartContactCenterSession", "channels": ["voice"]}
        )
        return self

    def toggle(self) -> None:
        self._ready = not self._ready
        self.post(
            "/api/v2/me/channels/voice", {"operationName": "Ready" if self._ready else "NotReady"}
        )

    def close(self) -> None:
        self._http.close()


@pytest.fixture(scope="module")
def simulator() -> Iterator[SimulatorProcess]:
    with SimulatorProcess(["--websocket", "--agents", "200", "--cometd-timeout-ms", "1000"]) as sim:
        yield sim


@pytest.fixture(scope="module")
def expiring_simulator() -> Iterator[SimulatorProcess]:
    args = ["--websocket", "--agents", "1", "--cometd-timeout-ms", "1000",
            "--expire-sessions-every-s", "1.5"]  # fmt: skip
    with SimulatorProcess(args) as sim:
        yield sim


def simulator_backend(
    sim: SimulatorProcess,
    transport: str,
    name: str,
    agents: list[SimAgent],
    username: str | None = None,
) -> Backend:
    holder: dict[str, SimAgent] = {}

    def make(incidents: list[Incident]) -> CometdClient:
        user = username or f"agent{next(_agent_numbers):04d}"
        agent = SimAgent(sim.url, user).start()
        agents.append(agent)
        holder["agent"] = agent
        return CometdClient(
            sim.url + "/api/v2/notifications",
            transport,  # type: ignore[arg-type]
            headers=agent.headers,
            cookies=agent.jar,
            on_incident=incidents.append,
        )

    def trigger() -> None:  # the agent of the last client made
        holder["agent"].toggle()

    return Backend(name, make, trigger)


def memory_backend(server: MemoryServer, transport: str) -> Backend:
    def make(incidents: list[Incident]) -> CometdClient:
        return CometdClient("memory://", server.transport(transport), on_incident=incidents.append)

    def trigger() -> None:
        server.publish(EVENT_CHANNEL, {"messageType": "DeviceStateChangeMessage"})

    return Backend(f"memory-{transport}", make, trigger, server.drop_sessions)


@pytest.fixture(params=[f"{kind}-{t}" for kind in ("simulator", "memory") for t in TRANSPORTS])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    kind, transport = request.param.split("-", 1)
    agents: list[SimAgent] = []
    if kind == "simulator":
        sim = request.getfixturevalue("simulator")
        yield simulator_backend(sim, transport, request.param, agents)
    else:
        yield memory_backend(MemoryServer(timeout_ms=1000), transport)
    for agent in agents:
        agent.close()


@pytest.fixture(params=[f"{kind}-{t}" for kind in ("simulator", "memory") for t in TRANSPORTS])
def lossy_backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    kind, transport = request.param.split("-", 1)
    agents: list[SimAgent] = []
    if kind == "simulator":
        sim = request.getfixturevalue("expiring_simulator")
        yield simulator_backend(sim, transport, request.param, agents, username="agent0001")
    else:
        yield memory_backend(MemoryServer(timeout_ms=1000), transport)
    for agent in agents:
        agent.close()


@pytest.fixture
def clients() -> Iterator[list[CometdClient]]:
    made: list[CometdClient] = []
    yield made
    for client in made:
        client.close()


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        gevent.sleep(0.02)


def connected(backend: Backend, clients: list[CometdClient]) -> tuple[CometdClient, list[Incident]]:
    incidents: list[Incident] = []
    client = backend.make(incidents)
    clients.append(client)
    client.handshake(timeout=5)
    return client, incidents


def test_delivery_is_the_whole_message_stamped_on_arrival(
    backend: Backend, clients: list[CometdClient]
) -> None:
    client, incidents = connected(backend, clients)
    got: list[dict[str, Any]] = []
    client.subscribe(EVENT_CHANNEL, got.append)
    before = time.perf_counter()
    backend.trigger()
    wait_until(lambda: len(got) == 1)
    message = got[0]
    assert message["channel"] == EVENT_CHANNEL
    assert message["data"]["messageType"] == "DeviceStateChangeMessage"
    assert before <= message["_received"] <= time.perf_counter()
    assert incidents == []


def test_own_publish_comes_back(backend: Backend, clients: list[CometdClient]) -> None:
    client, _ = connected(backend, clients)
    got: list[dict[str, Any]] = []
    client.subscribe("/conformance/echo", got.append)
    client.publish("/conformance/echo", {"k": 1})
    wait_until(lambda: len(got) == 1)
    assert got[0]["data"] == {"k": 1}


def test_wildcard_subscription_receives_matching_channels(
    backend: Backend, clients: list[CometdClient]
) -> None:
    client, _ = connected(backend, clients)
    channels: list[str] = []
    client.subscribe("/v2/me/**", lambda m: channels.append(m["channel"]))
    backend.trigger()
    wait_until(lambda: channels == [EVENT_CHANNEL])


def test_idle_connect_cycles_keep_the_session(
    backend: Backend, clients: list[CometdClient]
) -> None:
    client, incidents = connected(backend, clients)
    got: list[dict[str, Any]] = []
    client.subscribe(EVENT_CHANNEL, got.append)
    first = client.client_id
    gevent.sleep(2.5)  # connects are held 1 s here: two idle cycles
    assert client.connected and client.client_id == first and incidents == []
    backend.trigger()
    wait_until(lambda: len(got) == 1)


def test_disconnect_ends_the_session(backend: Backend, clients: list[CometdClient]) -> None:
    client, incidents = connected(backend, clients)
    client.subscribe(EVENT_CHANNEL, lambda m: None)
    client.disconnect(timeout=5)
    assert client.client_id is None and incidents == []
    with pytest.raises(CometdError):
        client.subscribe(EVENT_CHANNEL, lambda m: None)


def test_illegal_subscription_is_a_clear_error(
    backend: Backend, clients: list[CometdClient]
) -> None:
    client, _ = connected(backend, clients)
    with pytest.raises(CometdError, match=r"cannot subscribe to '/meta/connect'"):
        client.subscribe("/meta/connect", lambda m: None)


def test_lost_session_is_rebuilt_and_reported(
    lossy_backend: Backend, clients: list[CometdClient]
) -> None:
    client, incidents = connected(lossy_backend, clients)
    got: list[dict[str, Any]] = []
    client.subscribe(EVENT_CHANNEL, got.append)
    first = client.client_id
    if lossy_backend.drop is not None:
        lossy_backend.drop()
    wait_until(lambda: any(i.kind == "rehandshake" for i in incidents), timeout=8)
    wait_until(lambda: client.connected and client.client_id != first)
    rehandshake = next(i for i in incidents if i.kind == "rehandshake")
    assert rehandshake.duration_ms is not None and rehandshake.duration_ms >= 0
    assert "session_unknown" in rehandshake.detail or "transport" in rehandshake.detail
    # the subscription was renewed: events flow again (retry: the simulator may expire again)
    deadline = time.monotonic() + 10
    while not got and time.monotonic() < deadline:
        lossy_backend.trigger()
        gevent.sleep(0.3)
    assert got


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_unreachable_server_reconnects_on_the_same_session(
    transport: str, clients: list[CometdClient]
) -> None:
    server = MemoryServer(timeout_ms=1000, max_interval_ms=30_000)
    incidents: list[Incident] = []
    client = CometdClient("memory://", server.transport(transport), on_incident=incidents.append)
    clients.append(client)
    client.handshake(timeout=5)
    first = client.client_id
    got: list[dict[str, Any]] = []
    client.subscribe(EVENT_CHANNEL, got.append)
    server.reachable = False
    wait_until(lambda: any(i.kind == "transport_error" for i in incidents), timeout=5)
    server.reachable = True
    wait_until(lambda: any(i.kind == "reconnect" for i in incidents), timeout=10)
    assert client.client_id == first
    server.publish(EVENT_CHANNEL, {"n": 1})
    wait_until(lambda: len(got) == 1)


def test_publish_is_not_stuck_behind_the_held_connect(clients: list[CometdClient]) -> None:
    server = MemoryServer(timeout_ms=30_000)
    client = CometdClient("memory://", server.transport("long-polling"))
    clients.append(client)
    client.handshake(timeout=5)
    wait_until(lambda: server.engine.held_connect(client.client_id or "") is not None)
    client.publish("/conformance/other", {"k": 1})
    # answered while the connect is still held on its own lane
    assert server.engine.held_connect(client.client_id or "") is not None


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_handshake_refused_by_http_401_is_a_clear_error(
    simulator: SimulatorProcess, transport: str
) -> None:
    bad = base64.b64encode(b"agent0001:wrong").decode()
    client = CometdClient(
        simulator.url + "/api/v2/notifications",
        transport,  # type: ignore[arg-type]
        headers={"Authorization": f"Basic {bad}"},
    )
    try:
        with pytest.raises(CometdError, match=r"handshake refused: .*401"):
            client.handshake(timeout=5)
    finally:
        client.close()


def _live_greenlets() -> int:
    return sum(1 for o in gc.get_objects() if isinstance(o, Greenlet) and not o.dead)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_no_socket_or_greenlet_left_after_close(
    simulator: SimulatorProcess, transport: str
) -> None:
    me = psutil.Process()
    gevent.sleep(0)  # the hub's own descriptors (epoll, eventfd) belong to the baseline
    gc.collect()
    fds_before, greenlets_before = me.num_fds(), _live_greenlets()
    agents: list[SimAgent] = []
    made: list[CometdClient] = []
    for _ in range(10):
        backend = simulator_backend(simulator, transport, transport, agents)
        client, _ = connected(backend, made)
        client.subscribe(EVENT_CHANNEL, lambda m: None)
    assert me.num_fds() >= fds_before + 10  # each client holds at least one socket
    for n, client in enumerate(made):
        client.disconnect(timeout=5) if n % 2 else client.close()
    for agent in agents:
        agent.close()
    gevent.sleep(0.2)  # let the killed listeners unwind
    gc.collect()
    assert me.num_fds() <= fds_before
    assert _live_greenlets() <= greenlets_before


@pytest.mark.parametrize(
    ("url", "transport", "expected"),
    [
        ("http://127.0.0.1:1/cometd", "ws", r"transport must be one of \['long-polling', "),
        ("ftp://127.0.0.1/cometd", "long-polling", r"long-polling URL must be http"),
        ("127.0.0.1:8080/cometd", "websocket", r"websocket URL must be http\(s\)://"),
    ],
)
def test_bad_transport_or_url_is_a_setting_error(url: str, transport: str, expected: str) -> None:
    with pytest.raises(CometdSettingError, match=expected):
        CometdClient(url, transport)  # type: ignore[arg-type]


def test_a_starved_process_reports_a_listener_gap(clients: list[CometdClient]) -> None:
    # connects every 2 s (advice interval); the process is then kept busy past the due time
    server = MemoryServer(timeout_ms=100, interval_ms=2000)
    incidents: list[Incident] = []
    client = CometdClient(
        "memory://", server.transport("long-polling"), on_incident=incidents.append
    )
    clients.append(client)
    client.handshake(timeout=5)
    wait_until(lambda: client.connected)
    busy_until = time.monotonic() + 3.5
    while time.monotonic() < busy_until:  # blocks the hub, whatever is monkey-patched
        pass
    wait_until(lambda: any(i.kind == "listener_gap" for i in incidents), timeout=3)
    gap = next(i for i in incidents if i.kind == "listener_gap")
    assert gap.duration_ms is not None and gap.duration_ms > 1000
    assert client.connected


class _SlowImmediateLane(MemoryTransport):
    """An immediate lane that takes 1.5 s per exchange; counts connects sent."""

    def __init__(self, server: MemoryServer) -> None:
        super().__init__(server, "long-polling")
        self.connects = 0
        self.slow = False

    def send(self, batch: Batch, timeout: float) -> None:
        if batch.lane is Lane.CONNECT:
            self.connects += 1
        elif self.slow:
            gevent.sleep(1.5)
        super().send(batch, timeout)


def test_connects_do_not_wait_behind_a_slow_immediate_exchange(clients: list[CometdClient]) -> None:
    server = MemoryServer(timeout_ms=100)
    transport = _SlowImmediateLane(server)
    client = CometdClient("memory://", transport)
    clients.append(client)
    client.handshake(timeout=5)
    wait_until(lambda: client.connected)
    transport.slow = True
    before = transport.connects
    publisher = gevent.spawn(client.publish, "/conformance/slow", {"k": 1})
    gevent.sleep(1.0)  # the publish is still in its exchange
    assert not publisher.ready()
    assert transport.connects - before >= 3  # connects held 0.1 s kept cycling meanwhile
    publisher.get(timeout=5)


def test_websocket_against_a_long_polling_only_server_says_so_in_one_line() -> None:
    # the simulator's default, as GWS 8.5: long-polling only
    with SimulatorProcess(["--agents", "1"]) as sim:
        agent = SimAgent(sim.url, "agent0001").start()
        client = CometdClient(
            sim.url + "/api/v2/notifications", "websocket", headers=agent.headers, cookies=agent.jar
        )
        try:
            with pytest.raises(CometdError) as error:
                client.handshake(timeout=3)
        finally:
            client.close()
            agent.close()
    message = str(error.value)
    assert "does not offer CometD over websocket" in message and "long-polling" in message
    assert "\n" not in message


def test_the_clients_transport_names_are_the_contracts() -> None:
    assert typing.get_args(TransportName) == TRANSPORTS
