"""The gevent CometD client against third-party Bayeux servers from npm.

faye 1.4.3 (long-polling and websocket) and cometd-nodejs-server 1.2.1
(long-polling, with the acknowledgement extension) run as Node subprocesses on
127.0.0.1 (see tests/interop/node/*.js); each prints its port, and offers
test-only control endpoints: server-side publish, drop every session, and the
headers of the last request per channel.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gevent
import pytest
from geventhttpclient import HTTPClient

from gwsload.cometd import CometdClient, CometdError, Incident
from gwsload.cookies import CookieJar

pytestmark = pytest.mark.interop

NODE_DIR = Path(__file__).parent / "node"
NODE = shutil.which("node")
if NODE is None or not (NODE_DIR / "node_modules" / "faye").is_dir():
    pytest.skip("node or the npm peers (tests/interop/node) are missing", allow_module_level=True)

HEADERS = {
    "Authorization": "Basic YWdlbnQwMDAxOmd3c2xvYWQ=",
    "Origin": "http://agents.example",
    "X-CSRF-Token": "csrf-123",
}


@dataclass
class Peer:
    name: str
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/cometd"

    def _call(self, method: str, path: str, body: str = "") -> Any:
        client = HTTPClient("127.0.0.1", self.port, network_timeout=5)
        try:
            response = client.request(method, path, body=body)
            return json.loads(response.read())
        finally:
            client.close()

    def publish(self, channel: str, data: Any, count: int | None = None) -> None:
        query = f"channel={channel}" + (f"&count={count}" if count is not None else "")
        self._call("POST", f"/control/publish?{query}", json.dumps(data))

    def drop(self) -> int:
        return int(self._call("POST", "/control/drop")["dropped"])

    def seen(self) -> dict[str, dict[str, str | None]]:
        seen: dict[str, dict[str, str | None]] = self._call("GET", "/control/seen")
        return seen


def start_peer(script: str, *args: str) -> tuple[subprocess.Popen[str], Peer]:
    assert NODE is not None
    process = subprocess.Popen(
        [NODE, str(NODE_DIR / script), *args], stdout=subprocess.PIPE, text=True, cwd=NODE_DIR
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.kill()
        raise RuntimeError(f"{script} did not start")
    return process, Peer(script.removesuffix("_server.js"), json.loads(line)["port"])


def stop_peer(process: subprocess.Popen[str]) -> None:
    process.terminate()
    process.wait(timeout=10)


@contextlib.contextmanager
def running_peer(script: str, *args: str) -> Iterator[Peer]:
    process, peer = start_peer(script, *args)
    try:
        yield peer
    finally:
        stop_peer(process)


@pytest.fixture(scope="module")
def faye() -> Iterator[Peer]:
    with running_peer("faye_server.js", "--timeout", "1") as peer:
        yield peer


@pytest.fixture(scope="module")
def cometd() -> Iterator[Peer]:
    with running_peer("cometd_server.js", "--timeout", "1000") as peer:
        yield peer


# (peer fixture, transport, ack)
CASES = [
    pytest.param(("faye", "long-polling", False), id="faye-long-polling"),
    pytest.param(("faye", "websocket", False), id="faye-websocket"),
    pytest.param(("cometd", "long-polling", False), id="cometd-long-polling"),
    pytest.param(("cometd", "long-polling", True), id="cometd-long-polling-ack"),
]


@pytest.fixture(params=CASES)
def case(request: pytest.FixtureRequest) -> tuple[Peer, str, bool]:
    name, transport, ack = request.param
    peer: Peer = request.getfixturevalue(name)
    return peer, transport, ack


@pytest.fixture
def make_client(
    case: tuple[Peer, str, bool],
) -> Iterator[Callable[..., tuple[CometdClient, list[Incident]]]]:
    made: list[CometdClient] = []
    peer, transport, ack = case

    def make(**kw: Any) -> tuple[CometdClient, list[Incident]]:
        incidents: list[Incident] = []
        options: dict[str, Any] = {
            "headers": HEADERS,
            "on_incident": incidents.append,
            "ack": ack,
            **kw,
        }
        client = CometdClient(peer.url, transport, **options)  # type: ignore[arg-type]
        made.append(client)
        return client, incidents

    yield make
    for client in made:
        client.close()


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        gevent.sleep(0.02)


def test_round_trip_own_publish_and_server_publish(
    case: tuple[Peer, str, bool], make_client: Callable[..., Any]
) -> None:
    peer, transport, ack = case
    client, incidents = make_client()
    client.handshake(timeout=5)
    assert client.session.connection_type == transport
    assert client.session.ack_enabled is (ack and peer.name == "cometd")
    got: list[dict[str, Any]] = []
    client.subscribe("/probe", got.append)
    before = time.perf_counter()
    client.publish("/probe", {"from": "client"})
    peer.publish("/probe", {"from": "server"})
    wait_until(lambda: len(got) == 2)
    assert sorted(m["data"]["from"] for m in got) == ["client", "server"]
    for message in got:
        assert message["channel"] == "/probe"
        assert before <= message["_received"] <= time.perf_counter()
    assert incidents == []


def test_headers_and_cookies_reach_every_request(
    case: tuple[Peer, str, bool], make_client: Callable[..., Any]
) -> None:
    peer, _, _ = case
    jar = CookieJar()
    jar.set("JSESSIONID", "js-1")
    client, _ = make_client(cookies=jar)
    client.handshake(timeout=5)
    client.subscribe("/headers", lambda m: None)
    client.publish("/headers", {"n": 1})
    wait_until(lambda: "/meta/connect" in peer.seen())
    seen = peer.seen()
    for channel in ("/meta/handshake", "/meta/subscribe", "/meta/connect", "/headers"):
        headers = seen[channel]
        assert headers["authorization"] == HEADERS["Authorization"], channel
        assert headers["origin"] == HEADERS["Origin"], channel
        assert headers["x-csrf-token"] == HEADERS["X-CSRF-Token"], channel
        assert "JSESSIONID=js-1" in (headers["cookie"] or ""), channel
    if peer.name == "cometd":
        # CometD finds sessions through its cookie: the jar took it and sends it back
        assert jar.get("BAYEUX_BROWSER")
        assert f"BAYEUX_BROWSER={jar.get('BAYEUX_BROWSER')}" in (
            seen["/meta/connect"]["cookie"] or ""
        )


def test_lost_session_is_rebuilt_and_deliveries_resume(
    case: tuple[Peer, str, bool], make_client: Callable[..., Any]
) -> None:
    peer, _, _ = case
    client, incidents = make_client()
    client.handshake(timeout=5)
    got: list[dict[str, Any]] = []
    client.subscribe("/lost", got.append)
    first_id = client.client_id
    assert peer.drop() >= 1
    wait_until(lambda: client.connected and client.client_id != first_id, timeout=10)
    wait_until(lambda: any(i.kind == "rehandshake" for i in incidents), timeout=5)
    # the renewed subscription works: wait for it to land, then publish from the server
    wait_until(lambda: client.session.subscriptions == ("/lost",))
    deadline = time.monotonic() + 10
    while not got and time.monotonic() < deadline:
        peer.publish("/lost", {"after": "drop"})
        gevent.sleep(0.3)
    assert got and got[0]["data"] == {"after": "drop"}
    rehandshake = next(i for i in incidents if i.kind == "rehandshake")
    assert rehandshake.duration_ms is not None and rehandshake.duration_ms >= 0
    assert abs(rehandshake.ts - time.time()) < 30


def test_a_burst_arrives_complete_and_in_order(
    case: tuple[Peer, str, bool], make_client: Callable[..., Any]
) -> None:
    peer, _, _ = case
    client, incidents = make_client()
    client.handshake(timeout=5)
    got: list[int] = []
    client.subscribe("/burst", lambda m: got.append(m["data"]["n"]))
    peer.publish("/burst", {"burst": True}, count=200)
    wait_until(lambda: len(got) >= 200)
    gevent.sleep(0.2)  # nothing more may come
    assert got == list(range(200)) and incidents == []


def test_idle_connect_cycles_keep_the_session(
    case: tuple[Peer, str, bool], make_client: Callable[..., Any]
) -> None:
    peer, _, _ = case
    client, incidents = make_client()
    client.handshake(timeout=5)
    got: list[dict[str, Any]] = []
    client.subscribe("/idle", got.append)
    gevent.sleep(2.5)  # the servers hold /meta/connect 1 s here: two idle cycles
    assert client.connected and incidents == []
    peer.publish("/idle", {"n": 1})
    wait_until(lambda: len(got) == 1)


def test_unsubscribe_stops_deliveries(
    case: tuple[Peer, str, bool], make_client: Callable[..., Any]
) -> None:
    peer, _, _ = case
    client, _ = make_client()
    client.handshake(timeout=5)
    got: list[dict[str, Any]] = []
    marks: list[dict[str, Any]] = []
    client.subscribe("/unsub", got.append)
    client.subscribe("/marker", marks.append)
    client.unsubscribe("/unsub")
    peer.publish("/unsub", {"n": 1})
    peer.publish("/marker", {"n": 2})
    wait_until(lambda: len(marks) == 1)
    gevent.sleep(0.2)
    assert got == []


def test_wildcard_subscription(
    case: tuple[Peer, str, bool], make_client: Callable[..., Any]
) -> None:
    peer, _, _ = case
    client, _ = make_client()
    client.handshake(timeout=5)
    got: list[str] = []
    client.subscribe("/wild/**", lambda m: got.append(m["channel"]))
    peer.publish("/wild/a/b", {"n": 1})
    wait_until(lambda: got == ["/wild/a/b"])


def test_disconnect_ends_the_session_cleanly(
    case: tuple[Peer, str, bool], make_client: Callable[..., Any]
) -> None:
    client, incidents = make_client()
    client.handshake(timeout=5)
    client.disconnect(timeout=5)
    assert client.client_id is None and incidents == []
    with pytest.raises(CometdError, match="closed"):
        client.handshake(timeout=1)


def test_faye_refused_handshake_is_a_clear_error(faye: Peer) -> None:
    client = CometdClient(faye.url, headers={"X-Deny-Handshake": "1"})
    try:
        with pytest.raises(CometdError, match=r"refused by .*403::handshake_denied"):
            client.handshake(timeout=5)
    finally:
        client.close()


def test_cometd_clients_sharing_a_cookie_jar_get_multiple_clients_advice(cometd: Peer) -> None:
    jar = CookieJar()
    clients = [CometdClient(cometd.url, cookies=jar) for _ in range(2)]
    got: list[list[Any]] = [[], []]
    try:
        for client, sink in zip(clients, got, strict=True):
            client.handshake(timeout=5)
            client.subscribe("/shared", sink.append)
        wait_until(lambda: clients[1].session.advice.multiple_clients is True, timeout=5)
        cometd.publish("/shared", {"n": 1})
        # the second session polls every 2 s (advice interval) but still gets everything
        wait_until(lambda: all(len(g) == 1 for g in got), timeout=8)
    finally:
        for client in clients:
            client.close()


def test_handshake_to_a_closed_port_times_out_with_the_last_error() -> None:
    client = CometdClient("http://127.0.0.1:9/cometd", connect_timeout=1)
    try:
        with pytest.raises(CometdError, match=r"no handshake .* within 1 s; last error: .*"):
            client.handshake(timeout=1)
    finally:
        client.close()


@pytest.mark.parametrize(
    ("script", "transport", "hold"),
    [
        ("faye_server.js", "long-polling", ["--timeout", "1"]),
        ("faye_server.js", "websocket", ["--timeout", "1"]),
        ("cometd_server.js", "long-polling", ["--timeout", "1000"]),
    ],
)
def test_server_restart_is_survived(script: str, transport: str, hold: list[str]) -> None:
    """The server dies (connections reset, then refused) and comes back on the same
    port without the old sessions: transport errors, back-off, a new session, the
    subscription renewed."""
    process, peer = start_peer(script, *hold)
    incidents: list[Incident] = []
    client = CometdClient(
        peer.url,
        transport,  # type: ignore[arg-type]
        on_incident=incidents.append,
    )
    try:
        client.handshake(timeout=5)
        got: list[dict[str, Any]] = []
        client.subscribe("/restart", got.append)
        first = client.client_id
        stop_peer(process)
        wait_until(lambda: any(i.kind == "transport_error" for i in incidents), timeout=5)
        process, peer = start_peer(script, *hold, "--port", str(peer.port))
        wait_until(lambda: client.connected and client.client_id != first, timeout=15)
        wait_until(lambda: client.session.subscriptions == ("/restart",))
        deadline = time.monotonic() + 10
        while not got and time.monotonic() < deadline:
            peer.publish("/restart", {"after": "restart"})
            gevent.sleep(0.3)
        assert got and got[0]["data"] == {"after": "restart"}
        assert any(i.kind == "rehandshake" and i.duration_ms for i in incidents)
    finally:
        client.close()
        stop_peer(process)


@pytest.fixture(scope="module")
def tls_faye(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """faye over https/wss with a self-signed certificate for 127.0.0.1: (url, cert file)."""
    folder = tmp_path_factory.mktemp("tls")
    key, crt = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(crt)],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    with running_peer("faye_server.js", "--tls-key", str(key), "--tls-cert", str(crt)) as peer:
        yield f"https://127.0.0.1:{peer.port}/cometd", str(crt)


@pytest.mark.parametrize("transport", ["long-polling", "websocket"])
@pytest.mark.parametrize("trust", ["ca_file", "no_verify"])
def test_tls_with_a_lab_ca_or_without_verification(
    tls_faye: tuple[str, str], transport: str, trust: str
) -> None:
    url, cert = tls_faye
    options: dict[str, Any] = {"ca_file": cert} if trust == "ca_file" else {"verify_tls": False}
    client = CometdClient(url, transport, **options)  # type: ignore[arg-type]
    try:
        client.handshake(timeout=5)
        got: list[dict[str, Any]] = []
        client.subscribe("/tls", got.append)
        client.publish("/tls", {"secure": True})
        wait_until(lambda: len(got) == 1)
        assert got[0]["data"] == {"secure": True}
    finally:
        client.close()


@pytest.mark.parametrize("transport", ["long-polling", "websocket"])
def test_tls_certificate_not_trusted_is_a_clear_error(
    tls_faye: tuple[str, str], transport: str
) -> None:
    url, _ = tls_faye
    client = CometdClient(url, transport)  # type: ignore[arg-type]
    try:
        with pytest.raises(CometdError, match=r"(?i)certificate verify failed"):
            client.handshake(timeout=2)
    finally:
        client.close()
