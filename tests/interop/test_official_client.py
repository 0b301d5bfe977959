"""The official CometD JavaScript client (npm cometd 9 + cometd-nodejs-client 2) against
the simulator, over long-polling and websocket, with and without the ack extension.

An agent logs in over REST (Basic auth; the simulator answers with a JSESSIONID
cookie), the node client subscribes to /v2/me/calls with those credentials
(long-polling: the Authorization header; websocket upgrade: the cookie alone),
then the agent makes a call and starts and stops recording; the node client
must print the two CallRecordingStateChange notifications, Recording then Stopped.
"""

from __future__ import annotations

import base64
import http.cookiejar
import json
import queue
import shutil
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gwsload.simulator.process import SimulatorProcess

NODE_DIR = Path(__file__).parent / "node"
SCRIPT = NODE_DIR / "official_client.js"
PASSWORD = "gwsload"

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed"),
    pytest.mark.skipif(
        not (NODE_DIR / "node_modules" / "cometd").is_dir()
        or not (NODE_DIR / "node_modules" / "cometd-nodejs-client").is_dir(),
        reason="npm packages cometd / cometd-nodejs-client are not installed in tests/interop/node",
    ),
]


@pytest.fixture(scope="module")
def simulator() -> Iterator[SimulatorProcess]:
    with SimulatorProcess(["--websocket", "--agents", "8", "--answer-delay-ms", "20"]) as sim:
        yield sim


class Agent:
    """A GWS agent over urllib: Basic credentials and a cookie jar."""

    def __init__(self, base_url: str, username: str) -> None:
        self.base_url = base_url
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        token = base64.b64encode(f"{username}:{PASSWORD}".encode()).decode()
        self.authorization = f"Basic {token}"

    def request(self, method: str, path: str, body: Any = None) -> Any:
        request = urllib.request.Request(
            self.base_url + path,
            method=method,
            headers={"Authorization": self.authorization, "Content-Type": "application/json"},
            data=json.dumps(body).encode() if body is not None else None,
        )
        with self.opener.open(request, timeout=10) as response:
            return json.loads(response.read())

    def post_ok(self, path: str, body: Any) -> None:
        assert self.request("POST", path, body) == {"statusCode": 0}, (path, body)

    @property
    def cookie(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.jar)


class NodeClient:
    """The node script as a child process; its JSON lines arrive on a queue."""

    def __init__(self, args: list[str]) -> None:
        self.proc = subprocess.Popen(
            ["node", str(SCRIPT), *args], cwd=NODE_DIR, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if not line.startswith("{"):
                continue  # the client's own log lines are not ours
            try:
                self.lines.put(json.loads(line))
            except ValueError:
                continue

    def wait_for(self, what: str, predicate: Any, limit_s: float = 15.0) -> dict[str, Any]:
        deadline = time.monotonic() + limit_s
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                item = self.lines.get(timeout=remaining)
            except queue.Empty:
                break
            self.seen.append(item)
            if predicate(item):
                return item
        raise AssertionError(
            f"node client: no {what} within {limit_s} s; saw {self.seen!r}; stderr: {self.stop()!r}"
        )

    def stop(self) -> str:
        """Close stdin (the client disconnects), then terminate by pid if needed."""
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        assert self.proc.stderr is not None
        return self.proc.stderr.read()[-2000:]


def recording_state(item: dict[str, Any], call_id: str) -> str | None:
    data = item.get("data") or {}
    call = data.get("call") or {}
    if (
        item.get("event") == "message"
        and data.get("notificationType") == "CallRecordingStateChange"
        and call.get("id") == call_id
    ):
        state: str = call.get("recordingState")
        return state
    return None


@pytest.mark.parametrize(
    ("transport", "ack", "username"),
    [
        ("long-polling", False, "agent0001"),
        ("long-polling", True, "agent0002"),
        ("websocket", False, "agent0003"),
        ("websocket", True, "agent0004"),
    ],
)
def test_official_client_receives_recording_notifications(
    simulator: SimulatorProcess, transport: str, ack: bool, username: str
) -> None:
    agent = Agent(simulator.url, username)
    assert agent.request("GET", "/api/v2/me")["statusCode"] == 0
    assert "JSESSIONID=" in agent.cookie
    agent.post_ok(
        "/api/v2/me", {"operationName": "StartContactCenterSession", "channels": ["voice"]}
    )
    client = NodeClient(
        [
            simulator.url + "/api/v2/notifications",
            transport,
            "ack" if ack else "noack",
            agent.cookie,
            agent.authorization if transport == "long-polling" else "",
        ]
    )
    try:
        subscribed = client.wait_for("subscription", lambda i: i.get("event") == "subscribed")
        assert subscribed == {"event": "subscribed", "transport": transport, "ack": ack}

        device_id = agent.request("GET", "/api/v2/me/devices?fields=*")["devices"][0]["id"]
        agent.post_ok(
            f"/api/v2/me/devices/{device_id}/calls",
            {"operationName": "Dial", "destination": {"phoneNumber": "15002"}},
        )
        established = client.wait_for(
            "Established call",
            lambda i: (i.get("data") or {}).get("call", {}).get("state") == "Established",
        )
        call_id = established["data"]["call"]["id"]

        agent.post_ok(f"/api/v2/me/calls/{call_id}", {"operationName": "StartCallRecording"})
        recording = client.wait_for("Recording", lambda i: recording_state(i, call_id) is not None)
        agent.post_ok(f"/api/v2/me/calls/{call_id}", {"operationName": "StopCallRecording"})
        stopped = client.wait_for("Stopped", lambda i: recording_state(i, call_id) == "Stopped")
        assert recording_state(recording, call_id) == "Recording"
        assert recording["channel"] == stopped["channel"] == "/v2/me/calls"
        assert [
            recording_state(i, call_id) for i in client.seen if recording_state(i, call_id)
        ] == ["Recording", "Stopped"]
        assert [i for i in client.seen if i.get("event") == "failure"] == []
    finally:
        client.stop()
